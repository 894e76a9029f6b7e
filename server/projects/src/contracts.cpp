// Contracts, change orders, instalments and payments: the SQL, the checks and the audit (contracts.hpp).
#include "pvfleet/projects/contracts.hpp"

#include <algorithm>
#include <map>
#include <nlohmann/json.hpp>

#include "pvfleet/projects/repository.hpp"
#include "pvfleet/records/field_checks.hpp"
#include "pvfleet/storage/events.hpp"
#include "pvfleet/storage/work_orders.hpp"
#include "rows.hpp"

namespace pvfleet::projects {
namespace {

using storage::Row;
using storage::Value;

const char* const kContractColumns =
    "id, project_id, number, amount_minor, currency, signed_on, status, signed_document_id, created_by, "
    "created_at_ms, updated_at_ms, version";
const char* const kInstalmentColumns =
    "id, contract_id, label, amount_minor, percent, due_on, after_milestone, after_days, snoozed_until_ms, "
    "created_at_ms, updated_at_ms, version";

Contract contract_from_row(const Row& row) {
    Contract c;
    c.id = row.integer(0);
    c.project_id = row.integer(1);
    c.number = row.text(2);
    c.amount = row.integer(3);
    c.currency = row.text(4);
    c.signed_on = row.opt_text(5);
    c.status = enum_from_name(kContractStatusNames, row.text(6)).value_or(ContractStatus::draft);
    c.signed_document_id = row.opt_integer(7);
    c.created_by = row.text(8);
    c.created_at = from_epoch_ms(row.integer(9));
    c.updated_at = from_epoch_ms(row.integer(10));
    c.version = row.integer(11);
    return c;
}

Instalment instalment_from_row(const Row& row) {
    Instalment i;
    i.id = row.integer(0);
    i.contract_id = row.integer(1);
    i.label = row.text(2);
    i.amount = row.opt_integer(3);
    if (auto p = row.opt_integer(4)) i.percent = static_cast<int>(*p);
    i.due_on = row.opt_text(5);
    i.after_milestone = row.opt_text(6);
    i.after_days = static_cast<int>(row.integer(7));
    if (!row.is_null(8)) i.snoozed_until = from_epoch_ms(row.integer(8));
    i.created_at = from_epoch_ms(row.integer(9));
    i.updated_at = from_epoch_ms(row.integer(10));
    i.version = row.integer(11);
    return i;
}

std::string contract_audit_json(const Contract& c) {
    auto o = [](const auto& v) { return v ? nlohmann::json(*v) : nlohmann::json(); };
    return nlohmann::json{{"id", c.id},
                          {"project_id", c.project_id},
                          {"number", c.number},
                          {"amount_minor", c.amount},
                          {"currency", c.currency},
                          {"signed_on", o(c.signed_on)},
                          {"status", enum_name(kContractStatusNames, c.status)},
                          {"signed_document_id", o(c.signed_document_id)},
                          {"version", c.version}}
        .dump();
}

std::string instalment_audit_json(const Instalment& i) {
    auto o = [](const auto& v) { return v ? nlohmann::json(*v) : nlohmann::json(); };
    return nlohmann::json{{"id", i.id},
                          {"contract_id", i.contract_id},
                          {"label", i.label},
                          {"amount_minor", o(i.amount)},
                          {"percent", o(i.percent)},
                          {"due_on", o(i.due_on)},
                          {"after_milestone", o(i.after_milestone)},
                          {"after_days", i.after_days},
                          {"snoozed_until_ms", i.snoozed_until ? nlohmann::json(to_epoch_ms(*i.snoozed_until))
                                                               : nlohmann::json()},
                          {"version", i.version}}
        .dump();
}

Status audit_contract_change(storage::Db& db, TimePoint now, const std::string& actor,
                             const std::string& action, const std::string& entity, std::int64_t id,
                             const std::optional<std::string>& before, const std::string& after) {
    return storage::append_audit(db, now, actor, action, entity, std::to_string(id), before, after);
}

Result<std::int64_t> count_of(storage::Db& db, const char* table, std::int64_t contract_id) {
    auto r = db.run(std::string("SELECT COUNT(*) FROM ") + table + " WHERE contract_id = $1", {contract_id});
    if (!r) return r.error();
    return r->rows.at(0).integer(0);
}

// The project's contract inside a transaction, its row locked on PostgreSQL (SQLite: the write lock is held),
// so the checks below against its total and status stay true until the commit.
Result<Contract> locked_contract(storage::Db& db, std::int64_t project_id) {
    const std::string lock = db.engine() == storage::Engine::postgres ? " FOR UPDATE" : "";
    auto r =
        db.run(std::string("SELECT ") + kContractColumns + " FROM contracts WHERE project_id = $1" + lock,
               {project_id});
    if (!r) return r.error();
    if (r->rows.empty())
        return Error{"project " + std::to_string(project_id) + " has no contract", ErrorKind::not_found};
    return contract_from_row(r->rows[0]);
}

// Columns "a, b" as "x.a, x.b" (the readers below join contracts).
std::string qualified_columns(const char* columns, const char* alias) {
    std::string out;
    std::string_view rest(columns);
    while (!rest.empty()) {
        const auto comma = rest.find(", ");
        out += std::string(out.empty() ? "" : ", ") + alias + "." + std::string(rest.substr(0, comma));
        rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 2);
    }
    return out;
}

// The readers take a condition on the contracts `c` they belong to: one contract ("c.id = $1") or every
// signed one at once (the reminder pass and the report read all in a few statements, not a few per contract).
Result<std::vector<ChangeOrder>> change_orders_where(storage::Db& db, const std::string& where,
                                                     const storage::Params& params) {
    auto r = db.run(
        "SELECT o.id, o.contract_id, o.number, o.amount_delta_minor, o.reason, o.approved_on, o.created_by, "
        "o.created_at_ms FROM contract_change_orders o JOIN contracts c ON c.id = o.contract_id WHERE " +
            where + " ORDER BY o.approved_on, o.id",
        params);
    if (!r) return r.error();
    std::vector<ChangeOrder> out;
    for (const Row& row : r->rows) {
        ChangeOrder o;
        o.id = row.integer(0);
        o.contract_id = row.integer(1);
        o.number = row.text(2);
        o.amount_delta = row.integer(3);
        o.reason = row.text(4);
        o.approved_on = row.text(5);
        o.created_by = row.text(6);
        o.created_at = from_epoch_ms(row.integer(7));
        out.push_back(std::move(o));
    }
    return out;
}

Result<std::vector<Instalment>> instalments_where(storage::Db& db, const std::string& where,
                                                  const storage::Params& params) {
    auto r = db.run("SELECT " + qualified_columns(kInstalmentColumns, "i") +
                        " FROM contract_instalments i JOIN contracts c ON c.id = i.contract_id WHERE " +
                        where + " ORDER BY i.id",
                    params);
    if (!r) return r.error();
    std::vector<Instalment> out;
    for (const Row& row : r->rows) out.push_back(instalment_from_row(row));
    return out;
}

Result<std::vector<Payment>> payments_where(storage::Db& db, const std::string& where,
                                            const storage::Params& params) {
    auto r = db.run(
        "SELECT p.id, p.contract_id, p.paid_on, p.amount_minor, p.currency, p.method, p.reference, "
        "p.recorded_by, "
        "p.recorded_at_ms FROM contract_payments p JOIN contracts c ON c.id = p.contract_id WHERE " +
            where + " ORDER BY p.paid_on, p.id",
        params);
    if (!r) return r.error();
    std::vector<Payment> out;
    for (const Row& row : r->rows) {
        Payment p;
        p.id = row.integer(0);
        p.contract_id = row.integer(1);
        p.paid_on = row.text(2);
        p.amount = row.integer(3);
        p.currency = row.text(4);
        p.method = enum_from_name(kPaymentMethodNames, row.text(5)).value_or(PaymentMethod::other);
        p.reference = row.text(6);
        p.recorded_by = row.text(7);
        p.recorded_at = from_epoch_ms(row.integer(8));
        out.push_back(std::move(p));
    }
    return out;
}

// The milestones instalments of the contracts wait for.
Result<std::vector<Milestone>> trigger_milestones_where(storage::Db& db, const std::string& where,
                                                        const storage::Params& params) {
    auto r = db.run("SELECT " + qualified_columns(detail::kMilestoneColumns, "m") +
                        " FROM project_milestones m JOIN contracts c ON c.project_id = m.project_id WHERE " +
                        where +
                        " AND EXISTS (SELECT 1 FROM contract_instalments i WHERE i.contract_id = c.id AND "
                        "i.after_milestone = m.mkey) ORDER BY m.id",
                    params);
    if (!r) return r.error();
    std::vector<Milestone> out;
    for (const Row& row : r->rows) out.push_back(detail::milestone_from_row(row));
    return out;
}

Status check_currency(const std::string& code, const char* field) {
    const bool ok = code.size() == 3 &&
                    std::all_of(code.begin(), code.end(), [](char c) { return c >= 'A' && c <= 'Z'; });
    if (!ok) return Error::at(field, "expected an ISO 4217 code of three capital letters (EUR)");
    return {};
}

Status check_amount(std::int64_t v, std::int64_t lo, const char* field) {
    if (v < lo || v > kMaxMinorAmount)
        return Error::at(field, "expected " + std::to_string(lo) + ".." + std::to_string(kMaxMinorAmount) +
                                    " (minor units: cents)");
    return {};
}

Status check_past_day(const std::string& day, TimePoint now, const char* field) {
    if (auto e = records::detail::check_date(day)) return Error::at(field, *e);
    if (day > date_of(now)) return Error::at(field, "in the future");
    return {};
}

Status check_label(const std::string& text, std::size_t max, const char* field) {
    if (auto e = records::detail::check_text(text, max)) return Error::at(field, *e);
    if (records::detail::trim(text).empty()) return Error::at(field, "required");
    return {};
}

// A unique index's refusal (the contract's number, a change order's) at its field, as a conflict.
Error unique_taken(const Error& e, const char* field, const std::string& what) {
    if (e.kind != ErrorKind::conflict) return e;
    return Error::at(field, what, ErrorKind::conflict);
}

}  // namespace

Result<std::optional<Contract>> contract_of_project(storage::Db& db, std::int64_t project_id) {
    auto r = db.run(std::string("SELECT ") + kContractColumns + " FROM contracts WHERE project_id = $1",
                    {project_id});
    if (!r) return r.error();
    if (r->rows.empty()) return std::optional<Contract>{};
    return std::optional<Contract>{contract_from_row(r->rows[0])};
}

namespace {

// The input applied to `c`, checked; `before` is the stored contract (nullopt: a new one).
Status apply_contract_input(storage::Db& db, Contract& c, const std::optional<Contract>& before,
                            const ContractInput& in, TimePoint now) {
    const bool was_signed = before && before->status == ContractStatus::signed_;
    if (in.number) {
        c.number = records::detail::trim(*in.number);
        if (auto s = check_label(c.number, 64, "number"); !s) return s;
    }
    if (in.amount) {
        if (was_signed && *in.amount != before->amount)
            return Error::at("amount", "a signed contract's total changes through change orders");
        if (auto s = check_amount(*in.amount, 1, "amount"); !s) return s;
        c.amount = *in.amount;
    }
    if (in.currency) {
        if (auto s = check_currency(*in.currency, "currency"); !s) return s;
        if (before && *in.currency != before->currency) {
            if (was_signed) return Error::at("currency", "a signed contract's currency does not change");
            auto n = count_of(db, "contract_payments", before->id);
            if (!n) return n.error();
            if (*n > 0) return Error::at("currency", "payments in " + before->currency + " are recorded");
        }
        c.currency = *in.currency;
    }
    if (in.signed_on) {
        if (*in.signed_on)
            if (auto s = check_past_day(**in.signed_on, now, "signed_on"); !s) return s;
        c.signed_on = *in.signed_on;
    }
    if (in.status) {
        const ContractStatus from = before ? before->status : ContractStatus::draft;
        const bool allowed = *in.status == from || (from == ContractStatus::draft) ||
                             (from == ContractStatus::signed_ && *in.status == ContractStatus::cancelled);
        if (!allowed)
            return Error::at("status", std::string("a ") +
                                           std::string(enum_name(kContractStatusNames, from)) +
                                           " contract cannot become " +
                                           std::string(enum_name(kContractStatusNames, *in.status)));
        c.status = *in.status;
    }
    if (in.signed_document_id) {
        if (*in.signed_document_id) {
            // The documents module's table (migration 19); the document must be this project's signed PDF.
            auto d = db.run(
                "SELECT owner_kind, owner_id, category, media_type FROM documents WHERE id = $1 AND "
                "deleted_at_ms IS NULL",
                {**in.signed_document_id});
            if (!d) return d.error();
            const std::string which = "document " + std::to_string(**in.signed_document_id);
            if (d->rows.empty() || d->rows[0].text(0) != "project" || d->rows[0].integer(1) != c.project_id)
                return Error::at("signed_document_id", which + " is not a document of this project");
            if (d->rows[0].text(2) != "signed_contract" || d->rows[0].text(3) != "application/pdf")
                return Error::at("signed_document_id",
                                 which + " is not a signed contract (a PDF of category signed_contract)");
        }
        c.signed_document_id = *in.signed_document_id;
    }
    if (c.status == ContractStatus::signed_ && !c.signed_on)
        return Error::at("signed_on", "required for a signed contract");
    return {};
}

}  // namespace

Result<Contract> create_contract(storage::Db& db, std::int64_t project_id, const ContractInput& in,
                                 const std::string& actor, TimePoint now) {
    if (!in.number) return Error::at("number", "required");
    if (!in.amount) return Error::at("amount", "required");
    if (!in.currency) return Error::at("currency", "required");
    return storage::in_transaction(db, [&]() -> Result<Contract> {
        auto project = get_project(db, project_id);
        if (!project) return project.error();
        if (!*project)
            return Error{"project " + std::to_string(project_id) + ": not found", ErrorKind::not_found};
        Contract c;
        c.project_id = project_id;
        if (auto s = apply_contract_input(db, c, std::nullopt, in, now); !s) return s.error();
        c.created_by = actor;
        c.created_at = c.updated_at = now;
        auto existing = contract_of_project(db, project_id);
        if (!existing) return existing.error();
        if (*existing)
            return Error::at("project_id",
                             "project " + std::to_string(project_id) + " has a contract already",
                             ErrorKind::conflict);
        auto r = db.run(
            "INSERT INTO contracts (project_id, number, amount_minor, currency, signed_on, status, "
            "created_by, "
            "created_at_ms, updated_at_ms, version, signed_document_id) VALUES ($1, $2, $3, $4, $5, $6, $7, "
            "$8, $8, 1, "
            "$9) RETURNING id",
            {project_id, c.number, c.amount, c.currency, detail::opt(c.signed_on),
             std::string(enum_name(kContractStatusNames, c.status)), actor, std::int64_t{to_epoch_ms(now)},
             c.signed_document_id ? storage::Value(*c.signed_document_id) : storage::Value(nullptr)});
        if (!r)
            return unique_taken(r.error(), "number", "'" + c.number + "' is the number of another contract");
        c.id = r->rows.at(0).integer(0);
        if (auto a = audit_contract_change(db, now, actor, "create", "contract", c.id, std::nullopt,
                                           contract_audit_json(c));
            !a)
            return a.error();
        return c;
    });
}

Result<Contract> update_contract(storage::Db& db, std::int64_t project_id, const ContractInput& in,
                                 std::int64_t expected_version, const std::string& actor, TimePoint now) {
    return storage::in_transaction(db, [&]() -> Result<Contract> {
        auto before = locked_contract(db, project_id);
        if (!before) return before.error();
        if (before->version != expected_version)
            return Error::at("version",
                             "the contract is at version " + std::to_string(before->version) + ", not " +
                                 std::to_string(expected_version) + " (changed by someone else: reload it)",
                             ErrorKind::conflict);
        Contract c = *before;
        if (auto s = apply_contract_input(db, c, *before, in, now); !s) return s.error();
        if (c.number == before->number && c.amount == before->amount && c.currency == before->currency &&
            c.signed_on == before->signed_on && c.status == before->status &&
            c.signed_document_id == before->signed_document_id)
            return c;  // nothing changes: no new version, no audit entry
        auto u = db.run(
            "UPDATE contracts SET number = $1, amount_minor = $2, currency = $3, signed_on = $4, status = "
            "$5, "
            "updated_at_ms = $6, version = version + 1, signed_document_id = $9 WHERE id = $7 AND version = "
            "$8",
            {c.number, c.amount, c.currency, detail::opt(c.signed_on),
             std::string(enum_name(kContractStatusNames, c.status)), std::int64_t{to_epoch_ms(now)}, c.id,
             expected_version,
             c.signed_document_id ? storage::Value(*c.signed_document_id) : storage::Value(nullptr)});
        if (!u)
            return unique_taken(u.error(), "number", "'" + c.number + "' is the number of another contract");
        if (u->affected == 0)
            return Error::at("version", "the contract was changed meanwhile: reload it", ErrorKind::conflict);
        c.version = expected_version + 1;
        c.updated_at = now;
        if (auto a = audit_contract_change(db, now, actor, "update", "contract", c.id,
                                           contract_audit_json(*before), contract_audit_json(c));
            !a)
            return a.error();
        return c;
    });
}

Result<ChangeOrder> add_change_order(storage::Db& db, std::int64_t project_id, ChangeOrder o,
                                     const std::string& actor, TimePoint now) {
    o.number = records::detail::trim(o.number);
    o.reason = records::detail::trim(o.reason);
    if (auto s = check_label(o.number, 64, "number"); !s) return s.error();
    if (o.amount_delta == 0 || o.amount_delta < -kMaxMinorAmount || o.amount_delta > kMaxMinorAmount)
        return Error::at("amount_delta", "expected a non-zero amount in -" + std::to_string(kMaxMinorAmount) +
                                             ".." + std::to_string(kMaxMinorAmount) + " (minor units)");
    if (auto s = check_label(o.reason, 2000, "reason"); !s) return s.error();
    if (auto s = check_past_day(o.approved_on, now, "approved_on"); !s) return s.error();
    return storage::in_transaction(db, [&]() -> Result<ChangeOrder> {
        auto c = locked_contract(db, project_id);
        if (!c) return c.error();
        if (c->status != ContractStatus::signed_)
            return Error::at("number", "change orders amend a signed contract (this one is " +
                                           std::string(enum_name(kContractStatusNames, c->status)) + ")");
        auto changes = change_orders_where(db, "c.id = $1", {c->id});
        if (!changes) return changes.error();
        if (changes->size() >= kMaxChangeOrders)
            return Error::at("number", "at most " + std::to_string(kMaxChangeOrders) + " change orders");
        const std::int64_t total = contract_total(*c, *changes) + o.amount_delta;
        if (total < 0 || total > kMaxMinorAmount)
            return Error::at("amount_delta", "the contract's total would be " + std::to_string(total) +
                                                 " (expected 0.." + std::to_string(kMaxMinorAmount) + ")");
        o.contract_id = c->id;
        o.created_by = actor;
        o.created_at = now;
        auto r = db.run(
            "INSERT INTO contract_change_orders (contract_id, number, amount_delta_minor, reason, "
            "approved_on, "
            "created_by, created_at_ms) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
            {o.contract_id, o.number, o.amount_delta, o.reason, o.approved_on, actor,
             std::int64_t{to_epoch_ms(now)}});
        if (!r)
            return unique_taken(r.error(), "number",
                                "the contract has a change order '" + o.number + "' already");
        o.id = r->rows.at(0).integer(0);
        const std::string after = nlohmann::json{
            {"id", o.id},          {"contract_id", o.contract_id},
            {"number", o.number},  {"amount_delta_minor", o.amount_delta},
            {"reason", o.reason},  {"approved_on", o.approved_on},
            {"total_minor", total}}.dump();
        if (auto a =
                audit_contract_change(db, now, actor, "create", "change_order", o.id, std::nullopt, after);
            !a)
            return a.error();
        return o;
    });
}

Result<Instalment> add_instalment(storage::Db& db, std::int64_t project_id, Instalment i,
                                  const std::string& actor, TimePoint now) {
    i.label = records::detail::trim(i.label);
    if (auto s = check_label(i.label, 200, "label"); !s) return s.error();
    if (i.amount && i.percent) return Error::at("percent", "give amount or percent, not both");
    if (!i.amount && !i.percent) return Error::at("amount", "required (or percent)");
    if (i.amount)
        if (auto s = check_amount(*i.amount, 1, "amount"); !s) return s.error();
    if (i.percent && (*i.percent < 1 || *i.percent > 100)) return Error::at("percent", "expected 1..100");
    if (i.due_on && i.after_milestone)
        return Error::at("after_milestone", "give due_on or after_milestone, not both");
    if (!i.due_on && !i.after_milestone) return Error::at("due_on", "required (or after_milestone)");
    if (i.due_on)
        if (auto e = records::detail::check_date(*i.due_on)) return Error::at("due_on", *e);
    if (i.due_on && i.after_days != 0) return Error::at("days", "only with after_milestone");
    if (i.after_days < 0 || i.after_days > 3650) return Error::at("days", "expected 0..3650");
    return storage::in_transaction(db, [&]() -> Result<Instalment> {
        auto c = locked_contract(db, project_id);
        if (!c) return c.error();
        if (c->status == ContractStatus::cancelled) return Error::at("label", "the contract is cancelled");
        auto n = count_of(db, "contract_instalments", c->id);
        if (!n) return n.error();
        if (*n >= static_cast<std::int64_t>(kMaxInstalments))
            return Error::at("label", "at most " + std::to_string(kMaxInstalments) + " instalments");
        if (i.after_milestone) {
            auto ms = list_milestones(db, project_id);
            if (!ms) return ms.error();
            if (std::none_of(ms->begin(), ms->end(),
                             [&](const Milestone& m) { return m.key == *i.after_milestone; }))
                return Error::at("after_milestone", "project " + std::to_string(project_id) +
                                                        " has no milestone '" + *i.after_milestone + "'");
        }
        i.contract_id = c->id;
        i.created_at = i.updated_at = now;
        i.version = 1;
        auto r = db.run(
            "INSERT INTO contract_instalments (contract_id, label, amount_minor, percent, due_on, "
            "after_milestone, "
            "after_days, created_at_ms, updated_at_ms, version) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8, "
            "1) "
            "RETURNING id",
            {i.contract_id, i.label, detail::opt(i.amount),
             i.percent ? Value{std::int64_t{*i.percent}} : Value{nullptr}, detail::opt(i.due_on),
             detail::opt(i.after_milestone), std::int64_t{i.after_days}, std::int64_t{to_epoch_ms(now)}});
        if (!r) return r.error();
        i.id = r->rows.at(0).integer(0);
        if (auto a = audit_contract_change(db, now, actor, "create", "instalment", i.id, std::nullopt,
                                           instalment_audit_json(i));
            !a)
            return a.error();
        return i;
    });
}

Result<Instalment> update_instalment(storage::Db& db, std::int64_t project_id, std::int64_t instalment_id,
                                     const InstalmentChange& change, std::int64_t expected_version,
                                     const std::string& actor, TimePoint now) {
    return storage::in_transaction(db, [&]() -> Result<Instalment> {
        auto c = locked_contract(db, project_id);
        if (!c) return c.error();
        auto r = db.run(std::string("SELECT ") + kInstalmentColumns +
                            " FROM contract_instalments WHERE id = $1 AND contract_id = $2",
                        {instalment_id, c->id});
        if (!r) return r.error();
        if (r->rows.empty())
            return Error{"no instalment " + std::to_string(instalment_id) + " in project " +
                             std::to_string(project_id),
                         ErrorKind::not_found};
        const Instalment before = instalment_from_row(r->rows[0]);
        if (before.version != expected_version)
            return Error::at("version",
                             "the instalment is at version " + std::to_string(before.version) + ", not " +
                                 std::to_string(expected_version) + " (changed by someone else: reload it)",
                             ErrorKind::conflict);
        Instalment i = before;
        if (change.label) {
            i.label = records::detail::trim(*change.label);
            if (auto s = check_label(i.label, 200, "label"); !s) return s.error();
        }
        if (change.snoozed_until) i.snoozed_until = *change.snoozed_until;
        if (i.label == before.label && i.snoozed_until == before.snoozed_until) return i;
        auto u = db.run(
            "UPDATE contract_instalments SET label = $1, snoozed_until_ms = $2, updated_at_ms = $3, version "
            "= version "
            "+ 1 WHERE id = $4 AND version = $5",
            {i.label, detail::opt_ms(i.snoozed_until), std::int64_t{to_epoch_ms(now)}, i.id,
             expected_version});
        if (!u) return u.error();
        if (u->affected == 0)
            return Error::at("version", "the instalment was changed meanwhile: reload it",
                             ErrorKind::conflict);
        i.version = expected_version + 1;
        i.updated_at = now;
        if (auto a = audit_contract_change(db, now, actor, "update", "instalment", i.id,
                                           instalment_audit_json(before), instalment_audit_json(i));
            !a)
            return a.error();
        return i;
    });
}

Result<Payment> record_payment(storage::Db& db, std::int64_t project_id, Payment p, const std::string& actor,
                               TimePoint now) {
    p.reference = records::detail::trim(p.reference);
    if (auto s = check_past_day(p.paid_on, now, "paid_on"); !s) return s.error();
    if (auto s = check_amount(p.amount, 1, "amount"); !s) return s.error();
    if (auto s = check_currency(p.currency, "currency"); !s) return s.error();
    if (auto e = records::detail::check_text(p.reference, 200)) return Error::at("reference", *e);
    return storage::in_transaction(db, [&]() -> Result<Payment> {
        auto c = locked_contract(db, project_id);
        if (!c) return c.error();
        if (c->status == ContractStatus::cancelled) return Error::at("amount", "the contract is cancelled");
        if (p.currency != c->currency)
            return Error::at("currency", "the contract is in " + c->currency + ", not " + p.currency);
        auto n = count_of(db, "contract_payments", c->id);
        if (!n) return n.error();
        if (*n >= static_cast<std::int64_t>(kMaxPayments))
            return Error::at("amount", "at most " + std::to_string(kMaxPayments) + " payments per contract");
        p.contract_id = c->id;
        p.recorded_by = actor;
        p.recorded_at = now;
        auto r = db.run(
            "INSERT INTO contract_payments (contract_id, paid_on, amount_minor, currency, method, reference, "
            "recorded_by, recorded_at_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
            {p.contract_id, p.paid_on, p.amount, p.currency,
             std::string(enum_name(kPaymentMethodNames, p.method)), p.reference, actor,
             std::int64_t{to_epoch_ms(now)}});
        if (!r) return r.error();
        p.id = r->rows.at(0).integer(0);
        const std::string after = nlohmann::json{
            {"id", p.id},
            {"contract_id", p.contract_id},
            {"paid_on", p.paid_on},
            {"amount_minor", p.amount},
            {"currency", p.currency},
            {"method", enum_name(kPaymentMethodNames, p.method)},
            {"reference",
             p.reference}}.dump();
        if (auto a = audit_contract_change(db, now, actor, "create", "payment", p.id, std::nullopt, after);
            !a)
            return a.error();
        return p;
    });
}

namespace {

// The details of the contracts matching `where` (on contracts `c`), in a fixed number of statements.
Result<std::vector<ContractDetail>> details_where(storage::Db& db, const std::string& where,
                                                  const storage::Params& params, TimePoint now) {
    auto contracts = db.run("SELECT " + qualified_columns(kContractColumns, "c") +
                                " FROM contracts c WHERE " + where + " ORDER BY c.id",
                            params);
    if (!contracts) return contracts.error();
    auto changes = change_orders_where(db, where, params);
    if (!changes) return changes.error();
    auto instalments = instalments_where(db, where, params);
    if (!instalments) return instalments.error();
    auto payments = payments_where(db, where, params);
    if (!payments) return payments.error();
    auto milestones = trigger_milestones_where(db, where, params);
    if (!milestones) return milestones.error();
    std::vector<ContractDetail> out;
    std::map<std::int64_t, std::size_t> index_of;  // contract id → position in out
    for (const Row& row : contracts->rows) {
        ContractDetail d;
        d.contract = contract_from_row(row);
        index_of[d.contract.id] = out.size();
        out.push_back(std::move(d));
    }
    // Outside a transaction a contract made between the statements may appear in a later one only: skipped.
    auto of = [&](std::int64_t contract_id) -> ContractDetail* {
        const auto it = index_of.find(contract_id);
        return it == index_of.end() ? nullptr : &out[it->second];
    };
    for (auto& o : *changes)
        if (auto* d = of(o.contract_id)) d->change_orders.push_back(std::move(o));
    for (auto& i : *instalments)
        if (auto* d = of(i.contract_id)) d->instalments.push_back(std::move(i));
    for (auto& p : *payments)
        if (auto* d = of(p.contract_id)) d->payments.push_back(std::move(p));
    std::map<std::int64_t, std::vector<Milestone>> milestones_of_project;
    for (auto& m : *milestones) milestones_of_project[m.project_id].push_back(std::move(m));
    for (auto& d : out)
        d.plan = payment_plan(contract_total(d.contract, d.change_orders), d.instalments,
                              milestones_of_project[d.contract.project_id], d.payments, now);
    return out;
}

}  // namespace

Result<std::optional<ContractDetail>> contract_detail(storage::Db& db, std::int64_t project_id,
                                                      TimePoint now) {
    auto list = details_where(db, "c.project_id = $1", {project_id}, now);
    if (!list) return list.error();
    if (list->empty()) return std::optional<ContractDetail>{};
    return std::optional<ContractDetail>{std::move(list->front())};
}

namespace {

struct SignedContract {
    ContractDetail detail;
    std::string project_name;
    std::optional<std::string> sales_rep, manager;
    bool project_active = false;
};

// Every signed contract with its plan and what its project says about who is reminded and credited.
Result<std::vector<SignedContract>> signed_contracts(storage::Db& db, TimePoint now) {
    auto details = details_where(db, "c.status = 'signed'", {}, now);
    if (!details) return details.error();
    auto projects = db.run(
        "SELECT p.id, p.name, p.sales_rep, p.manager, p.status FROM projects p JOIN contracts c ON "
        "c.project_id = "
        "p.id WHERE c.status = 'signed'");
    if (!projects) return projects.error();
    std::map<std::int64_t, const Row*> project_row;
    for (const Row& row : projects->rows) project_row[row.integer(0)] = &row;
    std::vector<SignedContract> out;
    for (auto& d : *details) {
        const auto found = project_row.find(d.contract.project_id);
        if (found == project_row.end()) continue;  // signed between the two statements: the next pass has it
        const Row& row = *found->second;
        SignedContract s;
        s.detail = std::move(d);
        s.project_name = row.text(1);
        s.sales_rep = row.opt_text(2);
        s.manager = row.opt_text(3);
        s.project_active = row.text(4) == "active";
        out.push_back(std::move(s));
    }
    return out;
}

void add_figure(std::vector<CollectionFigure>& list, const std::string& key, const std::string& currency,
                std::int64_t due, std::int64_t collected) {
    auto it = std::find_if(list.begin(), list.end(),
                           [&](const CollectionFigure& f) { return f.key == key && f.currency == currency; });
    if (it == list.end()) {
        list.push_back(CollectionFigure{key, currency, 0, 0, 0});
        it = std::prev(list.end());
    }
    it->due += due;
    it->collected += collected;
    ++it->instalments;
}

Result<std::optional<std::string>> active_supervisor(storage::Db& db, const std::string& user) {
    auto r = db.run("SELECT supervisor FROM users WHERE name = $1 AND disabled = 0", {user});
    if (!r) return r.error();
    if (r->rows.empty()) return std::optional<std::string>{};
    return r->rows[0].opt_text(0);
}

// Records level `level` of `rule` for the instalment and delivers it in one transaction; false when it was
// recorded before (an earlier pass, another server).
Result<bool> send_payment_reminder(storage::Db& db, const StallRule& rule, const SignedContract& sc,
                                   const InstalmentStatus& s, int level, const std::vector<std::string>& recipients,
                                   const std::optional<std::string>& owner, TimePoint now) {
    return storage::in_transaction(db, [&]() -> Result<bool> {
        auto r = db.run(
            "INSERT INTO payment_reminders (rule, instalment_id, level, project_id, recipients, sent_at_ms) "
            "VALUES "
            "($1, $2, $3, $4, $5, $6) ON CONFLICT (rule, instalment_id, level) DO NOTHING RETURNING id",
            {rule.name, s.instalment.id, std::int64_t{level}, sc.detail.contract.project_id,
             nlohmann::json(recipients).dump(), std::int64_t{to_epoch_ms(now)}});
        if (!r) return r.error();
        if (r->rows.empty()) return false;
        storage::NewEvent event;
        event.name = level == 1 ? "payment.overdue" : "payment.escalated";
        event.occurred_at = now;
        event.recipients = recipients;
        // Amounts in minor units, as stored; the texts show them as they are, with the currency.
        event.data = {{"project_id", sc.detail.contract.project_id},
                      {"project", sc.project_name},
                      {"contract", sc.detail.contract.number},
                      {"instalment_id", s.instalment.id},
                      {"instalment", s.instalment.label},
                      {"due_on", s.due_on.value_or("")},
                      {"amount", s.amount},
                      {"open_amount", s.amount - s.paid},
                      {"currency", sc.detail.contract.currency},
                      {"rule", rule.name},
                      {"level", level},
                      {"days", rule.after_days + (level == 2 ? rule.escalate_after_days : 0)},
                      {"owner", owner ? nlohmann::json(*owner) : nlohmann::json(nullptr)}};
        if (auto e = storage::append_event(db, event); !e) return e.error();
        return true;
    });
}

}  // namespace

Result<CollectionReport> collection_report(storage::Db& db, const std::string& from_day,
                                           const std::string& to_day, TimePoint now) {
    auto contracts = signed_contracts(db, now);
    if (!contracts) return contracts.error();
    CollectionReport report;
    for (const auto& sc : *contracts)
        for (const auto& s : sc.detail.plan.instalments) {
            if (!s.due_on || *s.due_on < from_day || *s.due_on > to_day) continue;
            const std::string& currency = sc.detail.contract.currency;
            add_figure(report.by_month, s.due_on->substr(0, 7), currency, s.amount, s.paid);
            add_figure(report.by_rep, sc.sales_rep.value_or(""), currency, s.amount, s.paid);
        }
    auto order = [](const CollectionFigure& a, const CollectionFigure& b) {
        return a.key != b.key ? a.key < b.key : a.currency < b.currency;
    };
    std::sort(report.by_month.begin(), report.by_month.end(), order);
    std::sort(report.by_rep.begin(), report.by_rep.end(), order);
    return report;
}

Status evaluate_payment_rule(storage::Db& db, const StallRule& rule, TimePoint now,
                             EvaluationReport& report) {
    auto contracts = signed_contracts(db, now);
    if (!contracts) return contracts.error();
    for (const auto& sc : *contracts) {
        if (!sc.project_active) continue;  // on hold or cancelled: no reminders, as for milestones
        for (const auto& s : sc.detail.plan.instalments) {
            if (s.state != InstalmentState::overdue) continue;
            ++report.checked;
            if (s.instalment.snoozed_until && *s.instalment.snoozed_until > now) continue;
            const TimePoint over = *day_start(*s.due_on) + std::chrono::days{1};  // the due day is over
            auto sent = db.run("SELECT level FROM payment_reminders WHERE rule = $1 AND instalment_id = $2",
                               {rule.name, s.instalment.id});
            if (!sent) return sent.error();
            bool recorded[2] = {false, false};
            for (const Row& row : sent->rows)
                if (row.integer(0) == 1 || row.integer(0) == 2) recorded[row.integer(0) - 1] = true;
            const std::optional<std::string> owner = sc.sales_rep ? sc.sales_rep : sc.manager;
            for (int level = 1; level <= 2; ++level) {
                if (recorded[level - 1]) continue;
                const int days = rule.after_days + (level == 2 ? rule.escalate_after_days : 0);
                if (now < over + std::chrono::days{days}) break;
                std::vector<std::string> to;
                if (owner && level == 1) to.push_back(*owner);
                if (owner && level == 2) {
                    auto sup = active_supervisor(db, *owner);
                    if (!sup) return sup.error();
                    if (*sup) to.push_back(**sup);
                }
                if (to.empty()) {
                    ++report.no_recipient;
                    continue;
                }
                auto done = send_payment_reminder(db, rule, sc, s, level, to, owner, now);
                if (!done) return done.error();
                if (*done) ++report.sent;
            }
        }
    }
    return {};
}

}  // namespace pvfleet::projects
