#include "pvfleet/records/sites.hpp"

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>
#include <tuple>

#include "internal.hpp"
#include "pvfleet/records/field_checks.hpp"
#include "pvfleet/storage/work_orders.hpp"

namespace pvfleet::records {
namespace {

using nlohmann::json;
using storage::Params;
using storage::Row;
using storage::Value;

constexpr const char* kSiteColumns =
    "site_id, customer_id, name, address, latitude, longitude, time_zone, arrays, roof_type, installed_on, "
    "grid_connected_on, warranty_end, inspection_interval_days, first_seen_ms, version, commissioned_on";
constexpr const char* kDeviceColumns =
    "site_id, device_id, vendor, model, serial, firmware, unit_id, first_seen_ms, last_seen_ms, version, "
    "wired_inputs";
constexpr int kMaxSitesPerPage = 1000;

std::optional<double> opt_real(const Row& row, std::size_t i) {
    if (row.is_null(i)) return std::nullopt;
    return row.real(i);
}

template <class T>
Value nullable(const std::optional<T>& v) {
    if (!v) return nullptr;
    if constexpr (std::is_same_v<T, TimePoint>)
        return std::int64_t{to_epoch_ms(*v)};
    else
        return *v;
}

json arrays_json(const std::vector<PvArray>& arrays) {
    json out = json::array();
    for (const auto& a : arrays)
        out.push_back(
            {{"name", a.name}, {"kwp", a.kwp}, {"tilt_deg", a.tilt_deg}, {"azimuth_deg", a.azimuth_deg}});
    return out;
}

Result<std::vector<PvArray>> parse_arrays(const std::string& site_id, const std::string& text) {
    try {
        std::vector<PvArray> out;
        for (const auto& a : json::parse(text))
            out.push_back(PvArray{a.value("name", std::string()), a.value("kwp", 0.0),
                                  a.value("tilt_deg", 0.0), a.value("azimuth_deg", 180.0)});
        return out;
    } catch (const json::exception& e) {
        return Error{"site " + site_id + "/arrays: stored value is not valid: " + e.what(), ErrorKind::io};
    }
}

Result<Site> site_from_row(const Row& row) {
    Site s;
    s.site_id = row.text(0);
    s.customer_id = row.opt_integer(1);
    s.name = row.text(2);
    s.address = row.text(3);
    s.latitude = opt_real(row, 4);
    s.longitude = opt_real(row, 5);
    s.time_zone = row.text(6);
    auto arrays = parse_arrays(s.site_id, row.text(7));
    if (!arrays) return arrays.error();
    s.arrays = std::move(*arrays);
    s.roof_type = row.text(8);
    s.installed_on = row.opt_text(9);
    s.grid_connected_on = row.opt_text(10);
    s.warranty_end = row.opt_text(11);
    s.inspection_interval_days = static_cast<int>(row.integer(12));
    if (auto ms = row.opt_integer(13)) s.first_seen = from_epoch_ms(*ms);
    s.version = row.integer(14);
    s.commissioned_on = row.opt_text(15);
    return s;
}

// The site's address and exact position locate a household: the audit log keeps the address masked and the
// position to about a kilometre.
std::string site_audit_json(const Site& s) {
    auto coarse = [](const std::optional<double>& v) -> json {
        if (!v) return nullptr;
        return std::round(*v * 100) / 100;
    };
    auto text_or_null = [](const std::optional<std::string>& v) -> json {
        return v ? json(*v) : json(nullptr);
    };
    return json{{"site_id", s.site_id},
                {"customer_id", s.customer_id ? json(*s.customer_id) : json(nullptr)},
                {"name", s.name},
                {"address", detail::mask(s.address)},
                {"latitude", coarse(s.latitude)},
                {"longitude", coarse(s.longitude)},
                {"time_zone", s.time_zone},
                {"arrays", arrays_json(s.arrays)},
                {"roof_type", s.roof_type},
                {"installed_on", text_or_null(s.installed_on)},
                {"grid_connected_on", text_or_null(s.grid_connected_on)},
                {"warranty_end", text_or_null(s.warranty_end)},
                {"commissioned_on", text_or_null(s.commissioned_on)},
                {"inspection_interval_days", s.inspection_interval_days},
                {"version", s.version}}
        .dump();
}

Device device_from_row(const Row& row) {
    Device d;
    d.site_id = row.text(0);
    d.device_id = row.text(1);
    d.vendor = row.text(2);
    d.model = row.text(3);
    d.serial = row.text(4);
    d.firmware = row.text(5);
    d.unit_id = row.opt_integer(6);
    if (auto ms = row.opt_integer(7)) d.first_seen = from_epoch_ms(*ms);
    if (auto ms = row.opt_integer(8)) d.last_seen = from_epoch_ms(*ms);
    d.version = row.integer(9);
    if (auto wired = row.opt_text(10)) {
        auto j = json::parse(*wired, nullptr, false);
        if (j.is_array()) {
            std::vector<int> inputs;
            for (const auto& v : j)
                if (v.is_number_integer()) inputs.push_back(v.get<int>());
            d.wired_inputs = std::move(inputs);
        }
    }
    return d;
}

std::string device_audit_json(const Device& d, std::optional<std::int64_t> work_order_id = {}) {
    json j{{"site_id", d.site_id},
           {"device_id", d.device_id},
           {"vendor", d.vendor},
           {"model", d.model},
           {"serial", d.serial},
           {"firmware", d.firmware},
           {"unit_id", d.unit_id ? json(*d.unit_id) : json(nullptr)},
           {"version", d.version}};
    if (work_order_id) j["work_order_id"] = *work_order_id;
    return j.dump();
}

Result<std::optional<Device>> load_device(storage::Db& db, const std::string& site_id,
                                          const std::string& device_id) {
    auto r = db.run(
        std::string("SELECT ") + kDeviceColumns + " FROM devices WHERE site_id = $1 AND device_id = $2",
        {site_id, device_id});
    if (!r) return r.error();
    if (r->rows.empty()) return std::optional<Device>{};
    return std::optional<Device>{device_from_row(r->rows[0])};
}

Status site_must_exist(storage::Db& db, const std::string& site_id) {
    auto r = db.run("SELECT 1 FROM sites WHERE site_id = $1", {site_id});
    if (!r) return r.error();
    if (r->rows.empty()) return Error{"site " + site_id + ": not found", ErrorKind::not_found};
    return {};
}

std::vector<Error> validate_device(const Device& d) {
    std::vector<Error> errors;
    auto add = [&](const char* field, const detail::Problem& p) {
        if (p) errors.push_back(Error::at(field, *p));
    };
    if (d.device_id.empty()) errors.push_back(Error::at("device_id", "required"));
    add("device_id", detail::check_text(d.device_id, 64));
    add("vendor", detail::check_text(d.vendor, 128));
    add("model", detail::check_text(d.model, 128));
    add("serial", detail::check_text(d.serial, 128));
    add("firmware", detail::check_text(d.firmware, 128));
    if (d.unit_id && (*d.unit_id < 0 || *d.unit_id > 255))
        errors.push_back(Error::at("unit_id", "must be between 0 and 255"));
    return errors;
}

bool same_device_fields(const Device& a, const Device& b) {
    return a.vendor == b.vendor && a.model == b.model && a.serial == b.serial && a.firmware == b.firmware &&
           a.unit_id == b.unit_id;
}

constexpr std::string_view kRoles[] = {"owner", "installer", "om_contractor"};

std::string roles_audit_json(const std::vector<SiteRole>& roles) {
    json out = json::array();
    // The owner is a private person: masked like other personal data outside the encrypted customer record.
    for (const auto& r : roles)
        out.push_back({{"role", r.role}, {"party", r.role == "owner" ? detail::mask(r.party) : r.party}});
    return out.dump();
}

}  // namespace

std::vector<Error> validate_site(const Site& s) {
    std::vector<Error> errors;
    auto add = [&](const std::string& field, const detail::Problem& p) {
        if (p) errors.push_back(Error::at(field, *p));
    };
    add("site_id", detail::check_site_id(s.site_id));
    if (s.customer_id && *s.customer_id <= 0) errors.push_back(Error::at("customer_id", "must be positive"));
    add("name", detail::check_text(s.name, 200));
    add("address", detail::check_text(s.address, 500));
    if (s.latitude) add("latitude", detail::check_latitude(*s.latitude));
    if (s.longitude) add("longitude", detail::check_longitude(*s.longitude));
    if (s.latitude.has_value() != s.longitude.has_value())
        errors.push_back(s.latitude ? Error::at("longitude", "required when latitude is given")
                                    : Error::at("latitude", "required when longitude is given"));
    add("time_zone", detail::check_time_zone(s.time_zone));
    for (std::size_t i = 0; i < s.arrays.size(); ++i) {
        const auto base = "arrays/" + std::to_string(i) + "/";
        add(base + "name", detail::check_text(s.arrays[i].name, 100));
        add(base + "kwp", detail::check_kwp(s.arrays[i].kwp));
        add(base + "tilt_deg", detail::check_tilt(s.arrays[i].tilt_deg));
        add(base + "azimuth_deg", detail::check_azimuth(s.arrays[i].azimuth_deg));
    }
    add("roof_type", detail::check_text(s.roof_type, 100));
    if (s.installed_on) add("installed_on", detail::check_date(*s.installed_on));
    if (s.grid_connected_on) add("grid_connected_on", detail::check_date(*s.grid_connected_on));
    if (s.warranty_end) add("warranty_end", detail::check_date(*s.warranty_end));
    if (s.inspection_interval_days < 1 || s.inspection_interval_days > 3650)
        errors.push_back(Error::at("inspection_interval_days", "must be between 1 and 3650"));
    return errors;
}

namespace detail {

void normalize_site(Site& s) {
    s.name = trim(s.name);
    s.address = trim(s.address);
    s.time_zone = trim(s.time_zone);
    s.roof_type = trim(s.roof_type);
    for (auto& a : s.arrays) a.name = trim(a.name);
    for (auto* d : {&s.installed_on, &s.grid_connected_on, &s.warranty_end})
        if (*d && trim(**d).empty()) d->reset();
}

Result<std::optional<Site>> load_site(storage::Db& db, const std::string& site_id) {
    auto r = db.run(std::string("SELECT ") + kSiteColumns + " FROM sites WHERE site_id = $1", {site_id});
    if (!r) return r.error();
    if (r->rows.empty()) return std::optional<Site>{};
    auto s = site_from_row(r->rows[0]);
    if (!s) return s.error();
    return std::optional<Site>{std::move(*s)};
}

Result<Site> write_site(storage::Db& db, Site s, const std::optional<Site>& before, const std::string& actor,
                        const std::string& action, TimePoint now) {
    const std::int64_t ms = to_epoch_ms(now);
    Params p{s.site_id,
             nullable(s.customer_id),
             s.name,
             s.address,
             nullable(s.latitude),
             nullable(s.longitude),
             s.time_zone,
             arrays_json(s.arrays).dump(),
             s.roof_type,
             nullable(s.installed_on),
             nullable(s.grid_connected_on),
             nullable(s.warranty_end),
             std::int64_t{s.inspection_interval_days},
             ms};
    if (!before) {
        p.push_back(nullable(s.first_seen));
        auto r = db.run(
            "INSERT INTO sites (site_id, customer_id, name, address, latitude, longitude, time_zone, arrays, "
            "roof_type, installed_on, grid_connected_on, warranty_end, inspection_interval_days, "
            "created_at_ms, "
            "updated_at_ms, first_seen_ms, version) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, "
            "$12, $13, "
            "$14, $14, $15, 1) ON CONFLICT (site_id) DO NOTHING",
            p);
        if (!r) return r.error();
        // A gateway reported this site for the first time while we were writing it.
        if (r->affected == 0)
            return Error::at("site_id", "site " + s.site_id + " was created meanwhile: retry",
                             ErrorKind::conflict);
        s.version = 1;
    } else {
        p.push_back(before->version);
        auto r = db.run(
            "UPDATE sites SET customer_id = $2, name = $3, address = $4, latitude = $5, longitude = $6, "
            "time_zone = $7, arrays = $8, roof_type = $9, installed_on = $10, grid_connected_on = $11, "
            "warranty_end = $12, inspection_interval_days = $13, updated_at_ms = $14, version = version + 1 "
            "WHERE site_id = $1 AND version = $15",
            p);
        if (!r) return r.error();
        if (r->affected == 0)
            return Error::at("version", "site " + s.site_id + " was changed meanwhile: reload it",
                             ErrorKind::conflict);
        s.version = before->version + 1;
        s.first_seen = before->first_seen;
    }
    if (auto a = storage::append_audit(
            db, now, actor, action, "site", s.site_id,
            before ? std::optional<std::string>(site_audit_json(*before)) : std::nullopt, site_audit_json(s));
        !a)
        return a.error();
    return s;
}

}  // namespace detail

Result<std::vector<Site>> list_sites(storage::Db& db, std::optional<std::int64_t> customer_id,
                                     bool unassigned_only, const std::string& after_site_id, int limit) {
    if (limit < 1 || limit > kMaxSitesPerPage)
        return Error::at("limit", "must be between 1 and " + std::to_string(kMaxSitesPerPage));
    if (customer_id && unassigned_only)
        return Error::at("unassigned_only", "cannot be combined with a customer");
    std::string sql = std::string("SELECT ") + kSiteColumns + " FROM sites WHERE site_id > $1";
    Params p{after_site_id, std::int64_t{limit}};
    if (customer_id) {
        sql += " AND customer_id = $3";
        p.emplace_back(*customer_id);
    }
    if (unassigned_only) sql += " AND customer_id IS NULL";
    sql += " ORDER BY site_id LIMIT $2";
    auto r = db.run(sql, p);
    if (!r) return r.error();
    std::vector<Site> out;
    out.reserve(r->rows.size());
    for (const Row& row : r->rows) {
        auto s = site_from_row(row);
        if (!s) return s.error();
        out.push_back(std::move(*s));
    }
    return out;
}

Result<std::optional<Site>> get_site(storage::Db& db, const std::string& site_id) {
    return detail::load_site(db, site_id);
}

Result<Site> upsert_site(storage::Db& db, Site s, std::optional<std::int64_t> expected_version,
                         const std::string& actor, TimePoint now) {
    detail::normalize_site(s);
    if (auto errors = validate_site(s); !errors.empty()) return errors.front();
    return storage::in_transaction(db, [&]() -> Result<Site> {
        if (s.customer_id) {
            auto c = db.run("SELECT 1 FROM customers WHERE id = $1", {*s.customer_id});
            if (!c) return c.error();
            if (c->rows.empty())
                return Error::at("customer_id", "no customer " + std::to_string(*s.customer_id));
        }
        auto before = detail::load_site(db, s.site_id);
        if (!before) return before.error();
        if (!*before) {
            if (expected_version) return Error{"site " + s.site_id + ": not found", ErrorKind::not_found};
            return detail::write_site(db, s, std::nullopt, actor, "create", now);
        }
        if (expected_version && *expected_version != (*before)->version)
            return Error::at("version",
                             "site " + s.site_id + " is at version " + std::to_string((*before)->version) +
                                 ", not " + std::to_string(*expected_version) +
                                 " (changed by someone else: reload it)",
                             ErrorKind::conflict);
        return detail::write_site(db, s, *before, actor, "update", now);
    });
}

Result<Site> create_site_in_transaction(storage::Db& db, Site s, const std::string& actor, TimePoint now) {
    detail::normalize_site(s);
    if (auto errors = validate_site(s); !errors.empty()) return errors.front();
    auto before = detail::load_site(db, s.site_id);
    if (!before) return before.error();
    if (*before) return Error::at("site_id", "site " + s.site_id + " exists already", ErrorKind::conflict);
    return detail::write_site(db, s, std::nullopt, actor, "create", now);
}

Result<Site> set_site_milestone_dates_in_transaction(storage::Db& db, const std::string& site_id,
                                                     const SiteMilestoneDates& change,
                                                     const std::string& actor, TimePoint now) {
    for (const auto* d : {&change.grid_connected_on, &change.commissioned_on, &change.warranty_end})
        if (*d && **d)
            if (auto e = detail::check_date(***d)) return Error::at("site/" + site_id, *e);
    auto loaded = detail::load_site(db, site_id);
    if (!loaded) return loaded.error();
    if (!*loaded) return Error{"site " + site_id + ": not found", ErrorKind::not_found};
    const Site& before = **loaded;
    Site s = before;
    if (change.grid_connected_on) s.grid_connected_on = *change.grid_connected_on;
    if (change.commissioned_on) s.commissioned_on = *change.commissioned_on;
    if (change.warranty_end) s.warranty_end = *change.warranty_end;
    if (s.grid_connected_on == before.grid_connected_on && s.commissioned_on == before.commissioned_on &&
        s.warranty_end == before.warranty_end)
        return s;
    // The version check makes a concurrent editor's save a conflict (412), as any other change of the site.
    auto r = db.run(
        "UPDATE sites SET grid_connected_on = $2, commissioned_on = $3, warranty_end = $4, updated_at_ms = "
        "$5, "
        "version = version + 1 WHERE site_id = $1 AND version = $6",
        {site_id, nullable(s.grid_connected_on), nullable(s.commissioned_on), nullable(s.warranty_end),
         std::int64_t{to_epoch_ms(now)}, before.version});
    if (!r) return r.error();
    if (r->affected == 0)
        return Error::at("version", "site " + site_id + " was changed meanwhile: retry", ErrorKind::conflict);
    s.version = before.version + 1;
    if (auto a = storage::append_audit(db, now, actor, "milestone dates", "site", site_id,
                                       site_audit_json(before), site_audit_json(s));
        !a)
        return a.error();
    return s;
}

Result<std::vector<Device>> list_devices(storage::Db& db, const std::string& site_id) {
    if (auto s = site_must_exist(db, site_id); !s) return s.error();
    auto r = db.run(
        std::string("SELECT ") + kDeviceColumns + " FROM devices WHERE site_id = $1 ORDER BY device_id",
        {site_id});
    if (!r) return r.error();
    std::vector<Device> out;
    out.reserve(r->rows.size());
    for (const Row& row : r->rows) out.push_back(device_from_row(row));
    return out;
}

Result<Device> update_device(storage::Db& db, Device d, std::optional<std::int64_t> expected_version,
                             const std::string& actor, TimePoint now,
                             std::optional<std::int64_t> work_order_id) {
    for (auto* field : {&d.vendor, &d.model, &d.serial, &d.firmware}) *field = detail::trim(*field);
    if (auto errors = validate_device(d); !errors.empty()) return errors.front();
    return storage::in_transaction(db, [&]() -> Result<Device> {
        if (auto s = site_must_exist(db, d.site_id); !s) return s.error();
        if (work_order_id) {
            auto w = db.run("SELECT 1 FROM work_orders WHERE id = $1", {*work_order_id});
            if (!w) return w.error();
            if (w->rows.empty())
                return Error::at("work_order_id", "no work order " + std::to_string(*work_order_id));
        }
        auto before = load_device(db, d.site_id, d.device_id);
        if (!before) return before.error();
        const std::string entity_id = d.site_id + "/" + d.device_id;
        if (!*before) {
            if (expected_version) return Error{"device " + entity_id + ": not found", ErrorKind::not_found};
            auto r = db.run(
                "INSERT INTO devices (site_id, device_id, vendor, model, serial, firmware, unit_id, version) "
                "VALUES "
                "($1, $2, $3, $4, $5, $6, $7, 1) ON CONFLICT (site_id, device_id) DO NOTHING",
                {d.site_id, d.device_id, d.vendor, d.model, d.serial, d.firmware, nullable(d.unit_id)});
            if (!r) return r.error();
            if (r->affected == 0)
                return Error::at("device_id", "device " + entity_id + " was created meanwhile: retry",
                                 ErrorKind::conflict);
            d.version = 1;
            d.first_seen.reset();
            d.last_seen.reset();
            if (auto a = storage::append_audit(db, now, actor, "create", "device", entity_id, std::nullopt,
                                               device_audit_json(d, work_order_id));
                !a)
                return a.error();
            return d;
        }
        const Device& old = **before;
        if (expected_version && *expected_version != old.version)
            return Error::at("version",
                             "device " + entity_id + " is at version " + std::to_string(old.version) +
                                 ", not " + std::to_string(*expected_version) +
                                 " (changed by someone else: reload it)",
                             ErrorKind::conflict);
        if (same_device_fields(d, old)) return old;
        auto r = db.run(
            "UPDATE devices SET vendor = $3, model = $4, serial = $5, firmware = $6, unit_id = $7, version = "
            "version + 1 WHERE site_id = $1 AND device_id = $2 AND version = $8",
            {d.site_id, d.device_id, d.vendor, d.model, d.serial, d.firmware, nullable(d.unit_id),
             old.version});
        if (!r) return r.error();
        if (r->affected == 0)
            return Error::at("version", "device " + entity_id + " was changed meanwhile: reload it",
                             ErrorKind::conflict);
        // A new serial means new hardware: the history tells warranty claims and yield analyses which unit
        // was in place when.
        if (d.serial != old.serial) {
            auto h = db.run(
                "INSERT INTO device_history (site_id, device_id, at_ms, old_serial, new_serial, "
                "work_order_id) "
                "VALUES ($1, $2, $3, $4, $5, $6)",
                {d.site_id, d.device_id, std::int64_t{to_epoch_ms(now)}, old.serial, d.serial,
                 nullable(work_order_id)});
            if (!h) return h.error();
        }
        d.version = old.version + 1;
        d.first_seen = old.first_seen;
        d.last_seen = old.last_seen;
        if (auto a = storage::append_audit(
                db, now, actor, d.serial != old.serial ? "replace serial" : "update", "device", entity_id,
                device_audit_json(old), device_audit_json(d, work_order_id));
            !a)
            return a.error();
        return d;
    });
}

Result<std::vector<DeviceHistoryEntry>> device_history(storage::Db& db, const std::string& site_id,
                                                       const std::string& device_id) {
    auto r = db.run(
        "SELECT at_ms, old_serial, new_serial, work_order_id FROM device_history WHERE site_id = $1 AND "
        "device_id = $2 ORDER BY id",
        {site_id, device_id});
    if (!r) return r.error();
    std::vector<DeviceHistoryEntry> out;
    for (const Row& row : r->rows)
        out.push_back(DeviceHistoryEntry{site_id, device_id, from_epoch_ms(row.integer(0)), row.text(1),
                                         row.text(2), row.opt_integer(3)});
    return out;
}

Result<std::vector<SiteRole>> site_roles(storage::Db& db, const std::string& site_id) {
    if (auto s = site_must_exist(db, site_id); !s) return s.error();
    auto r = db.run("SELECT role, party FROM site_roles WHERE site_id = $1 ORDER BY role, party", {site_id});
    if (!r) return r.error();
    std::vector<SiteRole> out;
    for (const Row& row : r->rows) out.push_back(SiteRole{row.text(0), row.text(1)});
    return out;
}

Status set_site_roles(storage::Db& db, const std::string& site_id, const std::vector<SiteRole>& roles,
                      const std::string& actor, TimePoint now) {
    std::vector<SiteRole> wanted;
    for (std::size_t i = 0; i < roles.size(); ++i) {
        const auto base = "roles/" + std::to_string(i) + "/";
        SiteRole r{detail::trim(roles[i].role), detail::trim(roles[i].party)};
        if (std::find(std::begin(kRoles), std::end(kRoles), r.role) == std::end(kRoles))
            return Error::at(base + "role",
                             "unknown '" + r.role + "' (expected owner, installer, om_contractor)");
        if (r.party.empty()) return Error::at(base + "party", "required");
        if (auto p = detail::check_text(r.party, 200)) return Error::at(base + "party", *p);
        for (std::size_t j = 0; j < wanted.size(); ++j)
            if (wanted[j].role == r.role && wanted[j].party == r.party)
                return Error::at("roles/" + std::to_string(i), "same as roles/" + std::to_string(j));
        wanted.push_back(std::move(r));
    }
    std::sort(wanted.begin(), wanted.end(), [](const SiteRole& a, const SiteRole& b) {
        return std::tie(a.role, a.party) < std::tie(b.role, b.party);
    });
    return storage::in_transaction(db, [&]() -> Status {
        auto before = site_roles(db, site_id);
        if (!before) return before.error();
        const bool same = std::equal(
            before->begin(), before->end(), wanted.begin(), wanted.end(),
            [](const SiteRole& a, const SiteRole& b) { return a.role == b.role && a.party == b.party; });
        if (same) return {};
        if (auto d = db.run("DELETE FROM site_roles WHERE site_id = $1", {site_id}); !d) return d.error();
        for (const auto& r : wanted)
            if (auto i = db.run("INSERT INTO site_roles (site_id, role, party) VALUES ($1, $2, $3)",
                                {site_id, r.role, r.party});
                !i)
                return i.error();
        return storage::append_audit(db, now, actor, "set roles", "site", site_id, roles_audit_json(*before),
                                     roles_audit_json(wanted));
    });
}

}  // namespace pvfleet::records
