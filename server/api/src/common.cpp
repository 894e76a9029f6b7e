#include "common.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string_view>

#include "pvfleet/storage/work_orders.hpp"
#include "pvfleet/util/number.hpp"

namespace pvfleet::api::detail {
namespace {

// Follows the parser through the text, keeping the path of the value being read, and stops at the first
// error: the path is then that of the value the parser could not take.
class PathAtError final : public nlohmann::json_sax<json> {
public:
    std::string path;
    bool null() override { return value(); }
    bool boolean(bool) override { return value(); }
    bool number_integer(number_integer_t) override { return value(); }
    bool number_unsigned(number_unsigned_t) override { return value(); }
    bool number_float(number_float_t, const string_t&) override { return value(); }
    bool string(string_t&) override { return value(); }
    bool binary(binary_t&) override { return value(); }
    bool start_object(std::size_t) override {
        frames_.push_back({false, {}, 0});
        return true;
    }
    bool key(string_t& k) override {
        frames_.back().key = k;
        return true;
    }
    bool end_object() override {
        frames_.pop_back();
        return value();
    }
    bool start_array(std::size_t) override {
        frames_.push_back({true, {}, 0});
        return true;
    }
    bool end_array() override {
        frames_.pop_back();
        return value();
    }
    bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception&) override {
        for (const auto& f : frames_)
            path += (path.empty() ? "" : "/") + (f.array ? std::to_string(f.index) : f.key);
        return false;
    }

private:
    struct Frame {
        bool array;
        std::string key;
        std::size_t index;
    };
    bool value() {
        if (!frames_.empty() && frames_.back().array) ++frames_.back().index;
        return true;
    }
    std::vector<Frame> frames_;
};

}  // namespace

const std::vector<std::string> kAllRoles{"admin", "back_office", "technician", "manager"};
const std::vector<std::string> kOfficeRoles{"admin", "back_office"};
const std::vector<std::string> kReadRoles{"admin", "back_office", "manager"};
const std::vector<std::string> kEveryRole{"admin", "back_office", "technician", "manager", "sales", "project_manager"};

namespace {

constexpr int kMaxBodyDepth = 64;

// The deepest nesting of arrays and objects in `text` (brackets inside strings do not count); only
// meaningful for valid JSON, which the parser checks afterwards.
int nesting_depth(std::string_view text) {
    int depth = 0;
    int deepest = 0;
    bool in_string = false;
    for (std::size_t i = 0; i < text.size(); ++i) {
        const char c = text[i];
        if (in_string) {
            if (c == '\\')
                ++i;
            else if (c == '"')
                in_string = false;
        } else if (c == '"') {
            in_string = true;
        } else if (c == '[' || c == '{') {
            deepest = std::max(deepest, ++depth);
        } else if (c == ']' || c == '}') {
            --depth;
        }
    }
    return deepest;
}

}  // namespace

Checked<> parse_body(const Request& req, const std::set<std::string>& allowed, json& out) {
    const auto ct = req.header("content-type").value_or("");
    if (ct.rfind("application/json", 0) != 0)
        return problem(415, "Unsupported Media Type", "send the body as application/json");
    // Bounded before parsing: every level costs the parser and whoever walks the document later.
    if (nesting_depth(req.body) > kMaxBodyDepth)
        return problem(400, "Bad Request",
                       "body: arrays and objects nest deeper than " + std::to_string(kMaxBodyDepth) + " levels");
    try {
        out = json::parse(req.body);
    } catch (const json::parse_error& e) {
        return problem(400, "Bad Request", std::string("body is not valid JSON: ") + e.what());
    } catch (const json::out_of_range&) {
        // A number beyond double's range (1e400): named by its path, like any other bad value.
        const std::string path = overflowing_number_path(req.body);
        return problem(400, "Bad Request",
                       (path.empty() ? std::string("body") : path) + ": number out of range", path);
    }
    if (!out.is_object()) return problem(400, "Bad Request", "body must be a JSON object");
    for (const auto& [k, v] : out.items())
        if (allowed.count(k) == 0) {
            std::string list;
            for (const auto& a : allowed) list += (list.empty() ? "" : ", ") + a;
            return problem(400, "Bad Request", k + ": unknown field (expected " + list + ")", k);
        }
    return {};
}

std::string overflowing_number_path(const std::string& text) {
    PathAtError sax;
    (void)json::sax_parse(text, &sax);
    return sax.path;
}

const json* BodyReader::member(const char* key, bool required) {
    if (!status_) return nullptr;
    const auto it = object_.find(key);
    if (it == object_.end()) {
        if (required) fail(key, "required");
        return nullptr;
    }
    return &*it;
}

BodyReader& BodyReader::fail(const char* key, const std::string& detail) {
    if (status_) {
        const std::string path = base_ + key;
        status_ = http::problem(400, "Bad Request", path + ": " + detail, path);
    }
    return *this;
}

BodyReader& BodyReader::text(const char* key, std::string& out, std::size_t max_bytes, bool required) {
    const json* v = member(key, required);
    if (v == nullptr) return *this;
    if (!v->is_string()) return fail(key, "expected a string");
    const auto& s = v->get_ref<const std::string&>();
    if (s.size() > max_bytes) return fail(key, "at most " + std::to_string(max_bytes) + " bytes");
    out = s;
    return *this;
}

BodyReader& BodyReader::nullable_text(const char* key, std::optional<std::string>& out,
                                      std::size_t max_bytes) {
    const json* v = member(key, false);
    if (v == nullptr) return *this;
    if (v->is_null()) {
        out.reset();
        return *this;
    }
    std::string s;
    text(key, s, max_bytes);
    if (status_) out = std::move(s);
    return *this;
}

BodyReader& BodyReader::number(const char* key, double& out) {
    const json* v = member(key, false);
    if (v == nullptr) return *this;
    if (!v->is_number()) return fail(key, "expected a number");
    const double d = v->get<double>();
    if (!std::isfinite(d)) return fail(key, "number out of range");
    out = d;
    return *this;
}

BodyReader& BodyReader::nullable_number(const char* key, std::optional<double>& out) {
    const json* v = member(key, false);
    if (v == nullptr) return *this;
    if (v->is_null()) {
        out.reset();
        return *this;
    }
    double d = 0;
    number(key, d);
    if (status_) out = d;
    return *this;
}

BodyReader& BodyReader::integer(const char* key, std::int64_t& out, std::int64_t lo, std::int64_t hi) {
    const json* v = member(key, false);
    if (v == nullptr) return *this;
    const std::string range = std::to_string(lo) + ".." + std::to_string(hi);
    if (!v->is_number_integer()) return fail(key, "expected an integer in " + range);
    const bool too_big =
        v->is_number_unsigned() &&
        v->get<std::uint64_t>() > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max());
    const std::int64_t n = too_big ? 0 : v->get<std::int64_t>();
    if (too_big || n < lo || n > hi) return fail(key, "expected an integer in " + range);
    out = n;
    return *this;
}

BodyReader& BodyReader::nullable_integer(const char* key, std::optional<std::int64_t>& out, std::int64_t lo,
                                         std::int64_t hi) {
    const json* v = member(key, false);
    if (v == nullptr) return *this;
    if (v->is_null()) {
        out.reset();
        return *this;
    }
    std::int64_t n = 0;
    integer(key, n, lo, hi);
    if (status_) out = n;
    return *this;
}

BodyReader& BodyReader::array(const char* key, const json*& out, std::size_t max_items) {
    const json* v = member(key, false);
    if (v == nullptr) return *this;
    if (!v->is_array()) return fail(key, "expected an array");
    if (v->size() > max_items) return fail(key, "at most " + std::to_string(max_items) + " items");
    out = v;
    return *this;
}

Response bad_request(const Error& e) {
    return problem(400, "Bad Request", e.message, e.path);
}

Response from_error(const Error& e) {
    switch (e.kind) {
        case ErrorKind::invalid:
            return bad_request(e);
        case ErrorKind::not_found:
            return problem(404, "Not Found", e.message);
        case ErrorKind::conflict:
            return problem(412, "Precondition Failed", e.message);
        case ErrorKind::rejected:
            return problem(403, "Forbidden", e.message);
        case ErrorKind::busy:
            return problem(503, "Service Unavailable", e.message);
        default:
            return problem(500, "Internal Server Error", "the server could not complete the request");
    }
}

std::string etag_of(std::int64_t version) {
    return "\"v" + std::to_string(version) + "\"";
}

Response versioned_response(int status, const json& body, std::int64_t version) {
    Response r = json_response(status, body);
    r.headers.emplace("ETag", etag_of(version));
    return r;
}

std::optional<std::int64_t> if_match_version(const Request& req) {
    auto h = req.header("if-match");
    if (!h) return std::nullopt;
    std::string v = *h;
    if (v.rfind("W/", 0) == 0) v = v.substr(2);
    if (v.size() < 4 || v.front() != '"' || v.back() != '"' || v[1] != 'v') return std::nullopt;
    return parse_leading_number<std::int64_t>(std::string_view(v).substr(2, v.size() - 3));
}

Checked<> check_if_match(const Request& req, std::int64_t version) {
    if (!req.header("if-match"))
        return problem(428, "Precondition Required",
                       "send If-Match with the ETag you read, so concurrent edits are not lost");
    const auto v = if_match_version(req);
    if (!v || *v != version) {
        Response r = problem(
            412, "Precondition Failed",
            "the resource changed since you read it (now " + etag_of(version) + "); reload and retry");
        r.headers.emplace("ETag", etag_of(version));
        return r;
    }
    return {};
}

// A positive id in the path (`{name}`), or 400 naming it.
Checked<std::int64_t> number_param(const Request& req, const char* name, const char* what) {
    const auto n = parse_number<std::int64_t>(req.params.at(name));
    if (!n || *n < 1)
        return problem(400, "Bad Request", std::string(name) + ": expected a " + what + " number", name);
    return *n;
}

Checked<> query_int(const Request& req, const std::string& name, long long lo, long long hi,
                                  long long& out) {
    auto v = req.query_param(name);
    if (!v) return {};
    const auto n = parse_number<long long>(*v);
    if (!n || *n < lo || *n > hi)
        return problem(400, "Bad Request",
                       name + ": expected an integer in " + std::to_string(lo) + ".." + std::to_string(hi),
                       name);
    out = *n;
    return {};
}

Checked<> query_time(const Request& req, const std::string& name,
                                   std::optional<TimePoint>& out) {
    auto v = req.query_param(name);
    if (!v) return {};
    auto t = parse_iso8601(*v);
    if (!t) return problem(400, "Bad Request", name + ": " + t.error().message, name);
    out = *t;
    return {};
}

bool has_role(const Request& req, std::initializer_list<const char*> roles) {
    for (const char* r : roles)
        if (req.role == r) return true;
    return false;
}

Checked<> check_site_visible(ApiContext& ctx, const Request& req, const std::string& site_id) {
    if (req.role != "technician") return {};
    auto mine = storage::has_work_order_at_site(*ctx.db, site_id, req.user, false);
    if (!mine) return from_error(mine.error());
    if (!*mine)
        return problem(404, "Not Found", "no site " + site_id + " among your work orders");
    return {};
}

Checked<> check_site_actionable(ApiContext& ctx, const Request& req,
                                              const std::string& site_id) {
    if (req.role != "technician") return {};
    auto mine = storage::has_work_order_at_site(*ctx.db, site_id, req.user, true);
    if (!mine) return from_error(mine.error());
    if (!*mine)
        return problem(403, "Forbidden",
                       "technician " + req.user + " has no open work order at site " + site_id +
                           ": only the back office or the assigned technician may act on its gateway");
    return {};
}

}  // namespace pvfleet::api::detail
