#include "pvfleet/storage/bulk.hpp"

#include <algorithm>

namespace pvfleet::storage {
namespace {

// Rows per statement: at most 256, and at most ~30 000 parameters (SQLite's limit is 32 766, PostgreSQL's 65 535).
std::size_t max_rows(std::size_t width) {
    std::size_t rows = 256;
    while (rows > 1 && rows * width > 30'000) rows /= 2;
    return rows;
}

std::string statement_text(const BulkStatement& s, std::size_t rows) {
    std::string sql;
    sql.reserve(s.head.size() + s.tail.size() + rows * (s.row.size() + 8 * s.width));
    sql.append(s.head);
    std::size_t n = 0;
    for (std::size_t r = 0; r < rows; ++r) {
        if (r != 0) sql.append(", ");
        for (char c : s.row) {
            if (c == '?') {
                sql.push_back('$');
                sql.append(std::to_string(++n));
            } else {
                sql.push_back(c);
            }
        }
    }
    sql.append(s.tail);
    return sql;
}

}  // namespace

Result<QueryResult> run_bulk(Db& db, const BulkStatement& statement, const std::vector<Value>& values) {
    QueryResult out;
    const std::size_t width = std::max<std::size_t>(statement.width, 1);
    std::size_t remaining = values.size() / width;
    std::size_t offset = 0;
    // SQLite runs in-process: one cached single-row statement per row is cheaper than building and preparing
    // long texts. PostgreSQL pays a round trip per statement: as many rows per statement as fit.
    const std::size_t cap = db.engine() == Engine::sqlite ? 1 : max_rows(width);
    Params params;
    while (remaining > 0) {
        std::size_t rows = cap;
        while (rows > remaining) rows /= 2;
        params.assign(values.begin() + static_cast<std::ptrdiff_t>(offset * width),
                      values.begin() + static_cast<std::ptrdiff_t>((offset + rows) * width));
        auto r = db.run(statement_text(statement, rows), params);
        if (!r) return r.error();
        out.affected += r->affected;
        for (auto& row : r->rows) out.rows.push_back(std::move(row));
        offset += rows;
        remaining -= rows;
    }
    return out;
}

}  // namespace pvfleet::storage
