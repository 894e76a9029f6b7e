// `pvfleet-server import customers|leads|projects FILE.csv`: the real binary on a SQLite file — each import all or
// nothing (a file with an error names its line and column, exits 1 and writes nothing), then the good file
// written, as the API's imports do.
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>

#include "server_runs.hpp"

using namespace pvfleet;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

void write_text(const fs::path& path, const std::string& text) { std::ofstream(path, std::ios::binary) << text; }

}  // namespace

TEST_CASE("import from the command line: customers, leads and projects, each all or nothing") {
    test::TempDir tmp;
    const fs::path dir = tmp.path();
    const fs::path db = dir / "server.db";
    write_text(dir / "server.json", "{\"database\": {\"kind\": \"sqlite\", \"path\": \"" + db.string() +
                                   "\"}, \"mqtt\": {\"uri\": \"tcp://127.0.0.1:1\"}, \"http\": {\"port\": 0}}");
    const std::string config = (dir / "server.json").string();
    auto import = [&](const std::string& what, const std::string& file, const std::string& name) {
        return cli_test::server(dir, {"import", what, (dir / file).string(), "--config", config}, name);
    };

    write_text(dir / "customers.csv",
          "customer_name,site_id,site_name,latitude,longitude,time_zone\n"
          "Anna Schmidt,berlin-001,House roof,52.53,13.38,Europe/Berlin\n");
    const auto customers = import("customers", "customers.csv", "customers");
    REQUIRE_MESSAGE(customers.status == 0, customers.output);

    // Leads: the second row's e-mail is no address, so nothing is written.
    write_text(dir / "leads-bad.csv",
          "name,phone,email,region,source\n"
          "Jonas Weber,+49 171 1111111,jonas@example.org,Nord,referral\n"
          "Mia Koch,+49 171 2222222,not-an-address,Süd,phone\n");
    const auto bad_leads = import("leads", "leads-bad.csv", "leads-bad");
    CHECK(bad_leads.status == 1);
    CHECK(bad_leads.output.find("line 3, email") != std::string::npos);
    CHECK(bad_leads.output.find("nothing imported") != std::string::npos);
    CHECK(cli_test::scalar(db, "SELECT COUNT(*) FROM leads") == 0);

    write_text(dir / "leads.csv",
          "name,phone,email,region,source\n"
          "Jonas Weber,+49 171 1111111,jonas@example.org,Nord,referral\n"
          "Mia Koch,+49 171 2222222,mia@example.org,Süd,phone\n"
          "Jonas Weber,+49 171 1111111,,Nord,phone\n");   // the same person again: attaches
    const auto leads = import("leads", "leads.csv", "leads");
    REQUIRE_MESSAGE(leads.status == 0, leads.output);
    CHECK(leads.output.find("2 leads created, 1 attached to known leads") != std::string::npos);
    CHECK(cli_test::scalar(db, "SELECT COUNT(*) FROM leads") == 2);

    // Projects: an unknown customer is the row's error; then the good file.
    write_text(dir / "projects-bad.csv",
          "name,customer_id,started_on,first_contact\nRoof,999,2026-02-01,2026-02-01\n");
    const auto bad_projects = import("projects", "projects-bad.csv", "projects-bad");
    CHECK(bad_projects.status == 1);
    CHECK(bad_projects.output.find("line 2, customer_id") != std::string::npos);
    CHECK(cli_test::scalar(db, "SELECT COUNT(*) FROM projects") == 0);

    const long long customer = cli_test::scalar(db, "SELECT MIN(id) FROM customers");
    write_text(dir / "projects.csv", "name,customer_id,site_id,started_on,first_contact,survey_done\n"
                                "Schmidt roof," + std::to_string(customer) +
                                    ",berlin-001,2026-02-01,2026-02-01,2026-02-10\n");
    const auto projects = import("projects", "projects.csv", "projects");
    REQUIRE_MESSAGE(projects.status == 0, projects.output);
    CHECK(projects.output.find("1 projects created") != std::string::npos);
    CHECK(cli_test::scalar(db, "SELECT COUNT(*) FROM projects") == 1);

    // Anything else is a usage error; a file far beyond any export is refused before it is read (sparse here).
    CHECK(import("invoices", "projects.csv", "invoices").status == 2);
    write_text(dir / "huge.csv", "name\n");
    fs::resize_file(dir / "huge.csv", 65 * 1024 * 1024);
    const auto huge = import("leads", "huge.csv", "huge");
    CHECK(huge.status == 2);
    CHECK(huge.output.find("larger than") != std::string::npos);
    CHECK(cli_test::scalar(db, "SELECT COUNT(*) FROM leads") == 2);
}
