#include "pvfleet/records/csv.hpp"

namespace pvfleet::records::detail {

CsvDocument parse_csv(std::string_view text) {
    CsvDocument doc;
    if (text.substr(0, 3) == "\xEF\xBB\xBF") text.remove_prefix(3);
    int line = 1;
    std::size_t i = 0;
    while (i < text.size()) {
        CsvRecord record{line, {}};
        std::string field;
        bool record_done = false;
        bool failed = false;
        while (!record_done) {
            field.clear();
            if (i < text.size() && text[i] == '"') {
                // Quoted field: runs to the next quote that is not doubled.
                const int opened_on = line;
                ++i;
                bool closed = false;
                while (i < text.size()) {
                    const char c = text[i];
                    if (c == '"') {
                        if (i + 1 < text.size() && text[i + 1] == '"') {
                            field += '"';
                            i += 2;
                            continue;
                        }
                        ++i;
                        closed = true;
                        break;
                    }
                    if (c == '\n') ++line;
                    if (c == '\r' && i + 1 < text.size() && text[i + 1] == '\n') {
                        ++i;  // CRLF inside a field is one line break
                        continue;
                    }
                    field += c;
                    ++i;
                }
                if (!closed) {
                    doc.problems.push_back({opened_on, "quoted field is not closed (a \" is missing)"});
                    return doc;
                }
                if (i < text.size() && text[i] != ',' && text[i] != '\n' && text[i] != '\r') {
                    doc.problems.push_back(
                        {line, "text after a closing quote (write \"\" for a quote inside)"});
                    failed = true;
                }
            } else {
                while (i < text.size() && text[i] != ',' && text[i] != '\n' && text[i] != '\r') {
                    if (text[i] == '"' && !failed) {
                        doc.problems.push_back(
                            {line, "quote inside an unquoted field (quote the whole field)"});
                        failed = true;
                    }
                    field += text[i++];
                }
            }
            if (failed) {
                // Skip to the end of this line; the rest of the file is still checked.
                while (i < text.size() && text[i] != '\n') ++i;
            }
            record.fields.push_back(field);
            if (i >= text.size()) {
                record_done = true;
            } else if (text[i] == ',' && !failed) {
                ++i;
            } else {
                if (text[i] == '\r') ++i;
                if (i < text.size() && text[i] == '\n') ++i;
                ++line;
                record_done = true;
            }
        }
        const bool blank = record.fields.size() == 1 && record.fields[0].empty();
        if (!failed && !blank) doc.records.push_back(std::move(record));
    }
    return doc;
}

}  // namespace pvfleet::records::detail
