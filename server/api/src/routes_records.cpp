// Users, customers, sites and devices.
#include "common.hpp"
#include "pvfleet/projects/repository.hpp"
#include "pvfleet/records/customers.hpp"
#include "pvfleet/records/sites.hpp"
#include "pvfleet/records/users.hpp"
#include "pvfleet/util/number.hpp"
#include "routes_auth.hpp"

namespace pvfleet::api::detail {
namespace {

json customer_json(const records::Customer& c) {
    return {{"id", c.id},
            {"name", c.name},
            {"phone", c.phone},
            {"email", c.email},
            {"address", c.address},
            {"notes", c.notes},
            {"created_at", format_iso8601(c.created_at)},
            {"updated_at", format_iso8601(c.updated_at)},
            {"version", c.version}};
}

json site_json(const records::Site& s) {
    json arrays = json::array();
    for (const auto& a : s.arrays)
        arrays.push_back(
            {{"name", a.name}, {"kwp", a.kwp}, {"tilt_deg", a.tilt_deg}, {"azimuth_deg", a.azimuth_deg}});
    return {{"site_id", s.site_id},
            {"customer_id", s.customer_id ? json(*s.customer_id) : json(nullptr)},
            {"name", s.name},
            {"address", s.address},
            {"latitude", s.latitude ? json(*s.latitude) : json(nullptr)},
            {"longitude", s.longitude ? json(*s.longitude) : json(nullptr)},
            {"time_zone", s.time_zone},
            {"arrays", arrays},
            {"roof_type", s.roof_type},
            {"installed_on", s.installed_on ? json(*s.installed_on) : json(nullptr)},
            {"grid_connected_on", s.grid_connected_on ? json(*s.grid_connected_on) : json(nullptr)},
            {"warranty_end", s.warranty_end ? json(*s.warranty_end) : json(nullptr)},
            {"commissioned_on", s.commissioned_on ? json(*s.commissioned_on) : json(nullptr)},
            {"inspection_interval_days", s.inspection_interval_days},
            {"first_seen", time_json(s.first_seen)},
            {"version", s.version}};
}

json device_json(const records::Device& d) {
    return {{"site_id", d.site_id},
            {"device_id", d.device_id},
            {"vendor", d.vendor},
            {"model", d.model},
            {"serial", d.serial},
            {"firmware", d.firmware},
            {"unit_id", d.unit_id ? json(*d.unit_id) : json(nullptr)},
            {"first_seen", time_json(d.first_seen)},
            {"last_seen", time_json(d.last_seen)},
            {"wired_inputs", d.wired_inputs ? json(*d.wired_inputs) : json(nullptr)},
            {"version", d.version}};
}

// Fields of a customer body; a missing optional field keeps the stored value. Lengths are bounded here, the
// finer rules (e-mail, phone, name) are the record's.
Checked<> customer_from(const json& b, records::Customer& c) {
    BodyReader read(b);
    read.text("name", c.name, 1000)
        .text("phone", c.phone, 1000)
        .text("email", c.email, 1000)
        .text("address", c.address, 1000)
        .text("notes", c.notes, 10'000);
    return read.status();
}

// Fields of a device body; a missing field keeps the stored value.
Checked<> device_from(const json& b, records::Device& d) {
    BodyReader read(b);
    read.text("vendor", d.vendor, 1000)
        .text("model", d.model, 1000)
        .text("serial", d.serial, 1000)
        .text("firmware", d.firmware, 1000)
        .nullable_integer("unit_id", d.unit_id, 0, 255);
    return read.status();
}

constexpr std::size_t kMaxArraysPerSite = 50;

Checked<> site_from(const json& b, records::Site& s) {
    BodyReader read(b);
    std::int64_t interval = s.inspection_interval_days;
    const json* arrays = nullptr;
    // Number ranges (latitude, kWp, tilt, …) are the record's rules (records::validate_site), named there.
    read.text("name", s.name, 1000)
        .text("address", s.address, 1000)
        .text("time_zone", s.time_zone, 64)
        .text("roof_type", s.roof_type, 1000)
        .nullable_text("installed_on", s.installed_on, 32)
        .nullable_text("grid_connected_on", s.grid_connected_on, 32)
        .nullable_text("warranty_end", s.warranty_end, 32)
        .nullable_number("latitude", s.latitude)
        .nullable_number("longitude", s.longitude)
        .nullable_integer("customer_id", s.customer_id, 1, std::numeric_limits<std::int64_t>::max())
        .integer("inspection_interval_days", interval, 1, 3650)
        .array("arrays", arrays, kMaxArraysPerSite);
    if (auto checked = read.status(); !checked) return checked;
    s.inspection_interval_days = static_cast<int>(interval);
    if (arrays == nullptr) return {};
    s.arrays.clear();
    for (std::size_t i = 0; i < arrays->size(); ++i) {
        const auto& a = (*arrays)[i];
        const std::string path = "arrays/" + std::to_string(i);
        if (!a.is_object()) return problem(400, "Bad Request", path + ": expected an object", path);
        for (const auto& [k, v] : a.items())
            if (k != "name" && k != "kwp" && k != "tilt_deg" && k != "azimuth_deg")
                return problem(400, "Bad Request",
                               path + "/" + k + ": unknown field (expected name, kwp, tilt_deg, azimuth_deg)",
                               path + "/" + k);
        records::PvArray pa;
        BodyReader item(a, path + "/");
        item.text("name", pa.name, 1000).number("kwp", pa.kwp).number("tilt_deg", pa.tilt_deg);
        item.number("azimuth_deg", pa.azimuth_deg);
        if (auto checked = item.status(); !checked) return checked;
        s.arrays.push_back(pa);
    }
    return {};
}

// PATCH /api/customers/{id}.
Response patch_customer(ApiContext& ctx, Request& req) {
    json b;
    if (auto p = parse_body(req, {"name", "phone", "email", "address", "notes"}, b); !p) return p.refusal();
    // Every member's type first: a bad body is a 400 whatever the stored record.
    records::Customer unused;
    if (auto p = customer_from(b, unused); !p) return p.refusal();
    const auto number = parse_leading_number<std::int64_t>(req.params.at("id"));
    if (!number) return problem(400, "Bad Request", "id: expected a customer number", "id");
    const std::int64_t id = *number;
    return patch_versioned(
        req,
        [&]() -> Checked<records::Customer> {
            auto c = records::get_customer(*ctx.db, *ctx.cipher, id);
            if (!c) return from_error(c.error());
            if (!*c) return problem(404, "Not Found", "no customer " + std::to_string(id));
            return **c;
        },
        [&](const records::Customer& current) {
            records::Customer next = current;
            (void)customer_from(b, next);  // checked above
            return records::update_customer(*ctx.db, *ctx.cipher, next, current.version, req.user,
                                            ctx.clock->now());
        },
        customer_json);
}

// PUT /api/sites/{site_id}: creates the site, or changes it when it exists.
Response put_site(ApiContext& ctx, Request& req) {
    json b;
    if (auto p = parse_body(
            req,
            {"customer_id", "name", "address", "latitude", "longitude", "time_zone", "arrays", "roof_type",
             "installed_on", "grid_connected_on", "warranty_end", "inspection_interval_days"},
            b);
        !p)
        return p.refusal();
    records::Site unused;
    if (auto p = site_from(b, unused); !p) return p.refusal();
    auto existing = records::get_site(*ctx.db, req.params.at("site_id"));
    if (!existing) return from_error(existing.error());
    records::Site s;
    s.site_id = req.params.at("site_id");
    std::optional<std::int64_t> expected;
    if (*existing) {
        if (auto p = check_if_match(req, (*existing)->version); !p) return p.refusal();
        s = **existing;
        expected = (*existing)->version;
    }
    if (auto p = site_from(b, s); !p) return p.refusal();
    if (*existing && site_json(s) == site_json(**existing)) {
        // Nothing changes: no new version, no audit entry.
        return versioned_response(200, site_json(**existing), (*existing)->version);
    }
    auto saved = records::upsert_site(*ctx.db, s, expected, req.user, ctx.clock->now());
    if (!saved) return from_error(saved.error());
    return versioned_response(*existing ? 200 : 201, site_json(*saved), saved->version);
}

void add_user_routes(Router& router, ApiContext& ctx) {
    router.add("GET", "/api/users", {"Users (admin)", {"admin", "back_office"}, "users"}, [&ctx](Request&) {
        auto users = records::list_users(*ctx.db);
        if (!users) return from_error(users.error());
        json items = json::array();
        for (const auto& u : *users)
            items.push_back({{"name", u.name},
                             {"display_name", u.display_name},
                             {"role", records::to_string(u.role)},
                             {"disabled", u.disabled},
                             {"supervisor", u.supervisor ? json(*u.supervisor) : json(nullptr)}});
        return json_response(200, {{"items", items}});
    });
    router.add_async("POST", "/api/users", {"Create a user (admin)", {"admin"}, "users"},
                     [&ctx](Request& req) { return create_user(ctx, req); });
    // CRM: whom a user's reminders escalate to.
    router.add("PATCH", "/api/users/{name}", {"Set a user's supervisor (admin)", {"admin"}, "users"},
               [&ctx](Request& req) {
                   json b;
                   if (auto p = parse_body(req, {"supervisor"}, b); !p) return p.refusal();
                   if (!b.contains("supervisor"))
                       return problem(400, "Bad Request", "supervisor: required (a user name or null)",
                                      "supervisor");
                   std::optional<std::string> supervisor;
                   BodyReader read(b);
                   read.nullable_text("supervisor", supervisor, 64);
                   if (auto s = read.status(); !s) return s.refusal();
                   auto u = records::set_supervisor(*ctx.db, req.params.at("name"), supervisor, req.user,
                                                    ctx.clock->now());
                   if (!u) return from_error(u.error());
                   return json_response(
                       200, {{"name", u->name},
                             {"display_name", u->display_name},
                             {"role", records::to_string(u->role)},
                             {"disabled", u->disabled},
                             {"supervisor", u->supervisor ? json(*u->supervisor) : json(nullptr)}});
               });
}

// A sales rep reads the customers of their leads and the projects converted from them, a project manager
// those of their projects (projects::customers_in_scope); the office roles read all.
const std::vector<std::string> kCustomerReaders{"admin", "back_office", "manager", "sales",
                                                "project_manager"};

std::optional<projects::CustomerScope> customer_scope_of(const Request& req) {
    if (req.role == "sales") return projects::CustomerScope::sales_rep;
    if (req.role == "project_manager") return projects::CustomerScope::project_manager;
    return std::nullopt;
}

// At most this many customers in one person's scope are listed (a rep's or a project manager's book).
constexpr int kMaxScopedCustomers = 10'000;

void add_customer_routes(Router& router, ApiContext& ctx) {
    router.add(
        "GET", "/api/customers",
        {"Customers (q: search text; cursor pagination; sales reps and project managers: their own)",
         kCustomerReaders, "customers"},
        [&ctx](Request& req) {
            long long limit = 50;
            long long cursor = 0;
            if (auto p = query_int(req, "limit", 1, 500, limit); !p) return p.refusal();
            if (auto p = query_int(req, "cursor", 0, INT64_MAX, cursor); !p) return p.refusal();
            records::CustomerQuery q;
            q.text = req.query_param("q").value_or("");
            q.after_id = cursor;
            q.limit = static_cast<int>(limit + 1);
            if (auto scope = customer_scope_of(req)) {
                auto ids =
                    projects::customers_in_scope(*ctx.db, *scope, req.user, cursor, kMaxScopedCustomers);
                if (!ids) return from_error(ids.error());
                q.only_ids = std::move(*ids);
            }
            auto list = records::list_customers(*ctx.db, *ctx.cipher, q);
            if (!list) return from_error(list.error());
            json items = json::array();
            std::optional<std::int64_t> next;
            for (std::size_t i = 0; i < list->size(); ++i) {
                if (static_cast<long long>(i) == limit) {
                    next = (*list)[i - 1].id;
                    break;
                }
                items.push_back(customer_json((*list)[i]));
            }
            return json_response(
                200, {{"items", items}, {"next_cursor", next ? json(std::to_string(*next)) : json(nullptr)}});
        });
    router.add(
        "POST", "/api/customers", {"Create a customer", kOfficeRoles, "customers"}, [&ctx](Request& req) {
            json b;
            if (auto p = parse_body(req, {"name", "phone", "email", "address", "notes"}, b); !p)
                return p.refusal();
            records::Customer c;
            if (auto p = customer_from(b, c); !p) return p.refusal();
            auto created = records::create_customer(*ctx.db, *ctx.cipher, c, req.user, ctx.clock->now());
            if (!created) return from_error(created.error());
            Response r = versioned_response(201, customer_json(*created), created->version);
            r.headers.emplace("Location", "/api/customers/" + std::to_string(created->id));
            return r;
        });
    router.add("GET", "/api/customers/{id}",
               {"One customer with their sites (sales reps and project managers: their own)",
                kCustomerReaders, "customers"},
               [&ctx](Request& req) {
                   const auto number = parse_leading_number<std::int64_t>(req.params.at("id"));
                   if (!number) return problem(400, "Bad Request", "id: expected a customer number", "id");
                   const std::int64_t id = *number;
                   if (auto scope = customer_scope_of(req)) {
                       // Another's customer is answered as a missing one: a rep learns nothing of it.
                       auto mine = projects::customer_in_scope(*ctx.db, *scope, req.user, id);
                       if (!mine) return from_error(mine.error());
                       if (!*mine)
                           return problem(404, "Not Found",
                                          "no customer " + std::to_string(id) + " of yours");
                   }
                   auto c = records::get_customer(*ctx.db, *ctx.cipher, id);
                   if (!c) return from_error(c.error());
                   if (!*c) return problem(404, "Not Found", "no customer " + std::to_string(id));
                   json j = customer_json(**c);
                   auto sites = records::list_sites(*ctx.db, id, false, "", 500);
                   json sj = json::array();
                   if (sites)
                       for (const auto& s : *sites) sj.push_back(site_json(s));
                   j["sites"] = sj;
                   return versioned_response(200, j, (*c)->version);
               });
    router.add("PATCH", "/api/customers/{id}",
               {"Change a customer (If-Match required)", kOfficeRoles, "customers"},
               [&ctx](Request& req) { return patch_customer(ctx, req); });
}

void add_site_routes(Router& router, ApiContext& ctx) {
    router.add("GET", "/api/sites",
               {"Sites (customer_id, unassigned=1; cursor pagination by site id)", kReadRoles, "sites"},
               [&ctx](Request& req) {
                   long long limit = 100;
                   long long customer = 0;
                   if (auto p = query_int(req, "limit", 1, 1000, limit); !p) return p.refusal();
                   if (auto p = query_int(req, "customer_id", 1, INT64_MAX, customer); !p) return p.refusal();
                   auto list = records::list_sites(
                       *ctx.db, customer > 0 ? std::optional<std::int64_t>(customer) : std::nullopt,
                       req.query_param("unassigned").value_or("") == "1",
                       req.query_param("cursor").value_or(""),
                       static_cast<int>(std::min<long long>(limit + 1, 1000)));
                   if (!list) return from_error(list.error());
                   // At the largest page one more row cannot be fetched: a full page gets a cursor (the next
                   // page may then be empty).
                   if (limit == 1000 && list->size() == 1000) limit = 999;
                   json items = json::array();
                   std::optional<std::string> next;
                   for (std::size_t i = 0; i < list->size(); ++i) {
                       if (static_cast<long long>(i) == limit) {
                           next = (*list)[i - 1].site_id;
                           break;
                       }
                       items.push_back(site_json((*list)[i]));
                   }
                   return json_response(
                       200, {{"items", items}, {"next_cursor", next ? json(*next) : json(nullptr)}});
               });
    router.add("GET", "/api/sites/{site_id}",
               {"One site (technicians: sites of their work orders)", kAllRoles, "sites"},
               [&ctx](Request& req) {
                   if (auto p = check_site_visible(ctx, req, req.params.at("site_id")); !p)
                       return p.refusal();
                   auto s = records::get_site(*ctx.db, req.params.at("site_id"));
                   if (!s) return from_error(s.error());
                   if (!*s) return problem(404, "Not Found", "no site " + req.params.at("site_id"));
                   return versioned_response(200, site_json(**s), (*s)->version);
               });
    router.add("PUT", "/api/sites/{site_id}",
               {"Create or change a site (If-Match required when it exists)", kOfficeRoles, "sites"},
               [&ctx](Request& req) { return put_site(ctx, req); });
}

// Devices are listed and changed under their site (OpenAPI tag "sites").
void add_device_routes(Router& router, ApiContext& ctx) {
    router.add("GET", "/api/sites/{site_id}/devices",
               {"Devices of a site (technicians: sites of their work orders)", kAllRoles, "sites"},
               [&ctx](Request& req) {
                   if (auto p = check_site_visible(ctx, req, req.params.at("site_id")); !p)
                       return p.refusal();
                   auto list = records::list_devices(*ctx.db, req.params.at("site_id"));
                   if (!list) return from_error(list.error());
                   json items = json::array();
                   for (const auto& d : *list) items.push_back(device_json(d));
                   return json_response(200, {{"items", items}});
               });
    router.add("PATCH", "/api/sites/{site_id}/devices/{device_id}",
               {"Change a device's vendor, model, serial, firmware (If-Match)", kOfficeRoles, "sites"},
               [&ctx](Request& req) {
                   json b;
                   if (auto p = parse_body(req, {"vendor", "model", "serial", "firmware", "unit_id"}, b); !p)
                       return p.refusal();
                   records::Device d;
                   if (auto p = device_from(b, d); !p) return p.refusal();
                   auto list = records::list_devices(*ctx.db, req.params.at("site_id"));
                   if (!list) return from_error(list.error());
                   const records::Device* found = nullptr;
                   for (const auto& dev : *list)
                       if (dev.device_id == req.params.at("device_id")) found = &dev;
                   if (found == nullptr)
                       return problem(404, "Not Found", "no device " + req.params.at("device_id"));
                   if (auto p = check_if_match(req, found->version); !p) return p.refusal();
                   d = *found;
                   if (auto p = device_from(b, d); !p) return p.refusal();
                   auto saved =
                       records::update_device(*ctx.db, d, found->version, req.user, ctx.clock->now());
                   if (!saved) return from_error(saved.error());
                   return versioned_response(200, device_json(*saved), saved->version);
               });
}

}  // namespace

// In registration order: users, customers, sites, devices.
void add_record_routes(Router& router, ApiContext& ctx) {
    add_user_routes(router, ctx);
    add_customer_routes(router, ctx);
    add_site_routes(router, ctx);
    add_device_routes(router, ctx);
}

}  // namespace pvfleet::api::detail
