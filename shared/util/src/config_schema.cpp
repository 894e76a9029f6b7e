#include "pvfleet/util/config_schema.hpp"

#include <algorithm>
#include <cassert>
#include <fstream>

namespace pvfleet::config {

std::string join(std::string_view path, std::string_view key) {
    std::string out(path);
    if (!out.empty()) out += '/';
    out += key;
    return out;
}

Error Errors::joined() const {
    assert(!list_.empty());
    std::string all;
    for (const auto& e : list_) all += (all.empty() ? "" : "\n") + e.message;
    // A config file's errors are its own (invalid), whatever module words them; the path only names one key.
    return Error{all, ErrorKind::invalid, list_.size() == 1 ? list_.front().path : std::string()};
}

namespace {
Field make_field(std::string name, const FieldSpec& spec, bool required) {
    return Field{std::move(name), spec.type, required, spec.non_empty_, spec.lo, spec.hi, spec.choices};
}

std::string default_unknown_choice(const Field& f, const std::string& text) {
    std::string list;
    for (const auto& c : f.choices) list += (list.empty() ? "" : ", ") + c;
    return "unknown '" + text + "' (expected " + list + ")";
}

bool fits(Type type, const Json& v) {
    switch (type) {
        case Type::any: return true;
        case Type::string: return v.is_string();
        case Type::number: return v.is_number();
        case Type::integer: return v.is_number_integer();
        case Type::boolean: return v.is_boolean();
        case Type::object: return v.is_object();
        case Type::array: return v.is_array();
    }
    return false;
}
}  // namespace

Field required(std::string name, FieldSpec spec) { return make_field(std::move(name), spec, true); }
Field optional(std::string name, FieldSpec spec) { return make_field(std::move(name), spec, false); }

std::string_view type_words(Type type) {
    switch (type) {
        case Type::any: return "a value";
        case Type::string: return "a string";
        case Type::number: return "a number";
        case Type::integer: return "an integer";
        case Type::boolean: return "true or false";
        case Type::object: return "an object";
        case Type::array: return "an array";
    }
    return "a value";
}

Wording server_wording(RangeWords words) {
    const bool numbers_too = words == RangeWords::number;
    const std::string prefix = numbers_too ? "expected a number in " : "expected an integer in ";
    auto range = [prefix](const Field& f) {
        return prefix + std::to_string(static_cast<long long>(f.lo)) + ".." +
               std::to_string(static_cast<long long>(f.hi));
    };
    return Wording{"required", KeyList::sorted,
                   [range, numbers_too](const Field& f, const Json&) -> std::string {
                       if (f.type == Type::string) return "expected a non-empty string";
                       if (f.type == Type::integer || (numbers_too && f.type == Type::number)) return range(f);
                       return "expected " + std::string(type_words(f.type));
                   },
                   [range](const Field& f, const Json&) { return range(f); },
                   {}};
}

Object::Object(std::initializer_list<Field> fields, const Wording& wording) : fields_(fields), wording_(&wording) {}

const Field* Object::find(std::string_view key) const {
    for (const auto& f : fields_)
        if (f.name == key) return &f;
    return nullptr;
}

void Object::check_keys(const Json& obj, const std::string& path, Errors& errors) const {
    for (const auto& [key, value] : obj.items()) {
        if (find(key) != nullptr) continue;
        std::vector<std::string> names;
        for (const auto& f : fields_) names.push_back(f.name);
        std::string detail = "unknown key";
        if (wording_->key_list != KeyList::none) {
            if (wording_->key_list == KeyList::sorted) std::sort(names.begin(), names.end());
            std::string list;
            for (const auto& n : names) list += (list.empty() ? "" : ", ") + n;
            detail += wording_->key_list == KeyList::declared ? " (expected one of " + list + ")"
                                                                : " (expected " + list + ")";
        }
        errors.add(join(path, key), detail);
    }
}

Status Object::check_keys(const Json& obj) const {
    Errors errors;
    check_keys(obj, "", errors);
    if (!errors.empty()) return errors.list().front();
    return {};
}

Result<const Json*> Object::check(const Json& obj, std::string_view key, Need need) const {
    const Field* f = find(key);
    assert(f != nullptr && "a key the schema does not declare");
    if (f == nullptr) return Error::at(std::string(key), "not in the schema");
    return check(obj, key, f->lo, f->hi, need);
}

Result<const Json*> Object::check(const Json& obj, std::string_view key, double lo, double hi, Need need) const {
    const Field* f = find(key);
    assert(f != nullptr && "a key the schema does not declare");
    if (f == nullptr) return Error::at(std::string(key), "not in the schema");
    const std::string name(key);
    const auto it = obj.find(name);
    if (it == obj.end()) {
        if (f->required || need == Need::required) return Error::at(name, wording_->missing);
        return static_cast<const Json*>(nullptr);
    }
    const Json& v = *it;
    if (!fits(f->type, v) || (f->non_empty && v.is_string() && v.get_ref<const std::string&>().empty()))
        return Error::at(name, wording_->wrong_type(*f, v));
    if (f->type == Type::number || f->type == Type::integer) {
        const double d = v.get<double>();
        if (d < lo || d > hi) {
            Field narrowed = *f;
            narrowed.lo = lo;
            narrowed.hi = hi;
            return Error::at(name, wording_->out_of_range(narrowed, v));
        }
    }
    if (!f->choices.empty()) {
        const auto& text = v.get_ref<const std::string&>();
        if (std::find(f->choices.begin(), f->choices.end(), text) == f->choices.end())
            return Error::at(name, wording_->unknown_choice ? wording_->unknown_choice(*f, text)
                                                            : default_unknown_choice(*f, text));
    }
    return &v;
}

Reader::Reader(const Json& obj, std::string path, const Object& schema, Errors& errors)
    : obj_(obj), path_(std::move(path)), schema_(schema), errors_(errors) {}

const Json* Reader::checked(std::string_view key, Need need) {
    auto v = schema_.check(obj_, key, need);
    if (!v) {
        errors_.add(v.error(), path_);
        return nullptr;
    }
    return *v;
}

std::optional<std::string> Reader::string(std::string_view key, Need need) {
    const Json* v = checked(key, need);
    if (v == nullptr) return std::nullopt;
    return v->get<std::string>();
}

std::optional<double> Reader::number(std::string_view key) {
    const Json* v = checked(key);
    if (v == nullptr) return std::nullopt;
    return v->get<double>();
}

std::optional<long long> Reader::integer(std::string_view key) {
    const Json* v = checked(key);
    if (v == nullptr) return std::nullopt;
    return v->get<long long>();
}

const Json* Reader::value(std::string_view key) { return checked(key); }

namespace {
template <class T>
Status read_as(const Object& schema, const Json& obj, std::string_view key, T& out) {
    auto v = schema.check(obj, key);
    if (!v) return v.error();
    if (*v != nullptr) out = (*v)->get<T>();
    return {};
}
}  // namespace

Status read(const Object& schema, const Json& obj, std::string_view key, std::string& out) {
    return read_as(schema, obj, key, out);
}
Status read(const Object& schema, const Json& obj, std::string_view key, double& out) {
    return read_as(schema, obj, key, out);
}
Status read(const Object& schema, const Json& obj, std::string_view key, int& out) {
    return read_as(schema, obj, key, out);
}

const Json* optional_section(const Json& doc, const char* key, Errors& errors) {
    const auto it = doc.find(key);
    if (it == doc.end()) return nullptr;
    if (!it->is_object()) {
        errors.add(key, "expected an object");
        return nullptr;
    }
    return &*it;
}

Result<Json> read_json_file(const std::filesystem::path& file, std::string_view parse_error_prefix) {
    std::ifstream in(file);
    if (!in) return Error{file.string() + ": cannot open", ErrorKind::not_found};
    try {
        return Json::parse(in);
    } catch (const Json::parse_error& ex) {
        return Error{file.string() + ": " + std::string(parse_error_prefix) + ex.what()};
    }
}

}  // namespace pvfleet::config
