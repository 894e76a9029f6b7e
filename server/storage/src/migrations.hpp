#pragma once
#include <span>
#include <string_view>

#include "pvfleet/storage/db.hpp"
#include "pvfleet/util/clock.hpp"

namespace pvfleet::storage {

struct Migration {
    int version;
    std::string_view description;
    std::string_view sql;
};

std::span<const Migration> migrations();
// Applies every migration not yet recorded, each in its own transaction; returns how many were applied.
Result<int> migrate(Db& db, TimePoint now);
Result<int> schema_version(Db& db);

}  // namespace pvfleet::storage
