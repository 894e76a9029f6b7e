// Users, customers, sites and devices.
#include "common.hpp"
#include "pvfleet/records/customers.hpp"
#include "routes_auth.hpp"
#include "pvfleet/records/sites.hpp"
#include "pvfleet/records/users.hpp"

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
            {"version", d.version}};
}

// Fields of a customer body; a missing optional field keeps the stored value.
std::optional<Response> customer_from(const json& b, records::Customer& c) {
    for (const char* k : {"name", "phone", "email", "address", "notes"}) {
        if (!b.contains(k)) continue;
        if (!b[k].is_string()) return problem(400, "Bad Request", std::string(k) + ": expected a string", k);
        std::string v = b[k];
        if (std::string_view(k) == "name")
            c.name = v;
        else if (std::string_view(k) == "phone")
            c.phone = v;
        else if (std::string_view(k) == "email")
            c.email = v;
        else if (std::string_view(k) == "address")
            c.address = v;
        else
            c.notes = v;
    }
    return std::nullopt;
}

std::optional<Response> site_from(const json& b, records::Site& s) {
    auto str = [&](const char* k, std::string& out) -> std::optional<Response> {
        if (!b.contains(k)) return std::nullopt;
        if (!b[k].is_string()) return problem(400, "Bad Request", std::string(k) + ": expected a string", k);
        out = b[k];
        return std::nullopt;
    };
    auto opt_str = [&](const char* k, std::optional<std::string>& out) -> std::optional<Response> {
        if (!b.contains(k)) return std::nullopt;
        if (b[k].is_null())
            out.reset();
        else if (!b[k].is_string())
            return problem(400, "Bad Request", std::string(k) + ": expected a date YYYY-MM-DD or null", k);
        else
            out = b[k].get<std::string>();
        return std::nullopt;
    };
    auto opt_num = [&](const char* k, std::optional<double>& out) -> std::optional<Response> {
        if (!b.contains(k)) return std::nullopt;
        if (b[k].is_null())
            out.reset();
        else if (!b[k].is_number())
            return problem(400, "Bad Request", std::string(k) + ": expected a number", k);
        else
            out = b[k].get<double>();
        return std::nullopt;
    };
    if (auto p = str("name", s.name)) return p;
    if (auto p = str("address", s.address)) return p;
    if (auto p = str("time_zone", s.time_zone)) return p;
    if (auto p = str("roof_type", s.roof_type)) return p;
    if (auto p = opt_str("installed_on", s.installed_on)) return p;
    if (auto p = opt_str("grid_connected_on", s.grid_connected_on)) return p;
    if (auto p = opt_str("warranty_end", s.warranty_end)) return p;
    if (auto p = opt_num("latitude", s.latitude)) return p;
    if (auto p = opt_num("longitude", s.longitude)) return p;
    if (b.contains("customer_id")) {
        if (b["customer_id"].is_null())
            s.customer_id.reset();
        else if (!b["customer_id"].is_number_integer())
            return problem(400, "Bad Request", "customer_id: expected an integer or null", "customer_id");
        else
            s.customer_id = b["customer_id"].get<std::int64_t>();
    }
    if (b.contains("inspection_interval_days")) {
        if (!b["inspection_interval_days"].is_number_integer())
            return problem(400, "Bad Request", "inspection_interval_days: expected an integer",
                           "inspection_interval_days");
        s.inspection_interval_days = b["inspection_interval_days"];
    }
    if (b.contains("arrays")) {
        if (!b["arrays"].is_array())
            return problem(400, "Bad Request", "arrays: expected an array", "arrays");
        s.arrays.clear();
        for (std::size_t i = 0; i < b["arrays"].size(); ++i) {
            const auto& a = b["arrays"][i];
            const std::string path = "arrays/" + std::to_string(i);
            if (!a.is_object()) return problem(400, "Bad Request", path + ": expected an object", path);
            records::PvArray pa;
            for (const auto& [k, v] : a.items()) {
                if (k == "name" && v.is_string())
                    pa.name = v;
                else if (k == "kwp" && v.is_number())
                    pa.kwp = v;
                else if (k == "tilt_deg" && v.is_number())
                    pa.tilt_deg = v;
                else if (k == "azimuth_deg" && v.is_number())
                    pa.azimuth_deg = v;
                else
                    return problem(
                        400, "Bad Request",
                        path + "/" + k +
                            ": unknown field or wrong type (expected name, kwp, tilt_deg, azimuth_deg)",
                        path + "/" + k);
            }
            s.arrays.push_back(pa);
        }
    }
    return std::nullopt;
}

}  // namespace

void add_record_routes(Router& router, ApiContext& ctx) {
    router.add("GET", "/api/users", {"Users (admin)", {"admin", "back_office"}, "users"}, [&ctx](Request&) {
        auto users = records::list_users(*ctx.db);
        if (!users) return from_error(users.error());
        json items = json::array();
        for (const auto& u : *users)
            items.push_back({{"name", u.name},
                             {"display_name", u.display_name},
                             {"role", records::to_string(u.role)},
                             {"disabled", u.disabled}});
        return json_response(200, {{"items", items}});
    });
    router.add_async("POST", "/api/users", {"Create a user (admin)", {"admin"}, "users"},
                     [&ctx](Request& req) { return create_user(ctx, req); });

    router.add(
        "GET", "/api/customers", {"Customers (q: search text; cursor pagination)", kReadRoles, "customers"},
        [&ctx](Request& req) {
            long long limit = 50;
            long long cursor = 0;
            if (auto p = query_int(req, "limit", 1, 500, limit)) return *p;
            if (auto p = query_int(req, "cursor", 0, INT64_MAX, cursor)) return *p;
            records::CustomerQuery q;
            q.text = req.query_param("q").value_or("");
            q.after_id = cursor;
            q.limit = static_cast<int>(limit + 1);
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
            if (auto p = parse_body(req, {"name", "phone", "email", "address", "notes"}, b)) return *p;
            records::Customer c;
            if (auto p = customer_from(b, c)) return *p;
            auto created = records::create_customer(*ctx.db, *ctx.cipher, c, req.user, ctx.clock->now());
            if (!created) return from_error(created.error());
            Response r = json_response(201, customer_json(*created));
            r.headers.emplace("ETag", etag_of(created->version));
            r.headers.emplace("Location", "/api/customers/" + std::to_string(created->id));
            return r;
        });
    router.add("GET", "/api/customers/{id}", {"One customer with their sites", kReadRoles, "customers"},
               [&ctx](Request& req) {
                   std::int64_t id = 0;
                   try {
                       id = std::stoll(req.params.at("id"));
                   } catch (const std::exception&) {
                       return problem(400, "Bad Request", "id: expected a customer number", "id");
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
                   Response r = json_response(200, j);
                   r.headers.emplace("ETag", etag_of((*c)->version));
                   return r;
               });
    router.add("PATCH", "/api/customers/{id}",
               {"Change a customer (If-Match required)", kOfficeRoles, "customers"}, [&ctx](Request& req) {
                   json b;
                   if (auto p = parse_body(req, {"name", "phone", "email", "address", "notes"}, b)) return *p;
                   std::int64_t id = 0;
                   try {
                       id = std::stoll(req.params.at("id"));
                   } catch (const std::exception&) {
                       return problem(400, "Bad Request", "id: expected a customer number", "id");
                   }
                   auto c = records::get_customer(*ctx.db, *ctx.cipher, id);
                   if (!c) return from_error(c.error());
                   if (!*c) return problem(404, "Not Found", "no customer " + std::to_string(id));
                   if (auto p = check_if_match(req, (*c)->version)) return *p;
                   records::Customer next = **c;
                   if (auto p = customer_from(b, next)) return *p;
                   auto saved = records::update_customer(*ctx.db, *ctx.cipher, next, (*c)->version, req.user,
                                                         ctx.clock->now());
                   if (!saved) return from_error(saved.error());
                   Response r = json_response(200, customer_json(*saved));
                   r.headers.emplace("ETag", etag_of(saved->version));
                   return r;
               });

    router.add("GET", "/api/sites",
               {"Sites (customer_id, unassigned=1; cursor pagination by site id)", kReadRoles, "sites"},
               [&ctx](Request& req) {
                   long long limit = 100;
                   long long customer = 0;
                   if (auto p = query_int(req, "limit", 1, 1000, limit)) return *p;
                   if (auto p = query_int(req, "customer_id", 1, INT64_MAX, customer)) return *p;
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
    router.add("GET", "/api/sites/{site_id}", {"One site", kAllRoles, "sites"}, [&ctx](Request& req) {
        auto s = records::get_site(*ctx.db, req.params.at("site_id"));
        if (!s) return from_error(s.error());
        if (!*s) return problem(404, "Not Found", "no site " + req.params.at("site_id"));
        Response r = json_response(200, site_json(**s));
        r.headers.emplace("ETag", etag_of((*s)->version));
        return r;
    });
    router.add("PUT", "/api/sites/{site_id}",
               {"Create or change a site (If-Match required when it exists)", kOfficeRoles, "sites"},
               [&ctx](Request& req) {
                   json b;
                   if (auto p = parse_body(req,
                                           {"customer_id", "name", "address", "latitude", "longitude",
                                            "time_zone", "arrays", "roof_type", "installed_on",
                                            "grid_connected_on", "warranty_end", "inspection_interval_days"},
                                           b))
                       return *p;
                   auto existing = records::get_site(*ctx.db, req.params.at("site_id"));
                   if (!existing) return from_error(existing.error());
                   records::Site s;
                   s.site_id = req.params.at("site_id");
                   std::optional<std::int64_t> expected;
                   if (*existing) {
                       if (auto p = check_if_match(req, (*existing)->version)) return *p;
                       s = **existing;
                       expected = (*existing)->version;
                   }
                   if (auto p = site_from(b, s)) return *p;
                   auto saved = records::upsert_site(*ctx.db, s, expected, req.user, ctx.clock->now());
                   if (!saved) return from_error(saved.error());
                   Response r = json_response(*existing ? 200 : 201, site_json(*saved));
                   r.headers.emplace("ETag", etag_of(saved->version));
                   return r;
               });
    router.add("GET", "/api/sites/{site_id}/devices", {"Devices of a site", kAllRoles, "sites"},
               [&ctx](Request& req) {
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
                   if (auto p = parse_body(req, {"vendor", "model", "serial", "firmware", "unit_id"}, b))
                       return *p;
                   auto list = records::list_devices(*ctx.db, req.params.at("site_id"));
                   if (!list) return from_error(list.error());
                   const records::Device* found = nullptr;
                   for (const auto& d : *list)
                       if (d.device_id == req.params.at("device_id")) found = &d;
                   if (found == nullptr)
                       return problem(404, "Not Found", "no device " + req.params.at("device_id"));
                   if (auto p = check_if_match(req, found->version)) return *p;
                   records::Device d = *found;
                   for (const char* k : {"vendor", "model", "serial", "firmware"}) {
                       if (!b.contains(k)) continue;
                       if (!b[k].is_string())
                           return problem(400, "Bad Request", std::string(k) + ": expected a string", k);
                       const std::string v = b[k];
                       if (std::string_view(k) == "vendor")
                           d.vendor = v;
                       else if (std::string_view(k) == "model")
                           d.model = v;
                       else if (std::string_view(k) == "serial")
                           d.serial = v;
                       else
                           d.firmware = v;
                   }
                   if (b.contains("unit_id")) {
                       if (!b["unit_id"].is_number_integer())
                           return problem(400, "Bad Request", "unit_id: expected an integer", "unit_id");
                       d.unit_id = b["unit_id"].get<std::int64_t>();
                   }
                   auto saved =
                       records::update_device(*ctx.db, d, found->version, req.user, ctx.clock->now());
                   if (!saved) return from_error(saved.error());
                   Response r = json_response(200, device_json(*saved));
                   r.headers.emplace("ETag", etag_of(saved->version));
                   return r;
               });
}

}  // namespace pvfleet::api::detail
