// Notifications on both engines with a real SMTP sink (see CMakeLists.txt).
#include <doctest/doctest.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "pvfleet/notifications/dispatcher.hpp"
#include "pvfleet/notifications/email.hpp"
#include "pvfleet/notifications/inbox.hpp"
#include "pvfleet/notifications/settings.hpp"
#include "pvfleet/storage/events.hpp"
#include "pvfleet/storage/store.hpp"
#include "pvfleet/storage/work_orders.hpp"
#include "pvfleet/util/time_system.hpp"
#include "support/paths.hpp"
#include "support/process.hpp"
#include "support/server_backends.hpp"
#include "support/wait.hpp"

using namespace pvfleet;
using namespace std::chrono_literals;
using notifications::Language;
using test::ok;

namespace {

// 9 July 2026, 02:00 UTC: 10:00 in Shanghai.
const TimePoint kT0 = from_epoch_ms(1'783'562'400'000);
const std::string kFrom = "pvfleet@example.test";

// aiosmtpd on a loopback port, saving each message as NNNN.json (decoded by Python's e-mail parser).
class SmtpSink {
public:
    SmtpSink(int port, std::filesystem::path folder) : folder_(std::move(folder)) {
        const auto log = folder_.string() + ".log";
        process_ = std::make_unique<test::ChildProcess>(
            std::vector<std::string>{"/usr/bin/python3",
                                     (test::source_dir() / "tests/support/smtp_sink.py").string(),
                                     std::to_string(port), folder_.string()},
            log);
        REQUIRE_MESSAGE(test::wait_for_tcp_port(port, 20s), "the SMTP sink did not start: see " << log);
    }
    std::vector<nlohmann::json> messages() const {
        std::vector<std::filesystem::path> files;
        std::error_code ec;
        for (const auto& e : std::filesystem::directory_iterator(folder_, ec))
            if (e.path().extension() == ".json") files.push_back(e.path());
        std::sort(files.begin(), files.end());
        std::vector<nlohmann::json> out;
        for (const auto& f : files) out.push_back(nlohmann::json::parse(std::ifstream(f)));
        return out;
    }
    std::vector<nlohmann::json> wait_for(std::size_t n) const {
        test::wait_until([&] { return messages().size() >= n; }, 10s);
        return messages();
    }

private:
    std::filesystem::path folder_;
    std::unique_ptr<test::ChildProcess> process_;
};

std::unique_ptr<notifications::SmtpMailer> mailer_for(int port) {
    notifications::SmtpConfig config;
    config.url = "smtp://127.0.0.1:" + std::to_string(port);
    config.from = kFrom;
    config.timeout_s = 10;
    return ok(notifications::SmtpMailer::create(config));
}

struct Fixture {
    SimulatedTimeSystem time{kT0};
    storage::Store store;
    notifications::InboxConsumer inbox;
    notifications::EmailConsumer email{"https://pv.example.test"};
    notifications::RetryPolicy retry;

    explicit Fixture(const test::Backend& be) : store(be.open(), time) {
        REQUIRE(store.migrate());
        retry.first_retry = 60s;
        retry.max_attempts = 3;
    }
    storage::Db& db() { return store.db(); }
    long long scalar(const std::string& sql, const storage::Params& p = {}) {
        return db().run(sql, p)->rows.at(0).integer(0);
    }
    void user(const std::string& name, const std::string& role, const std::string& settings_json) {
        REQUIRE(db().run(
            "INSERT INTO users (name, display_name, role, password_hash, created_at_ms) VALUES ($1, $1, "
            "$2, 'x', 0)",
            {name, role}));
        auto change = ok(notifications::parse_settings_change(nlohmann::json::parse(settings_json)));
        REQUIRE(notifications::save_settings(db(), name, change, "setup", time.now()));
    }
    std::int64_t append(const std::string& name, std::vector<std::string> to, nlohmann::json data) {
        storage::NewEvent e;
        e.name = name;
        e.occurred_at = time.now();
        e.recipients = std::move(to);
        e.data = std::move(data);
        return ok(storage::append_event(db(), e));
    }
    storage::DispatchReport dispatch() {
        storage::EventConsumer* consumers[] = {&inbox, &email};
        return ok(storage::dispatch_pending_events(db(), consumers, time.now()));
    }
    notifications::DeliveryReport deliver(notifications::Mailer& mailer) {
        return ok(notifications::deliver_due_emails(db(), mailer, kFrom, time.now(), retry));
    }
    std::vector<notifications::OutboxEmail> outbox() { return ok(notifications::list_outbox(db(), 100)); }
    std::vector<notifications::Notification> inbox_of(const std::string& user) {
        return ok(notifications::list_inbox(db(), user, false, 0, 100));
    }
};

const nlohmann::json kOverdue = {{"project_id", 12},     {"project", "李家屋顶 Li Roof"},
                                 {"milestone_id", 7},    {"milestone", "Grid approval"},
                                 {"rule", "grid_slow"},  {"days", 7},
                                 {"after", "submitted"}, {"level", 1}};

// Records what it is asked to send (for the cases about when, not how).
class RecordingMailer final : public notifications::Mailer {
public:
    Status send(const std::string&, const std::string& to, const std::string&) override {
        sent.push_back(to);
        return {};
    }
    std::vector<std::string> sent;
};

}  // namespace

TEST_CASE(
    "notifications: an event becomes inbox rows and e-mails in each recipient's language, sent over SMTP") {
    test::TempDir dir("notifications");
    for (const auto& be : test::fresh_backends(dir, "mail")) {
        CAPTURE(be.name);
        Fixture f(be);
        f.user("anna", "project_manager", R"({"email": "anna@example.test", "language": "en"})");
        f.user("li", "project_manager", R"({"email": "li@example.test", "language": "zh-CN"})");
        f.user("nomail", "project_manager", R"({"language": "en"})");  // no address: the inbox only
        const auto event_id = f.append("milestone.overdue", {"anna", "li", "nomail", "ghost"}, kOverdue);
        CHECK(f.dispatch().dispatched == 1);
        // The inbox, in each one's language; nobody unknown.
        REQUIRE(f.inbox_of("anna").size() == 1);
        CHECK(f.inbox_of("anna")[0].title == "Overdue: Grid approval — 李家屋顶 Li Roof");
        CHECK(f.inbox_of("anna")[0].link == "#/projects/12");
        CHECK(f.inbox_of("li")[0].title == "逾期：Grid approval — 李家屋顶 Li Roof");
        CHECK(f.inbox_of("nomail").size() == 1);
        CHECK(f.scalar("SELECT COUNT(*) FROM notifications") == 3);
        auto outbox = f.outbox();
        REQUIRE(outbox.size() == 2);  // anna and li: nomail has no address
        CHECK(outbox[0].event_id == event_id);
        // A repeated hand-over of the same event writes nothing twice (consumers keyed by event id).
        storage::Event again;
        again.id = event_id;
        again.name = "milestone.overdue";
        again.recipients = {"anna", "li"};
        again.data = kOverdue;
        REQUIRE(f.inbox.consume(f.db(), again, f.time.now()));
        REQUIRE(f.email.consume(f.db(), again, f.time.now()));
        CHECK(f.outbox().size() == 2);
        CHECK(f.scalar("SELECT COUNT(*) FROM notifications") == 3);

        const int port = test::free_tcp_port();
        SmtpSink sink(port, dir / (be.name + "-sink"));
        auto mailer = mailer_for(port);
        auto report = f.deliver(*mailer);
        CHECK(report.sent == 2);
        const auto got = sink.wait_for(2);
        REQUIRE(got.size() == 2);
        for (const auto& m : got) {
            CHECK(m["mail_from"] == kFrom);
            CHECK(m["content_type"] == "text/plain");
            CHECK(m["charset"] == "utf-8");
            CHECK(m["headers"]["Auto-Submitted"] == "auto-generated");
            CHECK(m["headers"]["Content-Transfer-Encoding"] == "base64");
            CHECK(m["headers"].contains("Date"));
            CHECK(m["headers"]["Message-ID"].get<std::string>().find("event-" + std::to_string(event_id)) !=
                  std::string::npos);
            const bool zh = m["rcpt_tos"][0] == "li@example.test";
            CHECK(m["headers"]["To"] == (zh ? "li@example.test" : "anna@example.test"));
            const std::string body = m["body"];
            CHECK(body.find("https://pv.example.test/#/projects/12") != std::string::npos);
            if (zh) {
                CHECK(m["subject"] == "逾期：Grid approval — 李家屋顶 Li Roof");
                CHECK(m["raw_headers"].get<std::string>().find("Subject: =?UTF-8?B?") != std::string::npos);
                CHECK(body.find("在 submitted 后 7 天仍未完成（规则 grid_slow）") != std::string::npos);
            } else {
                CHECK(m["subject"] == "Overdue: Grid approval — 李家屋顶 Li Roof");
                CHECK(body.find("is not done 7 days after submitted (rule grid_slow).") != std::string::npos);
            }
        }
        // Sent is sent: another pass, later, sends nothing.
        f.time.advance(1h);
        CHECK(f.deliver(*mailer).sent == 0);
        for (const auto& e : f.outbox()) {
            CHECK(e.state == notifications::EmailState::sent);
            CHECK(e.attempts == 1);
        }
        CHECK(sink.messages().size() == 2);
    }
}

TEST_CASE(
    "notifications: SMTP down, then up — the e-mail goes after the backoff, exactly once; attempts bounded") {
    test::TempDir dir("notifications");
    for (const auto& be : test::fresh_backends(dir, "retry")) {
        CAPTURE(be.name);
        Fixture f(be);
        f.user("anna", "project_manager", R"({"email": "anna@example.test"})");
        f.append("milestone.escalated", {"anna"}, kOverdue);
        f.dispatch();
        const int port = test::free_tcp_port();
        auto mailer = mailer_for(port);
        auto first = f.deliver(*mailer);  // nobody listens
        CHECK(first.retrying == 1);
        auto row = f.outbox().at(0);
        CHECK(row.state == notifications::EmailState::pending);
        CHECK(row.attempts == 1);
        REQUIRE(row.last_error);
        CHECK(row.last_error->find("smtp: ") == 0);
        CHECK(row.due_at == kT0 + 60s);
        SmtpSink sink(port, dir / (be.name + "-sink"));
        CHECK(f.deliver(*mailer).sent == 0);  // not due before the backoff ends
        f.time.advance(60s);
        CHECK(f.deliver(*mailer).sent == 1);
        f.time.advance(1h);
        CHECK(f.deliver(*mailer).sent == 0);
        CHECK(sink.wait_for(1).size() == 1);
        row = f.outbox().at(0);
        CHECK(row.state == notifications::EmailState::sent);
        CHECK(row.attempts == 2);
        CHECK_FALSE(row.last_error);
        CHECK(row.sent_at == kT0 + 60s);

        // Never reachable: 3 attempts (60 s, then 120 s apart), then failed and left alone.
        f.append("milestone.escalated", {"anna"}, kOverdue);
        f.dispatch();
        auto dead = mailer_for(test::free_tcp_port());
        CHECK(f.deliver(*dead).retrying == 1);
        f.time.advance(60s);
        CHECK(f.deliver(*dead).retrying == 1);
        f.time.advance(119s);
        CHECK(f.deliver(*dead).retrying == 0);  // 1 s early
        f.time.advance(1s);
        CHECK(f.deliver(*dead).failed == 1);
        f.time.advance(24h);
        CHECK(f.deliver(*dead).failed == 0);
        row = f.outbox().at(1);
        CHECK(row.state == notifications::EmailState::failed);
        CHECK(row.attempts == 3);
    }
}

TEST_CASE(
    "notifications: an e-mail due in the recipient's quiet hours waits for their end (dispatcher on a "
    "SimulatedTimeSystem)") {
    test::TempDir dir("notifications");
    for (const auto& be : test::fresh_backends(dir, "quiet")) {
        CAPTURE(be.name);
        Fixture f(be);
        // Shanghai (UTC+8): quiet 22:00–07:00 local = 14:00–23:00 UTC.
        f.user("li", "project_manager",
               R"({"email": "li@example.test", "language": "zh-CN", "time_zone": "Asia/Shanghai",
                   "quiet_hours": {"from": "22:00", "to": "07:00"}})");
        notifications::EventDispatcher dispatcher(f.time, f.db(), {&f.inbox, &f.email}, 60s);
        dispatcher.start();
        RecordingMailer mailer;
        // 10:00 local: sent at once.
        f.append("milestone.overdue", {"li"}, kOverdue);
        f.time.advance(60s);
        CHECK(f.deliver(mailer).sent == 1);
        // 23:30 local (15:30 UTC): the inbox at once, the e-mail at 07:00 local.
        f.time.advance_to(kT0 + 13h + 30min);
        f.append("milestone.escalated", {"li"}, kOverdue);
        f.time.advance(60s);
        CHECK(f.inbox_of("li").size() == 2);
        auto report = f.deliver(mailer);
        CHECK(report.deferred == 1);
        CHECK(report.sent == 0);
        CHECK(f.outbox().at(1).due_at == kT0 + 21h);  // 07:00 local the next day
        f.time.advance_to(kT0 + 21h - 1s);
        CHECK(f.deliver(mailer).sent == 0);
        f.time.advance(1s);
        CHECK(f.deliver(mailer).sent == 1);
        CHECK(mailer.sent == std::vector<std::string>{"li@example.test", "li@example.test"});
        CHECK(dispatcher.passes() > 1000);  // every minute of simulated time
        dispatcher.stop();
    }
}

TEST_CASE("notifications: preferences and defaults decide the channels; disabled users get nothing") {
    test::TempDir dir("notifications");
    for (const auto& be : test::fresh_backends(dir, "prefs")) {
        CAPTURE(be.name);
        Fixture f(be);
        f.user("anna", "project_manager",
               R"({"email": "anna@example.test",
                   "channels": {"milestone.overdue": {"inbox": true, "email": false},
                                "project.stage_changed": {"inbox": false, "email": true}}})");
        f.user("bob", "project_manager", R"({"email": "bob@example.test"})");  // the defaults
        f.user("gone", "project_manager", R"({"email": "gone@example.test"})");
        REQUIRE(f.db().run("UPDATE users SET disabled = 1 WHERE name = 'gone'"));
        f.append("milestone.overdue", {"anna", "bob", "gone"}, kOverdue);  // default: inbox + e-mail
        f.append(
            "project.stage_changed", {"anna", "bob"},
            {{"project_id", 12}, {"project", "Li Roof"}, {"from_stage", "design"}, {"stage", "install"}});
        CHECK(f.dispatch().dispatched == 2);
        std::vector<std::pair<std::string, std::string>> emails;
        for (const auto& e : f.outbox()) emails.emplace_back(e.recipient, e.subject);
        CHECK(emails == std::vector<std::pair<std::string, std::string>>{
                            {"bob", "Overdue: Grid approval — 李家屋顶 Li Roof"},
                            {"anna", "Li Roof: now in stage install"}});
        CHECK(f.inbox_of("anna").size() == 1);  // the overdue one; stage changes turned off in the inbox
        CHECK(f.inbox_of("bob").size() == 2);   // stage changes: inbox only by default
        CHECK(f.inbox_of("gone").empty());
        const auto settings = ok(notifications::load_settings(f.db(), "anna"));
        CHECK(settings.channels.at("milestone.overdue") == notifications::Channels{true, false});
        CHECK(settings.chosen.at("milestone.overdue"));
        CHECK_FALSE(settings.chosen.at("lead.created"));
        CHECK(f.scalar("SELECT COUNT(*) FROM audit_log WHERE action = 'notification-settings' AND entity_id "
                       "= 'anna'") == 1);
    }
}

TEST_CASE(
    "notifications: a work order's rolled-back creation tells nobody; a committed one tells the back "
    "office") {
    test::TempDir dir("notifications");
    for (const auto& be : test::fresh_backends(dir, "producer")) {
        CAPTURE(be.name);
        Fixture f(be);
        f.user("office", "back_office", R"({"email": "office@example.test", "language": "zh-CN",
            "channels": {"work_order.created": {"inbox": true, "email": true}}})");
        f.user("tech", "technician", R"({"email": "tech@example.test"})");
        REQUIRE(
            f.db().run("INSERT INTO sites (site_id, created_at_ms, updated_at_ms) VALUES ('roof-7', 0, 0)"));
        workorders::WorkOrder order;
        order.site_id = "roof-7";
        order.device_id = "inv-1";
        order.summary = "Inverter not producing";
        order.created_at = order.updated_at = order.due_at = f.time.now();
        auto rolled = storage::in_transaction(f.db(), [&]() -> Status {
            PVF_CHECK(storage::save_work_order(f.db(), order, std::nullopt, "alice", "create", f.time.now()));
            return Error{"a later step of the change failed"};
        });
        CHECK_FALSE(rolled);
        CHECK(f.dispatch().dispatched == 0);
        CHECK(f.outbox().empty());
        auto saved = ok(storage::in_transaction(f.db(), [&]() -> Result<workorders::WorkOrder> {
            return storage::save_work_order(f.db(), order, std::nullopt, "alice", "create", f.time.now());
        }));
        // Assigned to the technician, then closed: assigned → tech; closed → the office and tech.
        auto assigned = saved;
        assigned.assignee = "tech";
        assigned.state = workorders::WorkOrderState::assigned;
        REQUIRE(storage::save_work_order(f.db(), assigned, saved, "office", "assign", f.time.now()));
        auto closed = assigned;
        closed.state = workorders::WorkOrderState::closed;
        closed.closed_at = f.time.now();
        REQUIRE(storage::save_work_order(f.db(), closed, assigned, "tech", "close", f.time.now()));
        CHECK(f.dispatch().dispatched == 3);
        std::vector<std::string> events;
        for (const auto& e : ok(storage::events_after(f.db(), 0, 10))) events.push_back(e.name);
        CHECK(events ==
              std::vector<std::string>{"work_order.created", "work_order.assigned", "work_order.closed"});
        const auto office_inbox = f.inbox_of("office");
        REQUIRE(office_inbox.size() == 2);  // created and closed; the assignment was the office's own doing
        CHECK(office_inbox[1].title == "新工单 #" + std::to_string(saved.id) + "：Inverter not producing");
        CHECK(f.inbox_of("tech").size() == 1);  // assigned; the closing was the technician's own
        const auto outbox = f.outbox();
        REQUIRE(outbox.size() == 2);  // the office's created (chosen), the technician's assigned (default)
        CHECK(outbox[0].recipient == "office");
        CHECK(outbox[1].recipient == "tech");
        CHECK(outbox[1].subject == "Work order #" + std::to_string(saved.id) + " assigned to you");
    }
}
