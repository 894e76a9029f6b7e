#pragma once
// Helpers shared by the route files: JSON bodies with unknown-field checks, ETags, paging, times.
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>

#include "pvfleet/api/api.hpp"
#include "pvfleet/util/time.hpp"

namespace pvfleet::api::detail {

using nlohmann::json;

// The request body as a JSON object whose members are all in `allowed`; otherwise a 400 problem naming the
// member (or 415 when the content type is not JSON).
std::optional<Response> parse_body(const Request& req, const std::set<std::string>& allowed, json& out);

// A 400 problem from an Error whose message starts with a key path ("email: not an e-mail address").
Response bad_request(const Error& e);
// Maps an Error kind to a status: invalid 400, not_found 404, conflict 409/412, rejected 403, other 500.
Response from_error(const Error& e);

std::string etag_of(std::int64_t version);
// 428 when If-Match is missing, 412 when it does not name `version`; nullopt when it matches.
std::optional<Response> check_if_match(const Request& req, std::int64_t version);
// The version an If-Match header names ("\"v7\"" or "W/\"v7\"" → 7); nullopt when absent or malformed.
std::optional<std::int64_t> if_match_version(const Request& req);

// Query integer with bounds; a 400 problem naming the parameter otherwise.
std::optional<Response> query_int(const Request& req, const std::string& name, long long lo, long long hi,
                                  long long& out);
std::optional<Response> query_time(const Request& req, const std::string& name,
                                   std::optional<TimePoint>& out);

inline json time_json(std::optional<TimePoint> t) {
    return t ? json(format_iso8601(*t)) : json(nullptr);
}

bool has_role(const Request& req, std::initializer_list<const char*> roles);

extern const std::vector<std::string> kAllRoles;     // admin, back_office, technician, manager
extern const std::vector<std::string> kOfficeRoles;  // admin, back_office
extern const std::vector<std::string> kReadRoles;    // admin, back_office, manager

void add_auth_routes(Router& router, ApiContext& ctx);
void add_record_routes(Router& router, ApiContext& ctx);
void add_work_order_routes(Router& router, ApiContext& ctx);
void add_telemetry_routes(Router& router, ApiContext& ctx);

}  // namespace pvfleet::api::detail
