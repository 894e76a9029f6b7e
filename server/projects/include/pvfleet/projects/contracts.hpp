#pragma once
// Contracts and payments of a project (docs/projects.md, "Contracts and payments"): one contract per project,
// change orders that move its total, a payment plan of instalments (an amount or a percent of the total; due
// on a day or N days after a milestone of the project is done) and the payments recorded against it. Money is
// integer minor units of an ISO 4217 currency, never a double. What an instalment has been paid, and whether
// it is overdue, is derived when read (payments poured into the instalments oldest due first), so a milestone
// reopened, a change order or a late payment can never leave a stored figure stale.
//
// Here rather than in a module of its own: a contract hangs on a project, its due dates on the project's
// milestones, and its overdue reminders on the project's rule engine and `reminders` config section.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "pvfleet/projects/project.hpp"
#include "pvfleet/projects/reminders.hpp"
#include "pvfleet/storage/db.hpp"
#include "pvfleet/util/enum_names.hpp"

namespace pvfleet::projects {

// The bounds of money and of a plan: sums of them stay far inside 64 bits.
inline constexpr std::int64_t kMaxMinorAmount = 10'000'000'000'000;  // 10^13 minor units
inline constexpr std::size_t kMaxInstalments = 100;
inline constexpr std::size_t kMaxChangeOrders = 200;
inline constexpr std::size_t kMaxPayments = 2000;

enum class ContractStatus { draft, signed_ /* `signed` is a C++ keyword */, cancelled };
inline constexpr EnumNames<ContractStatus, 3> kContractStatusNames{
    {{ContractStatus::draft, "draft"},
     {ContractStatus::signed_, "signed"},
     {ContractStatus::cancelled, "cancelled"}}};

enum class PaymentMethod { bank_transfer, card, cash, financing, other };
inline constexpr EnumNames<PaymentMethod, 5> kPaymentMethodNames{
    {{PaymentMethod::bank_transfer, "bank_transfer"},
     {PaymentMethod::card, "card"},
     {PaymentMethod::cash, "cash"},
     {PaymentMethod::financing, "financing"},
     {PaymentMethod::other, "other"}}};

enum class InstalmentState { open, partly_paid, paid, overdue };
inline constexpr EnumNames<InstalmentState, 4> kInstalmentStateNames{
    {{InstalmentState::open, "open"},
     {InstalmentState::partly_paid, "partly_paid"},
     {InstalmentState::paid, "paid"},
     {InstalmentState::overdue, "overdue"}}};

struct Contract {
    std::int64_t id = 0;
    std::int64_t project_id = 0;
    std::string number;                    // unique over all contracts
    std::int64_t amount = 0;               // as signed, minor units; change orders move the total
    std::string currency;                  // ISO 4217 code, "EUR"
    std::optional<std::string> signed_on;  // YYYY-MM-DD; required once signed
    ContractStatus status = ContractStatus::draft;
    // The signed PDF: a live document of category signed_contract (a PDF) of the same project
    // (docs/documents.md).
    std::optional<std::int64_t> signed_document_id;
    std::string created_by;
    TimePoint created_at, updated_at;
    std::int64_t version = 1;
};

struct ChangeOrder {
    std::int64_t id = 0;
    std::int64_t contract_id = 0;
    std::string number;             // unique within the contract
    std::int64_t amount_delta = 0;  // minor units; negative reduces the total
    std::string reason;
    std::string approved_on;  // YYYY-MM-DD
    std::string created_by;
    TimePoint created_at;
};

struct Instalment {
    std::int64_t id = 0;
    std::int64_t contract_id = 0;
    std::string label;                           // "Deposit"
    std::optional<std::int64_t> amount;          // minor units, or
    std::optional<int> percent;                  // 1..100 of the contract's total (follows change orders)
    std::optional<std::string> due_on;           // a fixed day, or
    std::optional<std::string> after_milestone;  // `after_days` after this milestone of the project is done
    int after_days = 0;
    std::optional<TimePoint> snoozed_until;  // no overdue reminder before this instant
    TimePoint created_at, updated_at;
    std::int64_t version = 1;
};

struct Payment {
    std::int64_t id = 0;
    std::int64_t contract_id = 0;
    std::string paid_on;  // YYYY-MM-DD, not ahead of today
    std::int64_t amount = 0;
    std::string currency;  // the contract's
    PaymentMethod method = PaymentMethod::bank_transfer;
    std::string reference;
    std::string recorded_by;
    TimePoint recorded_at;
};

// ---- The pure rules ----

// The contract's amount plus its change orders.
std::int64_t contract_total(const Contract& c, const std::vector<ChangeOrder>& changes);
// An instalment's amount: its own, or percent × total / 100 rounded half up to the minor unit.
std::int64_t resolved_amount(const Instalment& i, std::int64_t total);
// Its due day: the fixed one, or its milestone's done_on + after_days; nullopt while that milestone is open.
std::optional<std::string> resolved_due_on(const Instalment& i, const std::vector<Milestone>& milestones);
// Overdue: something is left to pay and the due day is over (now ≥ due_on + 1 day, 00:00 UTC).
bool is_overdue(const std::optional<std::string>& due_on, std::int64_t remaining, TimePoint now);

struct InstalmentStatus {
    Instalment instalment;
    std::int64_t amount = 0;            // resolved
    std::optional<std::string> due_on;  // resolved
    std::int64_t paid = 0;              // allocated to it
    InstalmentState state = InstalmentState::open;
};

struct PaymentPlan {
    std::int64_t total = 0;        // contract_total
    std::int64_t planned = 0;      // Σ instalments' amounts
    std::int64_t paid = 0;         // Σ payments
    std::int64_t allocated = 0;    // Σ paid into instalments
    std::int64_t unallocated = 0;  // paid beyond every instalment (a credit)
    std::int64_t outstanding = 0;  // Σ instalments' remaining
    std::int64_t overdue = 0;      // Σ remaining of overdue instalments
    // In allocation order: by due day (unresolved last), then as added.
    std::vector<InstalmentStatus> instalments;
};
// Every payment poured, in the order paid, into the instalments oldest due first.
PaymentPlan payment_plan(std::int64_t total, const std::vector<Instalment>& instalments,
                         const std::vector<Milestone>& milestones, const std::vector<Payment>& payments,
                         TimePoint now);

// ---- The repository (both engines; each call one transaction, every change audited) ----

Result<std::optional<Contract>> contract_of_project(storage::Db& db, std::int64_t project_id);

struct ContractInput {
    std::optional<std::string> number;
    std::optional<std::int64_t> amount;
    std::optional<std::string> currency;
    std::optional<std::optional<std::string>> signed_on;
    std::optional<ContractStatus> status;
    // null clears it; a value must name a live PDF of category signed_contract of this project (invalid at
    // "signed_document_id" otherwise).
    std::optional<std::optional<std::int64_t>> signed_document_id;
};
// A new contract of the project (number, amount and currency required). ErrorKind::conflict at "project_id"
// when the project has one, at "number" when another contract has the number.
Result<Contract> create_contract(storage::Db& db, std::int64_t project_id, const ContractInput& in,
                                 const std::string& actor, TimePoint now);
// Changes what is given. A signed contract's amount and currency change only through change orders; the
// currency not once payments are recorded; status moves draft → signed → cancelled (or draft → cancelled).
Result<Contract> update_contract(storage::Db& db, std::int64_t project_id, const ContractInput& in,
                                 std::int64_t expected_version, const std::string& actor, TimePoint now);

// On a signed contract; the total never below zero.
Result<ChangeOrder> add_change_order(storage::Db& db, std::int64_t project_id, ChangeOrder order,
                                     const std::string& actor, TimePoint now);
// Not on a cancelled contract; after_milestone must be one of the project's milestones.
Result<Instalment> add_instalment(storage::Db& db, std::int64_t project_id, Instalment instalment,
                                  const std::string& actor, TimePoint now);
struct InstalmentChange {
    std::optional<std::string> label;
    std::optional<std::optional<TimePoint>> snoozed_until;
};
Result<Instalment> update_instalment(storage::Db& db, std::int64_t project_id, std::int64_t instalment_id,
                                     const InstalmentChange& change, std::int64_t expected_version,
                                     const std::string& actor, TimePoint now);
// Not on a cancelled contract; the currency must be the contract's.
Result<Payment> record_payment(storage::Db& db, std::int64_t project_id, Payment payment,
                               const std::string& actor, TimePoint now);

struct ContractDetail {
    Contract contract;
    std::vector<ChangeOrder> change_orders;
    std::vector<Instalment> instalments;  // as added
    std::vector<Payment> payments;        // by paid_on
    PaymentPlan plan;
};
Result<std::optional<ContractDetail>> contract_detail(storage::Db& db, std::int64_t project_id,
                                                      TimePoint now);

// ---- Collection rate (GET /api/reports/collections) ----
// Over the instalments of signed contracts whose due day lies in [from, to]: `due` their amounts, `collected`
// what has been allocated to them by now; per month of the due day and per sales rep of the project, each per
// currency (amounts in different currencies are never added).
struct CollectionFigure {
    std::string key;  // "2026-07" (by month) or the rep's name ("" : no rep)
    std::string currency;
    std::int64_t due = 0;
    std::int64_t collected = 0;
    int instalments = 0;
};
struct CollectionReport {
    std::vector<CollectionFigure> by_month;  // by month, then currency
    std::vector<CollectionFigure> by_rep;    // by rep, then currency
};
Result<CollectionReport> collection_report(storage::Db& db, const std::string& from_day,
                                           const std::string& to_day, TimePoint now);

// ---- Overdue reminders (a rule of kind payment_overdue; called by evaluate_stall_rules) ----
// Each overdue instalment of a signed contract of an active project, not snoozed: level 1 `after_days` days
// after its due day is over to the project's sales rep (else its manager), level 2 `escalate_after_days`
// later to their supervisor; recorded once per (rule, instalment, level) in payment_reminders with its event
// (payment.overdue, payment.escalated) appended in the same transaction.
Status evaluate_payment_rule(storage::Db& db, const StallRule& rule, TimePoint now,
                             EvaluationReport& report);

}  // namespace pvfleet::projects
