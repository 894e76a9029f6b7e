#include "fixture.hpp"

#include <doctest/doctest.h>

#include "pvfleet/enrollment/code.hpp"
#include "pvfleet/enrollment/repository.hpp"
#include "pvfleet/ingest/ledger.hpp"
#include "pvfleet/leads/repository.hpp"
#include "pvfleet/projects/reminders.hpp"
#include "pvfleet/projects/repository.hpp"
#include "pvfleet/records/customers.hpp"
#include "pvfleet/records/sites.hpp"
#include "pvfleet/records/users.hpp"
#include "pvfleet/releases/rollouts.hpp"
#include "pvfleet/webhooks/webhooks.hpp"
#include "pvfleet/workorders/lifecycle.hpp"
#include "support/test_pki.hpp"

namespace pvfleet::api_test {
namespace {

constexpr TimePoint kStart{Millis{1'468'915'200'000}};  // 2016-07-19 08:00 UTC

protocol::TicketEventMessage ticket_opened(const std::string& site, const std::string& ticket) {
    protocol::TicketEventMessage m;
    m.site_id = site;
    m.seq = 1;
    m.sent_at = kStart;
    m.event.kind = domain::TicketEventKind::opened;
    m.event.at = kStart;
    m.event.ticket.id = ticket;
    m.event.ticket.device_id = "inv1";
    m.event.ticket.kind = domain::FaultKind::comm_lost;
    m.event.ticket.severity = domain::Severity::major;
    m.event.ticket.state = domain::TicketState::open;
    m.event.ticket.summary = "inv1 silent";
    m.event.ticket.opened_at = kStart;
    m.event.ticket.updated_at = kStart;
    return m;
}

std::unique_ptr<storage::Db> open(const std::filesystem::path& file) {
    storage::DbOptions options;
    options.sqlite_path = file.string();
    auto db = storage::open_db(options);
    REQUIRE_MESSAGE(db, (db ? "" : db.error().message));
    return std::move(*db);
}

}  // namespace

Fixture::Fixture(const std::string& password) : clock(kStart) {
    store = std::make_unique<storage::Store>(open(dir / "pvfleet.db"), clock);
    REQUIRE(store->migrate());
    api_db = open(dir / "pvfleet.db");
    std::array<unsigned char, 32> key{};
    key.fill(0x5a);
    cipher = std::make_unique<records::FieldCipher>(records::FieldCipher::from_key(key));

    const TimePoint now = clock.now();
    const std::vector<std::pair<std::string, records::Role>> users{
        {"admin", records::Role::admin},       {"office", records::Role::back_office},
        {"tech", records::Role::technician},   {"tech2", records::Role::technician},
        {"manager", records::Role::manager},   {"sam", records::Role::sales},
        {"pm", records::Role::project_manager}};
    for (const auto& [name, role] : users)
        REQUIRE(records::create_user(*api_db, name, name, role, password, "setup", now));
    records::Customer c;
    c.name = "Max Mustermann";
    auto created = records::create_customer(*api_db, *cipher, c, "setup", now);
    REQUIRE(created);
    customer_id = created->id;

    // Each site's gateway reports a ticket: ingest creates the site, the ticket and its work order.
    ingest::Ledger ledger(store->db(), clock);
    ledger.set_ticket_sink(&sink);
    for (const std::string site : {"site-a", "site-b", "site-c", "site-d"}) {
        ticket_of_site[site] = "t-" + site;
        auto in = ledger.ingest({ticket_opened(site, ticket_of_site[site])});
        REQUIRE_MESSAGE(in, (in ? "" : in.error().message));
        records::Device d;
        d.site_id = site;
        d.device_id = "inv1";
        d.vendor = "SMA";
        d.serial = "3001234500";
        REQUIRE(records::update_device(*api_db, d, std::nullopt, "setup", now));
        auto id = api_db->run("SELECT id FROM work_orders WHERE site_id = $1", {site});
        REQUIRE(id);
        REQUIRE(id->rows.size() == 1);
        order_of_site[site] = id->rows[0].integer(0);
    }
    const workorders::Actor office{"office", workorders::Role::back_office};
    auto dispatch = [&](const std::string& site, const std::string& tech, bool cancel) {
        auto before = storage::load_work_order(*api_db, order_of_site[site]);
        REQUIRE(before);
        REQUIRE(*before);
        auto next = workorders::assign(**before, tech, office, now);
        REQUIRE(next);
        if (cancel) {
            next = workorders::transition(*next, workorders::WorkOrderState::cancelled, office, now, "");
            REQUIRE(next);
        }
        REQUIRE(storage::save_work_order(*api_db, *next, **before, "office", "edit", now));
    };
    dispatch("site-a", "tech", false);
    dispatch("site-b", "tech2", false);
    dispatch("site-d", "tech", true);

    // Enrollment: an issuing CA, and the code of docs/api.md's example body waiting at site-c (inserted by
    // its hash, as create_code would store it; site-c, which no example body links to a customer, or the code
    // would be refused as site_changed); every wrong-typed body is tried from one address.
    const auto ca = test_pki::make_ca(now - std::chrono::hours(24), 3650);
    auto issuing = enrollment::IssuingCa::from_pem(ca.cert_pem, ca.key_pem, "", now);
    REQUIRE(issuing);
    context.issuing_ca = *issuing;
    context.enrollment.broker_uri = "ssl://broker.example.net:8883";
    context.enroll_limits.per_address = 100000;
    context.enroll_limits.global = 100000;
    const auto documented = enrollment::normalize_code("7K3M-Q9TX-2HWD-R4N0");
    REQUIRE(documented);
    REQUIRE(
        api_db->run("INSERT INTO enrollment_codes (code_hash, hint, site_id, created_at_ms, created_by, "
                    "expires_at_ms) VALUES ($1, 'R4N0', 'site-c', $2, 'setup', $3)",
                    {enrollment::code_hash(*documented), std::int64_t{to_epoch_ms(now)},
                     std::int64_t{to_epoch_ms(now + std::chrono::hours(72))}}));
    // The certificate lifecycle: site-a's gateway holds a certificate of this CA; the renewal body proves it.
    {
        auto gateway = test_pki::ec_key();
        auto signed_cert =
            (*issuing)->sign(test_pki::csr(gateway.get()), "site-a", std::chrono::hours(24 * 365), now);
        REQUIRE(signed_cert);
        REQUIRE(enrollment::detail::insert_certificate(
            *api_db, enrollment::record_of(*signed_cert, "site-a", now, std::nullopt), signed_cert->pem));
        certificate_serial = signed_cert->serial;
        auto next = test_pki::ec_key();
        const std::string next_csr = test_pki::csr(next.get());
        renew_example = {{"certificate", signed_cert->pem},
                         {"csr", next_csr},
                         {"signature", test_pki::sign_base64(gateway.get(), next_csr)}};
    }
    // CRM: one lead of sam's, one capture channel; the public route's limits out of the way of the many
    // tries.
    {
        leads::Lead lead;
        lead.name = "Lena Lead";
        lead.phone = "+49 89 1234567";
        auto captured = leads::capture(*api_db, *cipher, lead, "", context.lead_settings, std::string("sam"),
                                       "setup", now);
        REQUIRE_MESSAGE(captured, (captured ? "" : captured.error().message));
        lead_id = captured->lead->id;
        auto channel = leads::create_channel(*api_db, "Website", leads::Source::website, "", "setup", now);
        REQUIRE(channel);
        channel_id = channel->channel.id;
        channel_key = channel->key;
        context.lead_settings.public_capture.per_address_per_minute = 100000;
        context.lead_settings.public_capture.per_channel_per_minute = 100000;
    }
    // CRM: a project of pm's (of a lead sam converted), one of its milestones, a notification of admin's.
    {
        projects::NewProject n;
        n.name = "Fixture roof";
        n.customer_id = customer_id;
        n.manager = "pm";
        n.sales_rep = "sam";
        auto project = projects::create_project(*api_db, context.project_settings, n, "setup", now);
        REQUIRE_MESSAGE(project, (project ? "" : project.error().message));
        project_id = project->id;
        auto milestones = projects::list_milestones(*api_db, project_id);
        REQUIRE(milestones);
        REQUIRE(milestones->size() > 2);
        milestone_id = (*milestones)[1].id;
        REQUIRE(api_db->run("INSERT INTO notifications (recipient, event, title, body, project_id, created_at_ms) "
                            "VALUES ('admin', 'milestone.overdue', 'Site survey done — Fixture roof', '', $1, $2)",
                            {project_id, std::int64_t{to_epoch_ms(now)}}));
        notification_id = count("SELECT MAX(id) FROM notifications");
    }
    {  // outbound webhooks: one (admin routes on {id})
        webhooks::NewWebhook hook{"https://hooks.example.com/fixture", "fixture-secret-0123456789", {"*"}};
        auto made = webhooks::create_webhook(*api_db, *cipher, context.webhook_settings, hook, "setup", now);
        REQUIRE(made);
        webhook_id = made->webhook.id;
    }

    {  // over-the-air updates: one uploaded release (as a row; the upload itself is tested in
       // tests/integration/releases)
        auto rt = std::make_shared<releases::Runtime>();
        rt->settings.dir = dir / "releases";
        rt->settings.public_url = "https://pv.example.com";
        rt->link_key.bytes = std::string(32, 'k');
        REQUIRE(api_db->run(
            "INSERT INTO releases (sha256, package, version, architecture, size_bytes, signature, "
            "signed_by, uploaded_at_ms, uploaded_by) VALUES ($1, 'pvfleet-edge', '0.2.0', 'arm64', 1000, "
            "$2, 'release.pem', 0, 'admin')",
            {std::string(64, 'a'), std::string(86, 'A') + "=="}));
        context.releases = rt;
    }
    {  // remote diagnostics: log bundles (the upload over HTTPS is tested in tests/integration/log_bundles)
        diagnostics::Settings settings;
        settings.dir = dir / "diagnostics";
        settings.public_url = "https://pv.example.com";
        auto rt = diagnostics::load_runtime(settings);
        REQUIRE(rt);
        context.diagnostics = *rt;
    }
    context.db = api_db.get();
    context.cipher = cipher.get();
    context.clock = &clock;
    context.send_command = [this](const protocol::Command& command, const std::string&) -> Status {
        sent.push_back(command);
        return {};
    };
    api::add_routes(router, context);
}

http::Response Fixture::call(const std::string& method, const std::string& path, const std::string& user,
                             const std::string& body, std::map<std::string, std::string> headers) {
    http::Request r;
    r.method = method;
    r.target = path;
    REQUIRE(http::parse_target(path, r.path, r.query));
    r.remote = "192.0.2.10";
    r.body = body;
    if (method != "GET" && method != "HEAD") r.headers["content-type"] = "application/json";
    if (!user.empty()) {
        auto users = records::list_users(*api_db);
        REQUIRE(users);
        const records::User* found = nullptr;
        for (const auto& u : *users)
            if (u.name == user) found = &u;
        REQUIRE(found != nullptr);
        auto session = records::create_session(*api_db, *found, clock.now());
        REQUIRE(session);
        r.headers["authorization"] = "Bearer " + session->token;
    }
    if (path == "/api/public/leads") r.headers["x-pvfleet-channel-key"] = channel_key;
    for (auto& [k, v] : headers) r.headers[k] = v;
    return router.handle(r);
}

std::int64_t Fixture::count(const std::string& sql) {
    auto r = api_db->run(sql);
    REQUIRE(r);
    return r->rows.at(0).integer(0);
}

std::int64_t Fixture::order_version(std::int64_t id) {
    auto r = api_db->run("SELECT version FROM work_orders WHERE id = $1", {id});
    REQUIRE(r);
    return r->rows.at(0).integer(0);
}

std::vector<std::int64_t> Fixture::fingerprint() {
    std::vector<std::int64_t> f;
    for (const char* sql :
         {"SELECT COUNT(*) FROM audit_log WHERE action NOT IN ('login', 'logout')",
          "SELECT COUNT(*) FROM users", "SELECT COUNT(*) FROM customers", "SELECT COUNT(*) FROM sites",
          "SELECT COUNT(*) FROM work_order_notes", "SELECT COUNT(*) FROM device_history",
          "SELECT COALESCE(SUM(version), 0) FROM work_orders",
          "SELECT COALESCE(SUM(version), 0) FROM customers", "SELECT COALESCE(SUM(version), 0) FROM sites",
          "SELECT COALESCE(SUM(version), 0) FROM devices",
          // CRM
          "SELECT COUNT(*) FROM leads", "SELECT COALESCE(SUM(version), 0) FROM leads",
          "SELECT COUNT(*) FROM lead_touches", "SELECT COUNT(*) FROM lead_inquiries",
          "SELECT COUNT(*) FROM lead_channels", "SELECT COALESCE(SUM(version), 0) FROM users",
          "SELECT COUNT(*) FROM projects", "SELECT COALESCE(SUM(version), 0) FROM projects",
          "SELECT COALESCE(SUM(version), 0) FROM project_milestones",
          "SELECT COUNT(*) FROM notifications WHERE read_at_ms IS NULL",
          // outbound webhooks
          "SELECT COUNT(*) FROM webhooks", "SELECT COALESCE(SUM(version), 0) FROM webhooks",
          "SELECT COUNT(*) FROM webhook_deliveries"})
        f.push_back(count(sql));
    f.push_back(static_cast<std::int64_t>(sent.size()));
    return f;
}

}  // namespace pvfleet::api_test
