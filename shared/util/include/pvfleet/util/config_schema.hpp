#pragma once
// Declarative schemas for our JSON config files (site config, server config, register maps, simulator site
// and fault scenarios), after ESPHome's config validation: an object's schema lists its keys — required or
// optional, of which type, in which range, from which choices — and refuses every other key with its path.
// The parser keeps only what a schema cannot say: the order it reads keys in, rules across keys
// (duplicates, references, "one of tcp, rtu") and what a value means.
//
// Each file format has words of its own for the same failure ("required" / "missing", how ranges print):
// a `Wording` holds them, so texts that installers and tests know stay byte for byte.
#include <cstddef>
#include <filesystem>
#include <functional>
#include <initializer_list>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "pvfleet/util/result.hpp"

namespace pvfleet::config {

using Json = nlohmann::json;

// "a" + "b" -> "a/b"; a key at the top has no leading slash.
std::string join(std::string_view path, std::string_view key);

// Collects the errors of a parse. Formats that report every error (an installer fixes the file once) read
// them all with joined(); formats that stop at the first one use first().
class Errors {
public:
    void add(Error e) { list_.push_back(std::move(e)); }
    void add(const std::string& path, const std::string& detail) { list_.push_back(Error::at(path, detail)); }
    // `e` seen from `parent` ("" = as it is).
    void add(const Error& e, const std::string& parent) { list_.push_back(parent.empty() ? e : e.under(parent)); }

    [[nodiscard]] bool empty() const { return list_.empty(); }
    [[nodiscard]] const std::vector<Error>& list() const { return list_; }
    // All errors, one a line, as one invalid Error (with a path when there is only one).
    [[nodiscard]] Error joined() const;

private:
    std::vector<Error> list_;
};

enum class Type {
    any,        // not checked here (a module of its own checks it)
    string,     // a string; `non_empty` also refuses ""
    number,     // any JSON number
    integer,    // a JSON integer
    boolean,
    object,
    array,
};

// How "unknown key" names the keys that are allowed.
enum class KeyList {
    none,      // "unknown key"
    declared,  // "unknown key (expected one of a, b, c)", in the schema's order
    sorted,    // "unknown key (expected a, b, c)", in alphabetical order
};

// One key of an object.
struct Field {
    std::string name;
    Type type = Type::any;
    bool required = false;
    bool non_empty = false;  // strings: "" is refused
    double lo = -std::numeric_limits<double>::infinity();
    double hi = std::numeric_limits<double>::infinity();
    std::vector<std::string> choices;  // strings: one of these (the enum's names)
};

// Field builders: required("site_id", string().non_empty()) reads like the documentation of the key.
struct FieldSpec {
    Type type = Type::any;
    bool non_empty_ = false;
    double lo = -std::numeric_limits<double>::infinity();
    double hi = std::numeric_limits<double>::infinity();
    std::vector<std::string> choices;
    FieldSpec non_empty() const {
        FieldSpec s = *this;
        s.non_empty_ = true;
        return s;
    }
};
inline FieldSpec spec_of(Type type, double lo = -std::numeric_limits<double>::infinity(),
                         double hi = std::numeric_limits<double>::infinity()) {
    FieldSpec s;
    s.type = type;
    s.lo = lo;
    s.hi = hi;
    return s;
}
inline FieldSpec any() { return {}; }
inline FieldSpec string() { return spec_of(Type::string); }
inline FieldSpec number(double lo, double hi) { return spec_of(Type::number, lo, hi); }
inline FieldSpec integer(double lo, double hi) { return spec_of(Type::integer, lo, hi); }
inline FieldSpec boolean() { return spec_of(Type::boolean); }
inline FieldSpec object() { return spec_of(Type::object); }
inline FieldSpec array() { return spec_of(Type::array); }
inline FieldSpec one_of(std::initializer_list<std::string> names) {
    FieldSpec s = spec_of(Type::string);
    s.choices = names;
    return s;
}
Field required(std::string name, FieldSpec spec = {});
Field optional(std::string name, FieldSpec spec = {});

// The words of one file format. Each function returns the detail after "path: ".
struct Wording {
    std::string missing = "required";
    KeyList key_list = KeyList::declared;
    // A value of the wrong JSON type (or "" where a non-empty string is required).
    std::function<std::string(const Field&, const Json&)> wrong_type;
    // A number outside [lo, hi].
    std::function<std::string(const Field&, const Json&)> out_of_range;
    // A string that is none of the choices; default "unknown 'x' (expected a, b)".
    std::function<std::string(const Field&, const std::string&)> unknown_choice;
};

// What "expected ..." says for a type: "a string", "a number", "an integer", "an object", ...
std::string_view type_words(Type type);

// How the server's config files word their errors (the server config and the sections of its modules): sorted key
// lists, "expected a non-empty string", and a range said as "expected an integer in lo..hi" for integer fields
// (RangeWords::integer) or as "expected a number in lo..hi" for integer and number fields alike
// (RangeWords::number).
enum class RangeWords { integer, number };
Wording server_wording(RangeWords words);

// Whether a read needs the key: as the schema says, or required here (a key only some variants need,
// such as "path" for a SQLite database).
enum class Need { as_declared, required };

// The schema of one JSON object: its keys, in the order "unknown key" lists them.
class Object {
public:
    Object(std::initializer_list<Field> fields, const Wording& wording);

    [[nodiscard]] const Field* find(std::string_view key) const;
    [[nodiscard]] const Wording& wording() const { return *wording_; }

    // Each key of `obj` the schema does not declare, in the document's key order, as an error at its path.
    void check_keys(const Json& obj, const std::string& path, Errors& errors) const;
    // The first such key, at its key (for formats that stop at the first error).
    [[nodiscard]] Status check_keys(const Json& obj) const;

    // The value of `key` in `obj` checked against its field: nullptr when it is absent and optional,
    // the value when it fits, an error at `key` otherwise. `lo`/`hi` narrow the range for this read
    // (a "last" that may not come before "first").
    [[nodiscard]] Result<const Json*> check(const Json& obj, std::string_view key, Need need = Need::as_declared) const;
    [[nodiscard]] Result<const Json*> check(const Json& obj, std::string_view key, double lo, double hi,
                                            Need need = Need::as_declared) const;

private:
    std::vector<Field> fields_;
    const Wording* wording_;
};

// Reads one object against its schema for formats that report every error: each read records its error
// (at path/key) and returns nullopt, so the parser goes on to the next key.
class Reader {
public:
    Reader(const Json& obj, std::string path, const Object& schema, Errors& errors);

    [[nodiscard]] const std::string& path() const { return path_; }
    [[nodiscard]] const Json& json() const { return obj_; }
    [[nodiscard]] bool has(std::string_view key) const { return obj_.contains(key); }

    std::optional<std::string> string(std::string_view key, Need need = Need::as_declared);
    std::optional<double> number(std::string_view key);
    std::optional<long long> integer(std::string_view key);
    // The value itself (objects, arrays, any), once its type was checked.
    const Json* value(std::string_view key);

private:
    const Json* checked(std::string_view key, Need need = Need::as_declared);

    const Json& obj_;
    std::string path_;
    const Object& schema_;
    Errors& errors_;
};

// First-error reads: the error is at `key` (the caller adds the parent with Error::under); an absent
// optional key leaves `out` as it is.
Status read(const Object& schema, const Json& obj, std::string_view key, std::string& out);
Status read(const Object& schema, const Json& obj, std::string_view key, double& out);
Status read(const Object& schema, const Json& obj, std::string_view key, int& out);

// An optional section of a document: absent is fine (nullptr), anything but an object is an error at `key`.
const Json* optional_section(const Json& doc, const char* key, Errors& errors);

// A config file read as JSON: "<file>: cannot open" (not_found) or "<file>: <parse_error_prefix><parser's
// text>"; each format keeps its own prefix ("not JSON: " or none).
Result<Json> read_json_file(const std::filesystem::path& file, std::string_view parse_error_prefix);

}  // namespace pvfleet::config
