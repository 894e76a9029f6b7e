// The capture use case (de-duplication, scoring, assignment) and changes of a lead.
#include <nlohmann/json.hpp>

#include "pvfleet/leads/repository.hpp"
#include "pvfleet/storage/events.hpp"
#include "pvfleet/storage/work_orders.hpp"
#include "rows.hpp"

namespace pvfleet::leads {

// Renews the contact keys of customers changed since their keys were made (new, edited, or keys made with
// another country code): only those are decrypted.
Status refresh_customer_keys(storage::Db& db, const records::FieldCipher& cipher, const std::string& country_code) {
    auto stale = db.run(
        "SELECT c.id, c.version, c.phone_enc, c.email_enc FROM customers c LEFT JOIN customer_contact_key_versions "
        "v ON v.customer_id = c.id WHERE v.customer_id IS NULL OR v.version <> c.version OR v.country_code <> $1",
        {country_code});
    if (!stale) return stale.error();
    for (const storage::Row& row : stale->rows) {
        const std::int64_t id = row.integer(0);
        Lead contact;
        auto phone = cipher.decrypt(row.text(2));
        auto email = cipher.decrypt(row.text(3));
        if (!phone || !email)
            return Error{"customer " + std::to_string(id) + ": cannot decrypt (is this the database's key file?)",
                         ErrorKind::io};
        contact.phone = *phone;
        contact.email = *email;
        if (auto d = db.run("DELETE FROM customer_contact_keys WHERE customer_id = $1", {id}); !d) return d.error();
        for (const auto& [kind, hash] : detail::contact_keys(cipher, contact, country_code))
            if (auto i = db.run("INSERT INTO customer_contact_keys (customer_id, kind, key_hash) VALUES ($1, $2, $3)",
                                {id, kind, hash});
                !i)
                return i.error();
        if (auto v = db.run(
                "INSERT INTO customer_contact_key_versions (customer_id, version, country_code) VALUES ($1, $2, $3) "
                "ON CONFLICT (customer_id) DO UPDATE SET version = excluded.version, country_code = "
                "excluded.country_code",
                {id, row.integer(1), country_code});
            !v)
            return v.error();
    }
    return {};
}

namespace {

using storage::Row;

constexpr int kCaptureAttempts = 3;
// PostgreSQL: captures take this transaction lock, so round-robin sees the assignment before it and two captures
// of one person wait for each other (the contact keys' primary key stays the guarantee). SQLite's write lock
// (BEGIN IMMEDIATE) does the same.
constexpr const char* kCaptureLock = "SELECT pg_advisory_xact_lock(727301)";

// The lead holding one of `keys`, the oldest when several do.
Result<std::optional<std::int64_t>> lead_with_keys(storage::Db& db,
                                                   const std::vector<std::pair<std::string, std::string>>& keys) {
    std::optional<std::int64_t> found;
    for (const auto& [kind, hash] : keys) {
        auto r = db.run("SELECT lead_id FROM lead_keys WHERE kind = $1 AND key_hash = $2", {kind, hash});
        if (!r) return r.error();
        if (!r->rows.empty() && (!found || r->rows[0].integer(0) < *found)) found = r->rows[0].integer(0);
    }
    return found;
}

// A customer with the same normalised phone number or e-mail address (the oldest when several match).
Result<std::optional<std::int64_t>> customer_matching(storage::Db& db, const records::FieldCipher& cipher,
                                                      const std::vector<std::pair<std::string, std::string>>& keys,
                                                      const std::string& country_code) {
    if (keys.empty()) return std::optional<std::int64_t>{};
    if (auto r = refresh_customer_keys(db, cipher, country_code); !r) return r.error();
    std::optional<std::int64_t> found;
    for (const auto& [kind, hash] : keys) {
        auto r = db.run("SELECT MIN(customer_id) FROM customer_contact_keys WHERE kind = $1 AND key_hash = $2",
                        {kind, hash});
        if (!r) return r.error();
        if (!r->rows.empty() && !r->rows[0].is_null(0) && (!found || r->rows[0].integer(0) < *found))
            found = r->rows[0].integer(0);
    }
    return found;
}

// Keys not yet held by any lead go to `lead_id`; returns how many of `keys` another lead holds.
Result<int> store_keys(storage::Db& db, std::int64_t lead_id,
                       const std::vector<std::pair<std::string, std::string>>& keys) {
    int taken = 0;
    for (const auto& [kind, hash] : keys) {
        auto r = db.run(
            "INSERT INTO lead_keys (kind, key_hash, lead_id) VALUES ($1, $2, $3) ON CONFLICT (kind, key_hash) DO "
            "NOTHING",
            {kind, hash, lead_id});
        if (!r) return r.error();
        if (r->affected == 0) {
            auto owner = db.run("SELECT lead_id FROM lead_keys WHERE kind = $1 AND key_hash = $2", {kind, hash});
            if (!owner) return owner.error();
            if (owner->rows.empty() || owner->rows[0].integer(0) != lead_id) ++taken;
        }
    }
    return taken;
}

Result<std::int64_t> insert_inquiry(storage::Db& db, const records::FieldCipher& cipher, const Lead& from,
                                    std::optional<std::int64_t> lead_id, std::optional<std::int64_t> customer_id,
                                    const std::string& message, const std::string& actor, TimePoint now) {
    auto r = db.run(
        "INSERT INTO lead_inquiries (lead_id, customer_id, at_ms, source, channel_id, utm, message_enc, created_by) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
        {detail::opt(lead_id), detail::opt(customer_id), std::int64_t{to_epoch_ms(now)},
         std::string(enum_name(kSourceNames, from.source)), detail::opt(from.channel_id), detail::utm_json(from.utm),
         cipher.encrypt(message), actor});
    if (!r) return r.error();
    const std::int64_t id = r->rows.at(0).integer(0);
    if (auto a = storage::append_audit(
            db, now, actor, "inquiry", customer_id ? "customer" : "lead",
            std::to_string(customer_id ? *customer_id : lead_id.value_or(0)), std::nullopt,
            nlohmann::json{{"inquiry_id", id}, {"source", enum_name(kSourceNames, from.source)}}.dump());
        !a)
        return a.error();
    return id;
}

// A repeat inquiry fills what the lead does not know yet; it never overwrites what a rep recorded.
bool fill_blanks(Lead& l, const Lead& from) {
    bool changed = false;
    auto fill = [&](auto& field, const auto& value, bool empty) {
        if (empty) {
            field = value;
            changed = true;
        }
    };
    fill(l.phone, from.phone, l.phone.empty() && !from.phone.empty());
    fill(l.email, from.email, l.email.empty() && !from.email.empty());
    fill(l.address, from.address, l.address.empty() && !from.address.empty());
    fill(l.postcode, from.postcode, l.postcode.empty() && !from.postcode.empty());
    fill(l.roof_type, from.roof_type, l.roof_type == RoofType::unknown && from.roof_type != RoofType::unknown);
    fill(l.monthly_bill, from.monthly_bill, !l.monthly_bill && from.monthly_bill);
    fill(l.annual_consumption_kwh, from.annual_consumption_kwh, !l.annual_consumption_kwh && from.annual_consumption_kwh);
    fill(l.desired_kwp, from.desired_kwp, !l.desired_kwp && from.desired_kwp);
    fill(l.budget, from.budget, !l.budget && from.budget);
    fill(l.consent_contact, true, !l.consent_contact && from.consent_contact);
    fill(l.consent_marketing, true, !l.consent_marketing && from.consent_marketing);
    return changed;
}

Result<std::vector<RepLoad>> rep_loads(storage::Db& db) {
    auto r = db.run(
        "SELECT u.name, (SELECT COUNT(*) FROM leads l WHERE l.assignee = u.name AND l.status IN ('new', "
        "'contacted', 'qualified')), (SELECT MAX(l.assigned_at_ms) FROM leads l WHERE l.assignee = u.name) FROM "
        "users u WHERE u.role = 'sales' AND u.disabled = 0 ORDER BY u.name");
    if (!r) return r.error();
    std::vector<RepLoad> out;
    for (const Row& row : r->rows)
        out.push_back(RepLoad{row.text(0), static_cast<int>(row.integer(1)),
                              row.is_null(2) ? std::nullopt : std::optional<TimePoint>(from_epoch_ms(row.integer(2)))});
    return out;
}

Result<CaptureResult> attach_to_lead(storage::Db& db, const records::FieldCipher& cipher, std::int64_t lead_id,
                                     const Lead& from, const std::vector<std::pair<std::string, std::string>>& keys,
                                     const std::string& message, const Settings& settings, const std::string& actor,
                                     TimePoint now) {
    auto loaded = get_lead(db, cipher, lead_id);
    if (!loaded) return loaded.error();
    if (!*loaded) return Error{"lead " + std::to_string(lead_id) + ": key without a lead", ErrorKind::io};
    Lead l = **loaded;
    if (l.status == LeadStatus::converted && l.customer_id) {  // the person is a customer now
        auto inquiry = insert_inquiry(db, cipher, from, std::nullopt, l.customer_id, message, actor, now);
        if (!inquiry) return inquiry.error();
        return CaptureResult{Captured::attached_to_customer, std::nullopt, l.customer_id, *inquiry};
    }
    if (fill_blanks(l, from)) {
        const Score s = score_lead(l, settings.scoring);
        l.score = s.total;
        l.score_detail = s.detail;
        auto saved = detail::write_lead(db, cipher, l, **loaded, l.version, actor, "update", now);
        if (!saved) return saved.error();
        l = *saved;
    }
    // A new e-mail address of a known phone number (or the other way round) finds this lead next time.
    if (auto taken = store_keys(db, l.id, keys); !taken) return taken.error();
    auto inquiry = insert_inquiry(db, cipher, from, l.id, std::nullopt, message, actor, now);
    if (!inquiry) return inquiry.error();
    return CaptureResult{Captured::attached_to_lead, l, std::nullopt, *inquiry};
}

Result<CaptureResult> create_lead(storage::Db& db, const records::FieldCipher& cipher, Lead l,
                                  const std::vector<std::pair<std::string, std::string>>& keys,
                                  const std::string& message, const Settings& settings,
                                  const std::optional<std::string>& assignee, const std::string& actor, TimePoint now) {
    if (l.region.empty()) l.region = region_of(l.postcode, settings.assignment);
    l.created_at = now;
    l.updated_at = now;
    l.created_by = actor;
    l.status = LeadStatus::new_lead;
    l.first_touch_at.reset();
    l.last_touch_at.reset();
    l.next_step_on.reset();
    const Score s = score_lead(l, settings.scoring);
    l.score = s.total;
    l.score_detail = s.detail;
    if (assignee) {
        if (auto c = detail::check_rep(db, *assignee, "assignee"); !c) return c.error();
        l.assignee = assignee;
    } else {
        auto loads = rep_loads(db);
        if (!loads) return loads.error();
        l.assignee = choose_assignee(l.region, settings.assignment, *loads);
    }
    if (l.assignee) l.assigned_at = now;
    const auto enc = detail::encrypt(cipher, l);
    auto r = db.run(
        "INSERT INTO leads (status, name_enc, phone_enc, email_enc, address_enc, notes_enc, postcode, region, "
        "roof_type, monthly_bill, annual_consumption_kwh, desired_kwp, budget, source, channel_id, utm, "
        "consent_contact, consent_marketing, score, score_detail, assignee, assigned_at_ms, created_by, "
        "created_at_ms, updated_at_ms, version) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, "
        "$14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24, $24, 1) RETURNING id",
        {std::string(enum_name(kStatusNames, l.status)), enc.name, enc.phone, enc.email, enc.address, enc.notes,
         l.postcode, l.region, std::string(enum_name(kRoofNames, l.roof_type)), detail::opt(l.monthly_bill),
         detail::opt(l.annual_consumption_kwh), detail::opt(l.desired_kwp), detail::opt(l.budget),
         std::string(enum_name(kSourceNames, l.source)), detail::opt(l.channel_id), detail::utm_json(l.utm),
         std::int64_t{l.consent_contact}, std::int64_t{l.consent_marketing}, std::int64_t{l.score},
         detail::score_json(l.score_detail), detail::opt(l.assignee), detail::opt_ms(l.assigned_at), actor,
         std::int64_t{to_epoch_ms(now)}});
    if (!r) return r.error();
    l.id = r->rows.at(0).integer(0);
    l.version = 1;
    auto taken = store_keys(db, l.id, keys);
    if (!taken) return taken.error();
    if (*taken > 0)  // another capture of this person committed meanwhile: the caller retries and attaches
        return Error{"lead contact key taken meanwhile", ErrorKind::conflict};
    if (auto a = storage::append_audit(db, now, actor, "create", "lead", std::to_string(l.id), std::nullopt,
                                       detail::audit_json(l, enc));
        !a)
        return a.error();
    auto inquiry = insert_inquiry(db, cipher, l, l.id, std::nullopt, message, actor, now);
    if (!inquiry) return inquiry.error();
    // Told to the rep it went to, or the back office when no rep's region matched. Ids and facts only: the
    // lead's personal fields stay encrypted and out of the event log and e-mails.
    storage::NewEvent event;
    event.name = "lead.created";
    event.occurred_at = now;
    if (l.assignee) {
        event.recipients.push_back(*l.assignee);
    } else {
        auto office = storage::active_users_with_role(db, "back_office");
        if (!office) return office.error();
        event.recipients = std::move(*office);
    }
    event.data = {{"lead_id", l.id},
                  {"source", std::string(enum_name(kSourceNames, l.source))},
                  {"region", l.region},
                  {"score", l.score},
                  {"assignee", l.assignee ? nlohmann::json(*l.assignee) : nlohmann::json(nullptr)}};
    if (auto e = storage::append_event(db, event); !e) return e.error();
    return CaptureResult{Captured::created, l, std::nullopt, *inquiry};
}

}  // namespace

Result<CaptureResult> capture_in_transaction(storage::Db& db, const records::FieldCipher& cipher, Lead lead,
                                             const std::string& message, const Settings& settings,
                                             const std::optional<std::string>& assignee, const std::string& actor,
                                             TimePoint now) {
    if (auto errors = validate_lead(lead); !errors.empty()) return errors.front();
    normalise_fields(lead);
    if (message.size() > 10'000) return Error::at("message", "at most 10000 bytes");
    if (db.engine() == storage::Engine::postgres)
        if (auto l = db.run(kCaptureLock); !l) return l.error();
    const auto keys = detail::contact_keys(cipher, lead, settings.default_country_code);
    auto existing = lead_with_keys(db, keys);
    if (!existing) return existing.error();
    if (*existing) return attach_to_lead(db, cipher, **existing, lead, keys, message, settings, actor, now);
    auto customer = customer_matching(db, cipher, keys, settings.default_country_code);
    if (!customer) return customer.error();
    if (*customer) {
        auto inquiry = insert_inquiry(db, cipher, lead, std::nullopt, *customer, message, actor, now);
        if (!inquiry) return inquiry.error();
        return CaptureResult{Captured::attached_to_customer, std::nullopt, *customer, *inquiry};
    }
    return create_lead(db, cipher, std::move(lead), keys, message, settings, assignee, actor, now);
}

Result<CaptureResult> capture(storage::Db& db, const records::FieldCipher& cipher, Lead lead,
                              const std::string& message, const Settings& settings,
                              const std::optional<std::string>& assignee, const std::string& actor, TimePoint now) {
    for (int attempt = 1;; ++attempt) {
        auto r = storage::in_transaction(db, [&]() -> Result<CaptureResult> {
            return capture_in_transaction(db, cipher, lead, message, settings, assignee, actor, now);
        });
        if (r || r.error().kind != ErrorKind::conflict || attempt == kCaptureAttempts) return r;
    }
}

Result<Lead> update_lead(storage::Db& db, const records::FieldCipher& cipher, Lead l, std::int64_t expected_version,
                         const Settings& settings, const std::string& actor, TimePoint now) {
    if (auto errors = validate_lead(l); !errors.empty()) return errors.front();
    normalise_fields(l);
    return storage::in_transaction(db, [&]() -> Result<Lead> {
        auto loaded = get_lead(db, cipher, l.id);
        if (!loaded) return loaded.error();
        if (!*loaded) return Error{"lead " + std::to_string(l.id) + ": not found", ErrorKind::not_found};
        const Lead& before = **loaded;
        if (l.status != before.status && (l.status == LeadStatus::converted || before.status == LeadStatus::converted))
            return Error::at("status", "a lead is converted only by POST /api/leads/{id}/convert, and stays so");
        if (before.version != expected_version)
            return Error::at("version",
                             "lead " + std::to_string(l.id) + " is at version " + std::to_string(before.version) +
                                 ", not " + std::to_string(expected_version) + " (changed by someone else: reload it)",
                             ErrorKind::conflict);
        if (l.assignee != before.assignee) {
            if (l.assignee)
                if (auto c = detail::check_rep(db, *l.assignee, "assignee"); !c) return c.error();
            l.assigned_at = l.assignee ? std::optional<TimePoint>(now) : std::nullopt;
        }
        const Score s = score_lead(l, settings.scoring);
        l.score = s.total;
        l.score_detail = s.detail;
        // Contact keys follow the fields: another lead's phone number or e-mail address is refused at its field.
        const auto keys = detail::contact_keys(cipher, l, settings.default_country_code);
        if (auto d = db.run("DELETE FROM lead_keys WHERE lead_id = $1", {l.id}); !d) return d.error();
        for (const auto& key : keys) {
            auto taken = store_keys(db, l.id, {key});
            if (!taken) return taken.error();
            if (*taken > 0) {
                auto owner = lead_with_keys(db, {key});
                return Error::at(key.first, "already the " + key.first + " of lead " +
                                                std::to_string(owner && *owner ? **owner : 0) +
                                                " (a repeat inquiry belongs to that lead)");
            }
        }
        auto written = detail::write_lead(db, cipher, l, before, expected_version, actor, "update", now);
        if (!written) return written.error();
        if (l.assignee && l.assignee != before.assignee && *l.assignee != actor) {
            storage::NewEvent event;
            event.name = "lead.assigned";
            event.occurred_at = now;
            event.recipients = {*l.assignee};
            event.data = {{"lead_id", l.id},
                          {"source", std::string(enum_name(kSourceNames, l.source))},
                          {"region", l.region},
                          {"assignee", *l.assignee},
                          {"by", actor}};
            if (auto e = storage::append_event(db, event); !e) return e.error();
        }
        return written;
    });
}

Result<Lead> mark_converted_in_transaction(storage::Db& db, const records::FieldCipher& cipher, std::int64_t lead_id,
                                           std::int64_t customer_id, const std::string& actor, TimePoint now) {
    auto loaded = get_lead(db, cipher, lead_id);
    if (!loaded) return loaded.error();
    if (!*loaded) return Error{"lead " + std::to_string(lead_id) + ": not found", ErrorKind::not_found};
    if ((*loaded)->status == LeadStatus::converted)
        return Error{"lead " + std::to_string(lead_id) + " is converted already (customer " +
                         std::to_string((*loaded)->customer_id.value_or(0)) + ")",
                     ErrorKind::conflict};
    Lead l = **loaded;
    l.status = LeadStatus::converted;
    if (auto u = db.run("UPDATE leads SET customer_id = $1 WHERE id = $2", {customer_id, lead_id}); !u)
        return u.error();
    l.customer_id = customer_id;
    return detail::write_lead(db, cipher, l, **loaded, l.version, actor, "convert", now);
}

}  // namespace pvfleet::leads
