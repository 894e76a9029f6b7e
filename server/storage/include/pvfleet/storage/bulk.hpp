#pragma once
// Many rows in one statement: "INSERT … VALUES (…), (…) …", "WITH v(…) AS (VALUES …) UPDATE … FROM v" or
// "… IN (…)". On PostgreSQL every statement is a round trip, so ingest writes a group commit's rows with a
// handful of statements instead of one per row, in chunks whose sizes are powers of two so that only a few
// distinct statement texts are ever prepared. SQLite runs in-process: there each row is one execution of a
// cached single-row statement, which measured cheaper than building and preparing long texts.
#include <string>
#include <string_view>
#include <vector>

#include "pvfleet/storage/db.hpp"

namespace pvfleet::storage {

struct BulkStatement {
    std::string_view head;  // text before the rows
    std::string_view row;   // one row; each '?' becomes the next $n, e.g. "(?, CAST(? AS BIGINT))"
    std::string_view tail;  // text after the rows (ON CONFLICT …, RETURNING …)
    std::size_t width = 0;  // '?' per row
};

// Runs `statement` for every row of `values` (row-major, width values per row); rows are joined by ", ".
// Returned rows of all chunks are concatenated and `affected` summed.
Result<QueryResult> run_bulk(Db& db, const BulkStatement& statement, const std::vector<Value>& values);

}  // namespace pvfleet::storage
