// Leads, their inquiries and touches, and capture channels: reads, changes and the audit log.
#include "pvfleet/leads/repository.hpp"

#include <openssl/evp.h>
#include <openssl/rand.h>

#include <algorithm>
#include <array>
#include <stdexcept>

#include "pvfleet/records/field_checks.hpp"
#include "pvfleet/storage/work_orders.hpp"
#include "rows.hpp"

namespace pvfleet::leads {
namespace detail {

using storage::Row;
using storage::Value;

const char* const kLeadColumns =
    "id, status, name_enc, phone_enc, email_enc, address_enc, notes_enc, postcode, region, roof_type, "
    "monthly_bill, annual_consumption_kwh, desired_kwp, budget, source, channel_id, utm, consent_contact, "
    "consent_marketing, score, score_detail, assignee, assigned_at_ms, first_touch_at_ms, last_touch_at_ms, "
    "next_step_on, customer_id, created_by, created_at_ms, updated_at_ms, version";

namespace {

std::optional<double> opt_real(const Row& row, std::size_t i) {
    if (row.is_null(i)) return std::nullopt;
    return row.real(i);
}
std::optional<TimePoint> opt_time(const Row& row, std::size_t i) {
    if (row.is_null(i)) return std::nullopt;
    return from_epoch_ms(row.integer(i));
}

}  // namespace

Value opt(const std::optional<double>& v) {
    return v ? Value{*v} : Value{nullptr};
}
Value opt(const std::optional<std::int64_t>& v) {
    return v ? Value{*v} : Value{nullptr};
}
Value opt(const std::optional<std::string>& v) {
    return v ? Value{*v} : Value{nullptr};
}
Value opt_ms(const std::optional<TimePoint>& v) {
    return v ? Value{std::int64_t{to_epoch_ms(*v)}} : Value{nullptr};
}

std::string utm_json(const Utm& u) {
    return nlohmann::json{{"source", u.source},
                          {"medium", u.medium},
                          {"campaign", u.campaign},
                          {"term", u.term},
                          {"content", u.content}}
        .dump();
}

Utm utm_from_json(const std::string& text) {
    const auto j = nlohmann::json::parse(text, nullptr, false);
    Utm u;
    if (!j.is_object()) return u;
    auto get = [&](const char* k) { return j.contains(k) && j[k].is_string() ? j[k].get<std::string>() : ""; };
    return Utm{get("source"), get("medium"), get("campaign"), get("term"), get("content")};
}

std::string score_json(const std::vector<std::pair<std::string, int>>& detail) {
    nlohmann::json j = nlohmann::json::array();
    for (const auto& [rule, points] : detail) j.push_back({rule, points});
    return j.dump();
}

Result<Lead> lead_from_row(const records::FieldCipher& cipher, const Row& row) {
    Lead l;
    l.id = row.integer(0);
    l.status = enum_from_name(kStatusNames, row.text(1)).value_or(LeadStatus::new_lead);
    const std::pair<const char*, std::string*> fields[] = {
        {"name", &l.name}, {"phone", &l.phone}, {"email", &l.email}, {"address", &l.address}, {"notes", &l.notes}};
    for (std::size_t i = 0; i < std::size(fields); ++i) {
        auto plain = cipher.decrypt(row.text(i + 2));
        if (!plain)
            return Error{"lead " + std::to_string(l.id) + "/" + fields[i].first + ": cannot decrypt (" +
                             plain.error().message + "; is this the database's key file?)",
                         ErrorKind::io};
        *fields[i].second = std::move(*plain);
    }
    l.postcode = row.text(7);
    l.region = row.text(8);
    l.roof_type = enum_from_name(kRoofNames, row.text(9)).value_or(RoofType::unknown);
    l.monthly_bill = opt_real(row, 10);
    l.annual_consumption_kwh = opt_real(row, 11);
    l.desired_kwp = opt_real(row, 12);
    l.budget = opt_real(row, 13);
    l.source = enum_from_name(kSourceNames, row.text(14)).value_or(Source::other);
    l.channel_id = row.opt_integer(15);
    l.utm = utm_from_json(row.text(16));
    l.consent_contact = row.integer(17) != 0;
    l.consent_marketing = row.integer(18) != 0;
    l.score = static_cast<int>(row.integer(19));
    const auto detail = nlohmann::json::parse(row.text(20), nullptr, false);
    if (detail.is_array())
        for (const auto& d : detail)
            if (d.is_array() && d.size() == 2 && d[0].is_string() && d[1].is_number_integer())
                l.score_detail.emplace_back(d[0].get<std::string>(), d[1].get<int>());
    l.assignee = row.opt_text(21);
    l.assigned_at = opt_time(row, 22);
    l.first_touch_at = opt_time(row, 23);
    l.last_touch_at = opt_time(row, 24);
    l.next_step_on = row.opt_text(25);
    l.customer_id = row.opt_integer(26);
    l.created_by = row.text(27);
    l.created_at = from_epoch_ms(row.integer(28));
    l.updated_at = from_epoch_ms(row.integer(29));
    l.version = row.integer(30);
    return l;
}

EncryptedLead encrypt(const records::FieldCipher& cipher, const Lead& l) {
    return EncryptedLead{cipher.encrypt(l.name), cipher.encrypt(l.phone), cipher.encrypt(l.email),
                         cipher.encrypt(l.address), cipher.encrypt(l.notes)};
}

std::string audit_json(const Lead& l, const EncryptedLead& enc) {
    return nlohmann::json{{"id", l.id},
                          {"status", enum_name(kStatusNames, l.status)},
                          {"name_enc", enc.name},
                          {"phone_enc", enc.phone},
                          {"email_enc", enc.email},
                          {"address_enc", enc.address},
                          {"notes_enc", enc.notes},
                          {"postcode_length", l.postcode.size()},
                          {"region", l.region},
                          {"roof_type", enum_name(kRoofNames, l.roof_type)},
                          {"source", enum_name(kSourceNames, l.source)},
                          {"score", l.score},
                          {"assignee", l.assignee ? nlohmann::json(*l.assignee) : nlohmann::json()},
                          {"consent_contact", l.consent_contact},
                          {"consent_marketing", l.consent_marketing},
                          {"version", l.version}}
        .dump();
}

std::vector<std::pair<std::string, std::string>> contact_keys(const records::FieldCipher& cipher, const Lead& lead,
                                                              const std::string& default_country_code) {
    std::vector<std::pair<std::string, std::string>> keys;
    if (auto phone = normalise_phone(lead.phone, default_country_code))
        keys.emplace_back("phone", cipher.blind_index("lead phone", *phone));
    if (const auto email = normalise_email(lead.email); !email.empty())
        keys.emplace_back("email", cipher.blind_index("lead email", email));
    return keys;
}

Status check_rep(storage::Db& db, const std::string& name, const char* field) {
    auto r = db.run("SELECT role, disabled FROM users WHERE name = $1", {name});
    if (!r) return r.error();
    if (r->rows.empty()) return Error::at(field, "no user '" + name + "'");
    if (r->rows[0].text(0) != "sales") return Error::at(field, "'" + name + "' is not a sales rep");
    if (r->rows[0].integer(1) != 0) return Error::at(field, "'" + name + "' is disabled");
    return {};
}

Result<Lead> write_lead(storage::Db& db, const records::FieldCipher& cipher, Lead l, const Lead& before,
                        std::int64_t expected_version, const std::string& actor, const std::string& action,
                        TimePoint now) {
    const auto enc = encrypt(cipher, l);
    auto u = db.run(
        "UPDATE leads SET status = $1, name_enc = $2, phone_enc = $3, email_enc = $4, address_enc = $5, "
        "notes_enc = $6, postcode = $7, region = $8, roof_type = $9, monthly_bill = $10, "
        "annual_consumption_kwh = $11, desired_kwp = $12, budget = $13, consent_contact = $14, "
        "consent_marketing = $15, score = $16, score_detail = $17, assignee = $18, assigned_at_ms = $19, "
        "first_touch_at_ms = $20, last_touch_at_ms = $21, next_step_on = $22, updated_at_ms = $23, "
        "version = version + 1 WHERE id = $24 AND version = $25",
        {std::string(enum_name(kStatusNames, l.status)), enc.name, enc.phone, enc.email, enc.address, enc.notes,
         l.postcode, l.region, std::string(enum_name(kRoofNames, l.roof_type)), opt(l.monthly_bill),
         opt(l.annual_consumption_kwh), opt(l.desired_kwp), opt(l.budget), std::int64_t{l.consent_contact},
         std::int64_t{l.consent_marketing}, std::int64_t{l.score}, score_json(l.score_detail), opt(l.assignee),
         opt_ms(l.assigned_at), opt_ms(l.first_touch_at), opt_ms(l.last_touch_at), opt(l.next_step_on),
         std::int64_t{to_epoch_ms(now)}, l.id, expected_version});
    if (!u) return u.error();
    if (u->affected == 0)
        return Error::at("version", "lead " + std::to_string(l.id) + " was changed meanwhile: reload it",
                         ErrorKind::conflict);
    l.updated_at = now;
    l.version = expected_version + 1;
    if (auto a = storage::append_audit(db, now, actor, action, "lead", std::to_string(l.id),
                                       audit_json(before, encrypt(cipher, before)), audit_json(l, enc));
        !a)
        return a.error();
    return l;
}

}  // namespace detail

namespace {

using storage::Row;

constexpr int kMaxLeadsPerPage = 1000;

std::string sha256_hex(std::string_view text) {
    std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
    unsigned int length = 0;
    if (EVP_Digest(text.data(), text.size(), digest.data(), &length, EVP_sha256(), nullptr) != 1)
        throw std::runtime_error("SHA-256 failed");
    static constexpr char kHex[] = "0123456789abcdef";
    std::string out;
    for (unsigned int i = 0; i < length; ++i) {
        out += kHex[digest[i] >> 4];
        out += kHex[digest[i] & 0xf];
    }
    return out;
}

std::string new_channel_key() {
    std::array<unsigned char, 24> raw{};
    if (RAND_bytes(raw.data(), static_cast<int>(raw.size())) != 1) throw std::runtime_error("RAND_bytes failed");
    static constexpr char kHex[] = "0123456789abcdef";
    std::string key = "lck_";
    for (const unsigned char b : raw) {
        key += kHex[b >> 4];
        key += kHex[b & 0xf];
    }
    return key;
}

Channel channel_from_row(const Row& row) {
    Channel c;
    c.id = row.integer(0);
    c.name = row.text(1);
    c.source = enum_from_name(kSourceNames, row.text(2)).value_or(Source::other);
    c.region = row.text(3);
    c.key_hint = row.text(4);
    c.disabled = row.integer(5) != 0;
    c.created_by = row.text(6);
    c.created_at = from_epoch_ms(row.integer(7));
    return c;
}

constexpr const char* kChannelColumns = "id, name, source, region, key_hint, disabled, created_by, created_at_ms";

}  // namespace

Result<std::vector<Lead>> list_leads(storage::Db& db, const records::FieldCipher& cipher, const LeadQuery& q) {
    if (q.limit < 1 || q.limit > kMaxLeadsPerPage)
        return Error::at("limit", "must be between 1 and " + std::to_string(kMaxLeadsPerPage));
    std::string sql = std::string("SELECT ") + detail::kLeadColumns + " FROM leads WHERE id > $1";
    storage::Params params{q.after_id};
    if (q.assignee) {
        params.emplace_back(*q.assignee);
        sql += " AND assignee = $" + std::to_string(params.size());
    }
    if (q.unassigned) sql += " AND assignee IS NULL";
    if (q.status) {
        params.emplace_back(std::string(enum_name(kStatusNames, *q.status)));
        sql += " AND status = $" + std::to_string(params.size());
    }
    if (q.open_only) sql += " AND status IN ('new', 'contacted', 'qualified')";
    params.emplace_back(std::int64_t{q.limit});
    sql += " ORDER BY id LIMIT $" + std::to_string(params.size());
    auto r = db.run(sql, params);
    if (!r) return r.error();
    std::vector<Lead> out;
    for (const Row& row : r->rows) {
        auto l = detail::lead_from_row(cipher, row);
        if (!l) return l.error();
        out.push_back(std::move(*l));
    }
    return out;
}

Result<std::optional<Lead>> get_lead(storage::Db& db, const records::FieldCipher& cipher, std::int64_t id) {
    auto r = db.run(std::string("SELECT ") + detail::kLeadColumns + " FROM leads WHERE id = $1", {id});
    if (!r) return r.error();
    if (r->rows.empty()) return std::optional<Lead>{};
    auto l = detail::lead_from_row(cipher, r->rows[0]);
    if (!l) return l.error();
    return std::optional<Lead>{std::move(*l)};
}

Result<std::vector<Inquiry>> list_inquiries(storage::Db& db, const records::FieldCipher& cipher,
                                            std::int64_t lead_id) {
    auto r = db.run(
        "SELECT id, lead_id, customer_id, at_ms, source, channel_id, utm, message_enc, created_by FROM "
        "lead_inquiries WHERE lead_id = $1 ORDER BY id",
        {lead_id});
    if (!r) return r.error();
    std::vector<Inquiry> out;
    for (const Row& row : r->rows) {
        Inquiry i;
        i.id = row.integer(0);
        i.lead_id = row.opt_integer(1);
        i.customer_id = row.opt_integer(2);
        i.at = from_epoch_ms(row.integer(3));
        i.source = enum_from_name(kSourceNames, row.text(4)).value_or(Source::other);
        i.channel_id = row.opt_integer(5);
        i.utm = detail::utm_from_json(row.text(6));
        auto message = cipher.decrypt(row.text(7));
        if (!message) return Error{"inquiry " + std::to_string(i.id) + ": cannot decrypt", ErrorKind::io};
        i.message = std::move(*message);
        i.created_by = row.text(8);
        out.push_back(std::move(i));
    }
    return out;
}

Result<std::vector<Touch>> list_touches(storage::Db& db, const records::FieldCipher& cipher, std::int64_t lead_id) {
    auto r = db.run(
        "SELECT id, lead_id, kind, at_ms, by_user, outcome, notes_enc, next_step_on FROM lead_touches WHERE "
        "lead_id = $1 ORDER BY at_ms, id",
        {lead_id});
    if (!r) return r.error();
    std::vector<Touch> out;
    for (const Row& row : r->rows) {
        Touch t;
        t.id = row.integer(0);
        t.lead_id = row.integer(1);
        t.kind = enum_from_name(kTouchKindNames, row.text(2)).value_or(TouchKind::call);
        t.at = from_epoch_ms(row.integer(3));
        t.by = row.text(4);
        t.outcome = enum_from_name(kOutcomeNames, row.text(5)).value_or(Outcome::other);
        auto notes = cipher.decrypt(row.text(6));
        if (!notes) return Error{"touch " + std::to_string(t.id) + ": cannot decrypt", ErrorKind::io};
        t.notes = std::move(*notes);
        t.next_step_on = row.opt_text(7);
        out.push_back(std::move(t));
    }
    return out;
}

Result<Touch> add_touch(storage::Db& db, const records::FieldCipher& cipher, Touch t, const Settings& settings,
                        const std::string& actor, TimePoint now) {
    if (t.at > now) return Error::at("at", "in the future");
    if (t.next_step_on)
        if (auto p = records::detail::check_date(*t.next_step_on)) return Error::at("next_step_on", *p);
    if (auto p = records::detail::check_text(t.notes, 10'000)) return Error::at("notes", *p);
    t.notes = records::detail::trim(t.notes);
    t.by = actor;
    return storage::in_transaction(db, [&]() -> Result<Touch> {
        auto loaded = get_lead(db, cipher, t.lead_id);
        if (!loaded) return loaded.error();
        if (!*loaded) return Error{"lead " + std::to_string(t.lead_id) + ": not found", ErrorKind::not_found};
        const Lead before = **loaded;
        auto r = db.run(
            "INSERT INTO lead_touches (lead_id, kind, at_ms, by_user, outcome, notes_enc, next_step_on, "
            "created_at_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
            {t.lead_id, std::string(enum_name(kTouchKindNames, t.kind)), std::int64_t{to_epoch_ms(t.at)}, t.by,
             std::string(enum_name(kOutcomeNames, t.outcome)), cipher.encrypt(t.notes), detail::opt(t.next_step_on),
             std::int64_t{to_epoch_ms(now)}});
        if (!r) return r.error();
        t.id = r->rows.at(0).integer(0);
        Lead l = before;
        if (!l.first_touch_at || t.at < *l.first_touch_at) l.first_touch_at = t.at;
        if (!l.last_touch_at || t.at >= *l.last_touch_at) {
            l.last_touch_at = t.at;
            l.next_step_on = t.next_step_on;  // the latest touch says what comes next
        }
        if (l.status == LeadStatus::new_lead) l.status = LeadStatus::contacted;
        const Score s = score_lead(l, settings.scoring);
        l.score = s.total;
        l.score_detail = s.detail;
        auto saved = detail::write_lead(db, cipher, l, before, before.version, actor, "touch", now);
        if (!saved) return saved.error();
        return t;
    });
}

Result<NewChannel> create_channel(storage::Db& db, const std::string& name, Source source, const std::string& region,
                                  const std::string& actor, TimePoint now) {
    const std::string trimmed = records::detail::trim(name);
    if (trimmed.empty() || trimmed.size() > 100) return Error::at("name", "1 to 100 characters");
    if (auto p = records::detail::check_text(region, 64)) return Error::at("region", *p);
    const std::string key = new_channel_key();
    return storage::in_transaction(db, [&]() -> Result<NewChannel> {
        auto taken = db.run("SELECT 1 FROM lead_channels WHERE name = $1", {trimmed});
        if (!taken) return taken.error();
        if (!taken->rows.empty()) return Error::at("name", "a channel '" + trimmed + "' exists already", ErrorKind::conflict);
        NewChannel out;
        out.key = key;
        Channel& c = out.channel;
        c.name = trimmed;
        c.source = source;
        c.region = region;
        c.key_hint = key.substr(key.size() - 4);
        c.created_by = actor;
        c.created_at = now;
        auto r = db.run(
            "INSERT INTO lead_channels (name, source, region, key_hash, key_hint, disabled, created_by, "
            "created_at_ms) VALUES ($1, $2, $3, $4, $5, 0, $6, $7) RETURNING id",
            {c.name, std::string(enum_name(kSourceNames, source)), region, sha256_hex(key), c.key_hint, actor,
             std::int64_t{to_epoch_ms(now)}});
        if (!r) return r.error();
        c.id = r->rows.at(0).integer(0);
        if (auto a = storage::append_audit(db, now, actor, "create", "lead_channel", std::to_string(c.id), std::nullopt,
                                           nlohmann::json{{"name", c.name},
                                                          {"source", enum_name(kSourceNames, source)},
                                                          {"region", region},
                                                          {"key_hint", c.key_hint}}
                                               .dump());
            !a)
            return a.error();
        return out;
    });
}

Result<std::vector<Channel>> list_channels(storage::Db& db) {
    auto r = db.run(std::string("SELECT ") + kChannelColumns + " FROM lead_channels ORDER BY id");
    if (!r) return r.error();
    std::vector<Channel> out;
    for (const Row& row : r->rows) out.push_back(channel_from_row(row));
    return out;
}

Result<std::optional<Channel>> channel_for_key(storage::Db& db, const std::string& key) {
    if (key.size() < 8 || key.size() > 128) return std::optional<Channel>{};
    auto r = db.run(std::string("SELECT ") + kChannelColumns + " FROM lead_channels WHERE key_hash = $1 AND disabled = 0",
                    {sha256_hex(key)});
    if (!r) return r.error();
    if (r->rows.empty()) return std::optional<Channel>{};
    return std::optional<Channel>{channel_from_row(r->rows[0])};
}

Result<Channel> set_channel_disabled(storage::Db& db, std::int64_t id, bool disabled, const std::string& actor,
                                     TimePoint now) {
    return storage::in_transaction(db, [&]() -> Result<Channel> {
        auto r = db.run(std::string("SELECT ") + kChannelColumns + " FROM lead_channels WHERE id = $1", {id});
        if (!r) return r.error();
        if (r->rows.empty()) return Error{"lead channel " + std::to_string(id) + ": not found", ErrorKind::not_found};
        Channel c = channel_from_row(r->rows[0]);
        if (c.disabled == disabled) return c;
        auto u = db.run("UPDATE lead_channels SET disabled = $1 WHERE id = $2", {std::int64_t{disabled}, id});
        if (!u) return u.error();
        c.disabled = disabled;
        if (auto a = storage::append_audit(db, now, actor, disabled ? "disable" : "enable", "lead_channel",
                                           std::to_string(id), std::nullopt, nlohmann::json{{"disabled", disabled}}.dump());
            !a)
            return a.error();
        return c;
    });
}

Status audit_refusal(storage::Db& db, TimePoint now, const std::string& reason, const std::string& remote,
                     const std::optional<std::int64_t>& channel_id) {
    nlohmann::json after{{"reason", reason}, {"remote", remote}};
    if (channel_id) after["channel_id"] = *channel_id;
    return storage::append_audit(db, now, "public", "refused", "lead_capture",
                                 channel_id ? std::to_string(*channel_id) : std::string("-"), std::nullopt, after.dump());
}

}  // namespace pvfleet::leads
