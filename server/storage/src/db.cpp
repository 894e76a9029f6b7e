#include "pvfleet/storage/db.hpp"

#include "db_engines.hpp"

#include "pvfleet/util/number.hpp"

namespace pvfleet::storage {

std::string_view to_string(Engine e) {
    return e == Engine::sqlite ? "sqlite" : "postgres";
}

std::int64_t Row::integer(std::size_t i) const {
    const Value& v = cols.at(i);
    if (const auto* n = std::get_if<std::int64_t>(&v)) return *n;
    if (const auto* d = std::get_if<double>(&v)) return static_cast<std::int64_t>(*d);
    if (const auto* s = std::get_if<std::string>(&v)) return parse_leading_number<std::int64_t>(*s).value_or(0);
    return 0;
}
double Row::real(std::size_t i) const {
    const Value& v = cols.at(i);
    if (const auto* d = std::get_if<double>(&v)) return *d;
    if (const auto* n = std::get_if<std::int64_t>(&v)) return static_cast<double>(*n);
    if (const auto* s = std::get_if<std::string>(&v)) return parse_leading_number<double>(*s).value_or(0);
    return 0;
}
std::string Row::text(std::size_t i) const {
    const Value& v = cols.at(i);
    if (const auto* s = std::get_if<std::string>(&v)) return *s;
    if (const auto* n = std::get_if<std::int64_t>(&v)) return std::to_string(*n);
    if (const auto* d = std::get_if<double>(&v)) return std::to_string(*d);
    return {};
}
std::optional<std::int64_t> Row::opt_integer(std::size_t i) const {
    if (is_null(i)) return std::nullopt;
    return integer(i);
}
std::optional<std::string> Row::opt_text(std::size_t i) const {
    if (is_null(i)) return std::nullopt;
    return text(i);
}

Result<std::unique_ptr<Db>> open_db(const DbOptions& options) {
    if (options.engine == Engine::sqlite) {
        if (options.sqlite_path.empty()) return Error::at("database/path", "required for sqlite");
        return open_sqlite(options.sqlite_path);
    }
    if (options.postgres_uri.empty()) return Error::at("database/uri", "required for postgres");
    return open_postgres(options.postgres_uri);
}

}  // namespace pvfleet::storage
