// libFuzzer target for the CSV parser of the customer import (server/records/src/csv.cpp, header pvfleet/records/csv.hpp). Properties:
//  - no crash, leak, hang or undefined behaviour on any bytes (sanitizers);
//  - every problem has a message; record line numbers start at 1 and never go backwards;
//  - a document without problems re-encodes (every field quoted, quotes doubled) and parses back to the same
//    records (fields containing CR are left out: CRLF inside a quoted field is one line break by design).
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "pvfleet/records/csv.hpp"

using pvfleet::records::detail::CsvDocument;
using pvfleet::records::detail::parse_csv;

namespace {
[[noreturn]] void fail(const char* what, const std::string& detail) {
    std::fprintf(stderr, "fuzz_csv_import: %s: %s\n", what, detail.c_str());
    std::abort();
}

std::string encode(const CsvDocument& doc) {
    std::string out;
    for (const auto& record : doc.records) {
        for (std::size_t i = 0; i < record.fields.size(); ++i) {
            if (i > 0) out += ',';
            out += '"';
            for (char c : record.fields[i]) out += c == '"' ? std::string("\"\"") : std::string(1, c);
            out += '"';
        }
        out += "\r\n";
    }
    return out;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    const CsvDocument doc = parse_csv(text);
    int last_line = 1;
    for (const auto& p : doc.problems)
        if (p.message.empty() || p.line < 1) fail("problem without a message or line", std::to_string(p.line));
    bool has_cr = false;
    for (const auto& record : doc.records) {
        if (record.line < last_line) fail("record lines go backwards", std::to_string(record.line));
        last_line = record.line;
        if (record.fields.empty()) fail("record without fields", std::to_string(record.line));
        for (const auto& f : record.fields) has_cr = has_cr || f.find('\r') != std::string::npos;
    }
    if (!doc.problems.empty() || has_cr) return 0;
    const CsvDocument again = parse_csv(encode(doc));
    if (!again.problems.empty()) fail("re-encoded document has problems", again.problems[0].message);
    if (again.records.size() != doc.records.size()) fail("round trip changed the record count", encode(doc));
    for (std::size_t i = 0; i < doc.records.size(); ++i)
        if (again.records[i].fields != doc.records[i].fields) fail("round trip changed a record", encode(doc));
    return 0;
}
