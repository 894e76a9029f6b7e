#pragma once
// A Db that fails on its N-th statement (after Beast's test::fail_count): every run(), run_script(), begin()
// and commit() counts as one; the N-th returns an error instead of reaching the wrapped connection, and every
// one before and after it goes through. A test walks N = 1, 2, … over an operation until it succeeds, so
// each of its error paths is taken once. rollback() is never failed (it cannot report failure).
#include <cstddef>
#include <memory>
#include <string>

#include "pvfleet/storage/db.hpp"

namespace pvfleet::fakes {

class FailingDb final : public storage::Db {
public:
    // fail_at 0: never fails.
    FailingDb(std::unique_ptr<storage::Db> inner, std::size_t fail_at = 0)
        : inner_(std::move(inner)), fail_at_(fail_at) {}

    // Counts from zero again and fails on the `n`-th statement from now (0: never).
    void fail_at(std::size_t n) {
        fail_at_ = n;
        count_ = 0;
        failed_ = false;
    }
    // The kind of the injected error (io: a lost connection; busy: a lock the caller may retry).
    void fail_with(ErrorKind kind) { kind_ = kind; }
    [[nodiscard]] std::size_t statements() const { return count_; }
    [[nodiscard]] bool failed() const { return failed_; }  // the planned failure happened

    [[nodiscard]] storage::Engine engine() const override { return inner_->engine(); }
    Result<storage::QueryResult> run(std::string_view sql, const storage::Params& params) override {
        if (due()) return injected();
        return inner_->run(sql, params);
    }
    Status run_script(std::string_view sql) override {
        if (due()) return injected();
        return inner_->run_script(sql);
    }
    Status begin() override {
        if (due()) return injected();
        return inner_->begin();
    }
    Status commit() override {
        if (due()) return injected();  // the transaction stays open: the caller rolls it back
        return inner_->commit();
    }
    void rollback() noexcept override { inner_->rollback(); }

private:
    bool due() {
        if (++count_ != fail_at_) return false;
        failed_ = true;
        return true;
    }
    Error injected() const { return Error{"injected failure of statement " + std::to_string(count_), kind_}; }

    std::unique_ptr<storage::Db> inner_;
    std::size_t fail_at_ = 0;
    std::size_t count_ = 0;
    bool failed_ = false;
    ErrorKind kind_ = ErrorKind::io;
};

}  // namespace pvfleet::fakes
