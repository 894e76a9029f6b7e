#pragma once
// Expected failures are return values (Result<T>); exceptions are for the unexpected.
// GCC 12 in C++20 mode has no std::expected, so this is the small subset we need.
#include <cassert>
#include <string>
#include <utility>
#include <variant>

namespace pvfleet {

// What kind of expected failure: lets callers react (back off when busy, report a map error once when a
// device rejects an address) without parsing text.
enum class ErrorKind {
    invalid,      // bad input: config, payload, arguments
    not_found,    // no such file, record, device
    io,           // connection refused/lost, read/write failure
    timeout,      // no answer in time
    rejected,     // the peer refused the request (e.g. Modbus exception "illegal data address")
    busy,         // the peer asks us to come back later (e.g. Modbus exception "server device busy")
    conflict,     // concurrent change (e.g. ETag mismatch, duplicate)
    unsupported,  // valid but not handled by this build or device
};

// An expected failure. `message` is the whole text shown to people, e.g.
// "devices/3/registers/12/type: unknown 'u33' (expected u16, s16, u32, ...)"; `path` is the key path it is
// about ("devices/3/registers/12/type"), empty when it is about no key. The path is kept as data (not parsed
// back out of the message) so an API can name the field without guessing from the text.
struct Error {
    std::string message;
    ErrorKind kind = ErrorKind::invalid;
    std::string path;

    Error() = default;
    // Explicit: a Result<std::string> must not take a string for an error.
    explicit Error(std::string message_, ErrorKind kind_ = ErrorKind::invalid, std::string path_ = {})
        : message(std::move(message_)), kind(kind_), path(std::move(path_)) {}

    // An error at a key path: Error::at("registers/12/type", "unknown 'u33'").
    static Error at(const std::string& path, const std::string& detail, ErrorKind kind = ErrorKind::invalid) {
        return Error{path + ": " + detail, kind, path};
    }

    // The same error seen from a parent: "type: bad" at "type" under "registers/12" ->
    // "registers/12/type: bad"; an error without a path ("bad") becomes "registers/12: bad".
    [[nodiscard]] Error under(const std::string& parent) const {
        if (path.empty()) return Error{parent + ": " + message, kind, parent};
        return Error{parent + "/" + message, kind, parent + "/" + path};
    }
    friend bool operator==(const Error&, const Error&) = default;
};

template <class T>
class [[nodiscard]] Result {
public:
    Result(T value) : data_(std::in_place_index<0>, std::move(value)) {}  // NOLINT(google-explicit-constructor)
    Result(Error error) : data_(std::in_place_index<1>, std::move(error)) {}  // NOLINT(google-explicit-constructor)

    [[nodiscard]] bool ok() const noexcept { return data_.index() == 0; }
    explicit operator bool() const noexcept { return ok(); }

    T& value() & { assert(ok()); return std::get<0>(data_); }
    const T& value() const& { assert(ok()); return std::get<0>(data_); }
    T&& value() && { assert(ok()); return std::get<0>(std::move(data_)); }
    const Error& error() const { assert(!ok()); return std::get<1>(data_); }

    T& operator*() & { return value(); }
    const T& operator*() const& { return value(); }
    T* operator->() { return &value(); }
    const T* operator->() const { return &value(); }

    template <class U>
    T value_or(U&& fallback) const& { return ok() ? value() : static_cast<T>(std::forward<U>(fallback)); }

private:
    std::variant<T, Error> data_;
};

template <>
class [[nodiscard]] Result<void> {
public:
    Result() = default;
    Result(Error error) : error_(std::move(error)), failed_(true) {}  // NOLINT(google-explicit-constructor)
    [[nodiscard]] bool ok() const noexcept { return !failed_; }
    explicit operator bool() const noexcept { return ok(); }
    const Error& error() const { assert(failed_); return error_; }

private:
    Error error_;
    bool failed_ = false;
};

using Status = Result<void>;

}  // namespace pvfleet

// Early return for expected failures, the one definition for the whole tree.
// PVF_CHECK(expr): `expr` is a Result or Status; if it failed, the enclosing function returns its error.
#define PVF_CHECK(expr)                                             \
    do {                                                            \
        if (auto pvf_check_ = (expr); !pvf_check_) return pvf_check_.error(); \
    } while (false)

#define PVF_CAT2(a, b) a##b
#define PVF_CAT(a, b) PVF_CAT2(a, b)
// PVF_TRY(lhs, expr): `expr` is a Result; if it failed, the enclosing function returns its error, otherwise
// its value is moved into `lhs` (a declaration such as `auto x` or an existing lvalue).
#define PVF_TRY(lhs, expr)                                                    \
    auto PVF_CAT(pvf_try_, __LINE__) = (expr);                                \
    if (!PVF_CAT(pvf_try_, __LINE__)) return PVF_CAT(pvf_try_, __LINE__).error(); \
    lhs = std::move(PVF_CAT(pvf_try_, __LINE__)).value()
