// One reading as stored in a raw row of telemetry_raw.
#include <charconv>
#include <cmath>
#include <cstdio>

#include "ledger_parts.hpp"

namespace pvfleet::ingest {
namespace {

void append_json_string(std::string& out, std::string_view s) {
    out += '"';
    for (const char c : s) {
        switch (c) {
            case '"': out += "\\\""; break;
            case '\\': out += "\\\\"; break;
            default:
                if (static_cast<unsigned char>(c) < 0x20) {
                    char buf[8];
                    std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned>(static_cast<unsigned char>(c)));
                    out += buf;
                } else {
                    out += c;
                }
        }
    }
    out += '"';
}

void append_json_number(std::string& out, double v) {
    if (!std::isfinite(v)) {  // JSON has no NaN or infinity
        out += "null";
        return;
    }
    char buf[32];
    const auto r = std::to_chars(buf, buf + sizeof buf, v);  // shortest text that reads back as v
    out.append(buf, r.ptr);
}

}  // namespace

// One reading as stored in a raw row: {"t":ms,"values":{…},"arrays":{…},"state":"…","events":[…]}, the keys in
// this order and each left out when empty. Written straight into the row's text rather than through a JSON tree
// or a string per reading: it runs for every reading ingested.
void append_sample_json(std::string& out, const domain::Sample& s) {
    out += "{\"t\":";
    out += std::to_string(to_epoch_ms(s.t));
    // ,"key":{"name":…,…} for a map by point name; `item` writes one value.
    auto members = [&](std::string_view key, const auto& by_name, auto item) {
        if (by_name.empty()) return;
        out += ',';
        append_json_string(out, key);
        out += ":{";
        bool first = true;
        for (const auto& [name, v] : by_name) {
            if (!first) out += ',';
            first = false;
            append_json_string(out, name);
            out += ':';
            item(v);
        }
        out += '}';
    };
    members("values", s.values, [&](double v) { append_json_number(out, v); });
    members("arrays", s.arrays, [&](const auto& arr) {
        out += '[';
        for (std::size_t i = 0; i < arr.size(); ++i) {
            if (i != 0) out += ',';
            if (arr[i])
                append_json_number(out, *arr[i]);
            else
                out += "null";
        }
        out += ']';
    });
    if (s.state) {
        out += ",\"state\":";
        append_json_string(out, domain::to_string(*s.state));
    }
    if (!s.events.empty()) {
        out += ",\"events\":[";
        for (std::size_t i = 0; i < s.events.size(); ++i) {
            if (i != 0) out += ',';
            append_json_string(out, s.events[i]);
        }
        out += ']';
    }
    out += '}';
}

}  // namespace pvfleet::ingest
