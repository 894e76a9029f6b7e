#pragma once
// RFC 4180 CSV: fields separated by commas, records by CRLF or LF; a field in double quotes may hold commas,
// line breaks and doubled quotes (""). A UTF-8 byte order mark (spreadsheet exports) is skipped. Used by the
// customer import here and by the lead import (server/leads).
#include <string>
#include <string_view>
#include <vector>

namespace pvfleet::records::detail {

struct CsvRecord {
    int line = 0;  // line of the file where the record starts (1-based)
    std::vector<std::string> fields;
};

struct CsvProblem {
    int line = 0;
    std::string message;
};

struct CsvDocument {
    std::vector<CsvRecord> records;  // blank lines are left out
    std::vector<CsvProblem> problems;
};

CsvDocument parse_csv(std::string_view text);

}  // namespace pvfleet::records::detail
