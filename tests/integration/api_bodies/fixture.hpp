#pragma once
#include <nlohmann/json.hpp>
// The REST API's router over a real SQLite file (schema from the storage migrations), without sockets: users
// of every role, a customer, and sites whose gateway tickets became work orders through the real ingest path.
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "pvfleet/api/api.hpp"
#include "pvfleet/storage/store.hpp"
#include "pvfleet/storage/work_orders.hpp"
#include "support/paths.hpp"

namespace pvfleet::api_test {

// Users of the fixture: one per role, and a second technician.
inline const std::map<std::string, std::string> kUserOfRole{
    {"admin", "admin"},  {"back_office", "office"}, {"technician", "tech"},
    {"manager", "manager"}, {"sales", "sam"},       {"project_manager", "pm"}};

struct Fixture {
    // `password`: every user's password (the documented login example's).
    explicit Fixture(const std::string& password = "correct horse battery");

    // A request through Router::handle as `user` ("" = no session; a fresh session per call, so a logout
    // cannot end the next call's). Writes carry Content-Type: application/json.
    http::Response call(const std::string& method, const std::string& path, const std::string& user,
                        const std::string& body = {}, std::map<std::string, std::string> headers = {});
    // Everything a write could change, as one comparable value (row counts, version sums, commands sent).
    std::vector<std::int64_t> fingerprint();
    std::int64_t order_version(std::int64_t id);
    std::int64_t count(const std::string& sql);

    test::TempDir dir;
    ManualClock clock;
    std::unique_ptr<storage::Store> store;  // ingest's connection
    std::unique_ptr<storage::Db> api_db;    // the API's own, as in the server
    std::unique_ptr<records::FieldCipher> cipher;
    storage::WorkOrderSink sink;
    api::ApiContext context;
    http::Router router;
    std::vector<protocol::Command> sent;  // commands the API sent to gateways

    std::int64_t customer_id = 0;
    // Sites: a (order open, assigned to tech), b (open, tech2), c (open, nobody), d (cancelled, tech).
    std::map<std::string, std::int64_t> order_of_site;
    std::map<std::string, std::string> ticket_of_site;
    // CRM: a lead assigned to the sales rep "sam", and a capture channel with its key (sent to the public route).
    std::int64_t lead_id = 0;
    std::int64_t channel_id = 0;
    // The certificate lifecycle: a certificate of site-a on record (the revoke route's {serial}), and a renewal
    // body made at run time (its certificate, CSR and signature belong to this fixture's CA and keys).
    std::string certificate_serial;
    nlohmann::json renew_example;
    std::string channel_key;
    // CRM: a project of pm's (sales rep sam), one of its milestones, and a notification in admin's inbox.
    std::int64_t project_id = 0;
    std::int64_t milestone_id = 0;
    std::int64_t notification_id = 0;
    // Outbound webhooks: one webhook (admin's).
    std::int64_t webhook_id = 0;
};

}  // namespace pvfleet::api_test
