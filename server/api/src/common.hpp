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
Checked<> parse_body(const Request& req, const std::set<std::string>& allowed, json& out);

// The JSON path ("arrays/0/kwp") of the number a JSON text cannot hold (1e400): nlohmann rejects such a
// number with out_of_range 406, which carries no path. "" when the text has no such number.
std::string overflowing_number_path(const std::string& text);

// Typed reads of a body object's members, for handlers that must never throw on a client's value. Each read
// of a present member checks its type (and range or length) and otherwise records a 400 problem naming the
// member's path (base + key); a missing member leaves `out` as it is (PATCH keeps the stored value) unless
// it is required. After the first problem, further reads do nothing: check status() once at the end.
class BodyReader {
public:
    explicit BodyReader(const json& object, std::string base = {})
        : object_(object), base_(std::move(base)) {}
    BodyReader& text(const char* key, std::string& out, std::size_t max_bytes, bool required = false);
    BodyReader& nullable_text(const char* key, std::optional<std::string>& out, std::size_t max_bytes);
    // Any finite number; ranges with their own message are left to the record's validation.
    BodyReader& number(const char* key, double& out);
    BodyReader& nullable_number(const char* key, std::optional<double>& out);
    BodyReader& integer(const char* key, std::int64_t& out, std::int64_t lo, std::int64_t hi);
    BodyReader& nullable_integer(const char* key, std::optional<std::int64_t>& out, std::int64_t lo,
                                 std::int64_t hi);
    // An array member (count bounded); its elements are the caller's to read.
    BodyReader& array(const char* key, const json*& out, std::size_t max_items);
    BodyReader& fail(const char* key, const std::string& detail);
    [[nodiscard]] const Checked<>& status() const { return status_; }

private:
    // The member to read: nullptr when absent (a problem when required) or after an earlier problem.
    const json* member(const char* key, bool required);
    const json& object_;
    std::string base_;
    Checked<> status_;  // the first problem met
};

// A 400 problem naming the error's key path (Error::path) as the field, e.g. "email" for Error::at("email", ...).
Response bad_request(const Error& e);
// Maps an Error kind to a status: invalid 400, not_found 404, conflict 409/412, rejected 403, other 500.
Response from_error(const Error& e);

std::string etag_of(std::int64_t version);
// 428 when If-Match is missing, 412 (with the current ETag) when it does not name `version`.
Checked<> check_if_match(const Request& req, std::int64_t version);
// A versioned record's answer: its JSON with its ETag.
Response versioned_response(int status, const json& body, std::int64_t version);

// The one PATCH shape of versioned records (customers, leads, projects, milestones): the record is loaded
// (`load`: its refusal, e.g. 404, as it is), If-Match is checked against its version (428 missing, 412 stale with
// the current ETag), `save` writes the change at that version (a change landing in between is a 412 from the
// repository's conflict) and the answer is the saved record with its new ETag. The body's members are the
// caller's to check before (a bad body is a 400 whatever is stored).
template <class Load, class Save, class Render>
Response patch_versioned(const Request& req, Load&& load, Save&& save, Render&& render) {
    auto current = load();
    if (!current) return current.refusal();
    if (auto p = check_if_match(req, current->version); !p) return p.refusal();
    auto saved = save(*current);
    if (!saved) return from_error(saved.error());
    return versioned_response(200, render(*saved), saved->version);
}

// The version an If-Match header names ("\"v7\"" or "W/\"v7\"" → 7); nullopt when absent or malformed.
std::optional<std::int64_t> if_match_version(const Request& req);

// Query integer with bounds; a 400 problem naming the parameter otherwise.
// A parameter that is absent leaves `out` as it is.
// A positive id in the path (`{name}`; `what` names it in the error: "id: expected a project number").
Checked<std::int64_t> number_param(const Request& req, const char* name, const char* what);
Checked<> query_int(const Request& req, const std::string& name, long long lo, long long hi, long long& out);
Checked<> query_time(const Request& req, const std::string& name, std::optional<TimePoint>& out);

// An optional value as JSON (null when absent).
template <class T>
json opt_json(const std::optional<T>& v) {
    return v ? json(*v) : json(nullptr);
}

inline json time_json(std::optional<TimePoint> t) {
    return t ? json(format_iso8601(*t)) : json(nullptr);
}

bool has_role(const Request& req, std::initializer_list<const char*> roles);

// Technicians reach a site's records only through the work orders assigned to them (any state, as with the
// orders themselves): 404 for any other site, so its existence is not confirmed. Other roles pass.
Checked<> check_site_visible(ApiContext& ctx, const Request& req, const std::string& site_id);
// Technicians act on a site's gateway only while a work order there is open and assigned to them: 403
// otherwise. Other roles pass (the route's declared roles decide who gets here).
Checked<> check_site_actionable(ApiContext& ctx, const Request& req,
                                              const std::string& site_id);

extern const std::vector<std::string> kAllRoles;     // admin, back_office, technician, manager
extern const std::vector<std::string> kOfficeRoles;  // admin, back_office
extern const std::vector<std::string> kReadRoles;    // admin, back_office, manager
// Every role (the session's own routes: logout, me). kAllRoles is the O&M roles only: a site's records are not a
// sales rep's.
extern const std::vector<std::string> kEveryRole;

void add_auth_routes(Router& router, ApiContext& ctx);
void add_record_routes(Router& router, ApiContext& ctx);
void add_work_order_routes(Router& router, ApiContext& ctx);
void add_ticket_routes(Router& router, ApiContext& ctx);
void add_telemetry_routes(Router& router, ApiContext& ctx);
void add_enrollment_routes(Router& router, ApiContext& ctx);
// CRM: leads, capture channels and the lead import; the public capture route.
void add_lead_routes(Router& router, ApiContext& ctx);
void add_public_lead_route(Router& router, ApiContext& ctx);
// CRM: projects, the board, the conversion of a lead.
void add_project_routes(Router& router, ApiContext& ctx);
// Notifications: the inbox, one's notification settings, users' e-mail addresses, the e-mail outbox
// (routes_notifications.cpp).
void add_notification_routes(Router& router, ApiContext& ctx);
// CRM: contracts, payment plans, payments and the collection-rate report (routes_contracts.cpp).
void add_contract_routes(Router& router, ApiContext& ctx);
// Over-the-air updates: releases, their download, rollouts, sites' update settings (routes_releases.cpp).
void add_release_routes(Router& router, ApiContext& ctx);
// Remote diagnostics: log bundles asked of gateways, their upload and download (routes_log_bundles.cpp).
void add_log_bundle_routes(Router& router, ApiContext& ctx);
// Outbound webhooks: subscriptions, their delivery log, test pings, retries (routes_webhooks.cpp).
void add_webhook_routes(Router& router, ApiContext& ctx);
// CRM: documents and photos of customers, projects and work orders (routes_documents.cpp).
void add_document_routes(Router& router, ApiContext& ctx);

}  // namespace pvfleet::api::detail
