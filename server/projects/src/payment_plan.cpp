// The pure rules of a payment plan: totals, instalments' amounts and due days, allocation and states.
#include <algorithm>

#include "pvfleet/projects/contracts.hpp"

namespace pvfleet::projects {

std::int64_t contract_total(const Contract& c, const std::vector<ChangeOrder>& changes) {
    std::int64_t total = c.amount;
    for (const auto& o : changes) total += o.amount_delta;
    return total;
}

std::int64_t resolved_amount(const Instalment& i, std::int64_t total) {
    if (i.amount) return *i.amount;
    if (!i.percent || total <= 0) return 0;
    // Half up, in integers: (total × p × 2 + 100) / 200. total ≤ ~10^15 and p ≤ 100 keep it inside 64 bits.
    return (total * *i.percent * 2 + 100) / 200;
}

std::optional<std::string> resolved_due_on(const Instalment& i, const std::vector<Milestone>& milestones) {
    if (i.due_on) return i.due_on;
    if (!i.after_milestone) return std::nullopt;
    for (const auto& m : milestones)
        if (m.key == *i.after_milestone)
            return m.done_on ? std::optional(add_days(*m.done_on, i.after_days)) : std::nullopt;
    return std::nullopt;
}

bool is_overdue(const std::optional<std::string>& due_on, std::int64_t remaining, TimePoint now) {
    if (!due_on || remaining <= 0) return false;
    const auto start = day_start(*due_on);
    return start && now >= *start + std::chrono::days{1};
}

PaymentPlan payment_plan(std::int64_t total, const std::vector<Instalment>& instalments,
                         const std::vector<Milestone>& milestones, const std::vector<Payment>& payments,
                         TimePoint now) {
    PaymentPlan plan;
    plan.total = total;
    for (const auto& i : instalments) {
        InstalmentStatus s;
        s.instalment = i;
        s.amount = resolved_amount(i, total);
        s.due_on = resolved_due_on(i, milestones);
        plan.planned += s.amount;
        plan.instalments.push_back(std::move(s));
    }
    // Oldest due first; those without a due day yet last; ties as added (ids grow).
    std::stable_sort(plan.instalments.begin(), plan.instalments.end(),
                     [](const InstalmentStatus& a, const InstalmentStatus& b) {
                         if (a.due_on.has_value() != b.due_on.has_value()) return a.due_on.has_value();
                         if (a.due_on && *a.due_on != *b.due_on) return *a.due_on < *b.due_on;
                         return a.instalment.id < b.instalment.id;
                     });
    for (const auto& p : payments) plan.paid += p.amount;
    // Pouring the payments one by one in the order paid fills the same instalments as pouring their sum: the
    // allocation depends on the order of the instalments alone.
    std::int64_t left = plan.paid;
    for (auto& s : plan.instalments) {
        s.paid = std::min(left, s.amount);
        left -= s.paid;
        plan.allocated += s.paid;
        const std::int64_t remaining = s.amount - s.paid;
        plan.outstanding += remaining;
        if (remaining == 0)
            s.state = InstalmentState::paid;
        else if (is_overdue(s.due_on, remaining, now))
            s.state = InstalmentState::overdue;
        else
            s.state = s.paid > 0 ? InstalmentState::partly_paid : InstalmentState::open;
        if (s.state == InstalmentState::overdue) plan.overdue += remaining;
    }
    plan.unallocated = left;
    return plan;
}

}  // namespace pvfleet::projects
