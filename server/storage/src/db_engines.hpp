#pragma once
#include <memory>
#include <string>

#include "pvfleet/storage/db.hpp"

namespace pvfleet::storage {
Result<std::unique_ptr<Db>> open_sqlite(const std::string& path);
Result<std::unique_ptr<Db>> open_postgres(const std::string& uri);
}  // namespace pvfleet::storage
