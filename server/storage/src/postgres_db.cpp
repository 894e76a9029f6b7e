#include "db_engines.hpp"

#include <map>
#include <string>

#if PVFLEET_HAVE_PQXX
#include <pqxx/pqxx>
#endif

namespace pvfleet::storage {

#if PVFLEET_HAVE_PQXX
namespace {

// libpqxx wants transaction objects; this class keeps one nontransaction for plain statements and issues
// BEGIN/COMMIT itself, so the Db seam stays the same for both engines.
class PostgresDb final : public Db {
public:
    explicit PostgresDb(std::unique_ptr<pqxx::connection> conn)
        : conn_(std::move(conn)), work_(std::make_unique<pqxx::nontransaction>(*conn_)) {}
    ~PostgresDb() override = default;
    PostgresDb(const PostgresDb&) = delete;
    PostgresDb& operator=(const PostgresDb&) = delete;

    [[nodiscard]] Engine engine() const override { return Engine::postgres; }

    Result<QueryResult> run(std::string_view sql, const Params& params) override {
        std::vector<std::string> storage;
        storage.reserve(params.size());
        std::vector<const char*> args;
        args.reserve(params.size());
        for (const Value& v : params) {
            if (std::holds_alternative<std::nullptr_t>(v)) {
                storage.emplace_back();
                args.push_back(nullptr);
                continue;
            }
            if (const auto* n = std::get_if<std::int64_t>(&v))
                storage.push_back(std::to_string(*n));
            else if (const auto* d = std::get_if<double>(&v))
                storage.push_back(pqxx::to_string(*d));
            else
                storage.push_back(std::get<std::string>(v));
            args.push_back(nullptr);
        }
        for (std::size_t i = 0; i < params.size(); ++i)
            if (!std::holds_alternative<std::nullptr_t>(params[i])) args[i] = storage[i].c_str();
        try {
            // Statements with parameters are prepared once per connection and reused: ingest runs the same
            // multi-row statements thousands of times, and parsing and planning them was most of their cost.
            const pqxx::result r =
                params.empty() ? work_->exec(std::string(sql))
                               : work_->exec_prepared(statement_name(sql), pqxx::prepare::make_dynamic_params(args));
            QueryResult out;
            out.affected = static_cast<std::int64_t>(r.affected_rows());
            out.rows.reserve(r.size());
            for (const auto& row : r) {
                Row o;
                o.cols.reserve(row.size());
                for (const auto& field : row) {
                    if (field.is_null()) {
                        o.cols.emplace_back(nullptr);
                        continue;
                    }
                    // Type OIDs of int2/int4/int8 and float4/float8/numeric; everything else arrives as text.
                    const auto oid = field.type();
                    if (oid == 20 || oid == 21 || oid == 23)
                        o.cols.emplace_back(field.as<std::int64_t>());
                    else if (oid == 700 || oid == 701 || oid == 1700)
                        o.cols.emplace_back(field.as<double>());
                    else
                        o.cols.emplace_back(std::string(field.c_str(), field.size()));
                }
                out.rows.push_back(std::move(o));
            }
            return out;
        } catch (const pqxx::broken_connection& e) {
            return Error{std::string("postgres: connection lost: ") + e.what(), ErrorKind::io};
        } catch (const pqxx::integrity_constraint_violation& e) {
            return Error{std::string("postgres: ") + e.what(), ErrorKind::conflict};
        } catch (const pqxx::transaction_rollback& e) {  // serialization failure, deadlock: retry
            return Error{std::string("postgres: ") + e.what(), ErrorKind::busy};
        } catch (const pqxx::sql_error& e) {
            return Error{std::string("postgres: ") + e.what(), ErrorKind::io};
        }
    }

    Status run_script(std::string_view sql) override {
        try {
            work_->exec(std::string(sql));
            return {};
        } catch (const std::exception& e) {
            return Error{std::string("postgres: ") + e.what(), ErrorKind::io};
        }
    }
    Status begin() override {
        in_tx_ = true;
        return run_script("BEGIN");
    }
    Status commit() override {
        in_tx_ = false;
        return run_script("COMMIT");
    }
    void rollback() noexcept override {
        if (!in_tx_) return;
        in_tx_ = false;
        try {
            work_->exec("ROLLBACK");
        } catch (...) {  // the connection is gone; nothing to roll back
        }
    }

private:
    const std::string& statement_name(std::string_view sql) {
        auto it = prepared_.find(sql);
        if (it == prepared_.end()) {
            std::string name = "pvf" + std::to_string(prepared_.size() + 1);
            conn_->prepare(name, std::string(sql));
            it = prepared_.emplace(std::string(sql), std::move(name)).first;
        }
        return it->second;
    }

    std::unique_ptr<pqxx::connection> conn_;
    std::unique_ptr<pqxx::nontransaction> work_;
    bool in_tx_ = false;
    std::map<std::string, std::string, std::less<>> prepared_;  // SQL text -> prepared statement name
};

}  // namespace

bool postgres_available() {
    return true;
}

Result<std::unique_ptr<Db>> open_postgres(const std::string& uri) {
    try {
        auto conn = std::make_unique<pqxx::connection>(uri);
        auto db = std::make_unique<PostgresDb>(std::move(conn));
        // Quiet NOTICEs of IF NOT EXISTS in migrations.
        if (auto s = db->run_script("SET client_min_messages = warning"); !s) return s.error();
        return std::unique_ptr<Db>(std::move(db));
    } catch (const std::exception& e) {
        return Error{std::string("database: cannot connect to PostgreSQL: ") + e.what(), ErrorKind::io};
    }
}
#else
bool postgres_available() {
    return false;
}
Result<std::unique_ptr<Db>> open_postgres(const std::string&) {
    return Error{"database/kind: postgres is not available in this build (no libpqxx)",
                 ErrorKind::unsupported};
}
#endif

}  // namespace pvfleet::storage
