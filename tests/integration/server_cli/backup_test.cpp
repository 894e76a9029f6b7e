// The backup and restore of docs/operations.md, done for real with the real binary: the server writes records
// (customers with encrypted personal fields, sites, a user), the database is copied the documented way
// (PostgreSQL: pg_dump -Fc, restored with pg_restore into a fresh cluster; SQLite: an online VACUUM INTO),
// the key is copied apart, the original database and key are gone, and a server started on the restored copy
// with the restored key reads the same records: the customers decrypt, the user logs in, a document uploaded
// before the backup (its file copied from documents/blobs after the database) comes back byte for byte. A
// wrong key is refused.
#include <doctest/doctest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <thread>

#include "pvfleet/storage/db.hpp"
#include "support/http_client.hpp"
#include "support/paths.hpp"
#include "support/postgres.hpp"
#include "support/process.hpp"

using namespace pvfleet;
using namespace std::chrono_literals;
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

constexpr const char* kCsv =
    "customer_name,phone,email,address,notes,site_id,site_name,site_address,latitude,longitude,time_zone,kwp,"
    "tilt,azimuth,installed_on\n"
    "Anna Schmidt,+49 171 2345678,anna@example.org,\"Hauptstr. 1, 10115 Berlin\",,berlin-001,House roof,"
    "\"Hauptstr. 1, 10115 Berlin\",52.5321,13.3849,Europe/Berlin,9.8,30,180,2024-05-17\n"
    "Wang Fang,+86 138 0000 1234,wang.fang@example.cn,\"Renmin Rd 5, Hangzhou\",,hz-002,Factory roof,"
    "\"Renmin Rd 5, Hangzhou\",30.2741,120.1551,Asia/Shanghai,48.0,10,170,2025-03-02\n";
constexpr const char* kPassword = "correct horse battery staple";
// A signed contract's PDF, with bytes beyond ASCII.
const std::string kDocument = std::string("%PDF-1.4\n%\xE2\xE3\xCF\xD3\n1 0 obj << >> endobj\n") +
                              std::string(3000, '\x01') + "%%EOF\n";

void write(const fs::path& path, const std::string& text) {
    std::ofstream(path, std::ios::binary) << text;
    fs::permissions(path, fs::perms::owner_read | fs::perms::owner_write);
}

// A server config in `dir`: the database object as given, the key file beside it, HTTP on a free port.
// With `new_key`, a fresh key file as the package's postinst makes one (64 hex digits, mode 0600).
fs::path write_config(const fs::path& dir, const json& database, bool new_key) {
    fs::create_directories(dir);
    if (new_key) {
        std::random_device rd;
        std::string hex;
        for (int i = 0; i < 64; ++i) hex += "0123456789abcdef"[rd() % 16];
        write(dir / "secret.key", hex + "\n");
    }
    const json config{{"database", database},
                      {"http", {{"listen", "127.0.0.1"}, {"port", 0}}},
                      {"documents", {{"dir", (dir / "documents").string()}}},
                      {"secret_key_file", (dir / "secret.key").string()}};
    write(dir / "server.json", config.dump(2));
    return dir / "server.json";
}

void run_ok(const std::vector<std::string>& argv) {
    const auto r = test::run_command(argv, 120s);
    REQUIRE_MESSAGE(r.status == 0, argv[0] << " " << (argv.size() > 1 ? argv[1] : "") << ": " << r.out);
}

// What the server writes before the backup: two customers and their sites (an import), the first user.
void write_records(const fs::path& config) {
    const fs::path dir = config.parent_path();
    write(dir / "customers.csv", kCsv);
    run_ok({PVFLEET_SERVER_BIN, "import", "customers", (dir / "customers.csv").string(), "--config",
            config.string()});
    write(dir / "pw", std::string(kPassword) + "\n");
    run_ok({PVFLEET_SERVER_BIN, "user", "add", "--config", config.string(), "--name", "admin", "--role",
            "admin", "--password-file", (dir / "pw").string()});
    REQUIRE(fs::exists(dir / "secret.key"));
}

// The HTTP port of a starting server, read from its log's "http listening on ADDRESS:PORT" (0: it ended or
// did not listen within 30 s).
int wait_listening(const fs::path& log, test::ChildProcess& server) {
    for (int i = 0; i < 300; ++i) {
        const auto text = fs::exists(log) ? test::read_file(log) : std::string();
        if (const auto p = text.rfind("http listening on "); p != std::string::npos) {
            if (const auto colon = text.find(':', p + 18); colon != std::string::npos)
                return std::atoi(text.c_str() + colon + 1);
        }
        if (!server.running()) return 0;
        std::this_thread::sleep_for(100ms);
    }
    return 0;
}

// Starts the server on `config`, logs in as the user written before the backup and returns what it reads of
// the customers: their decrypted names, phones and e-mail addresses (sorted), the number of sites, and the
// first customer's documents compared with kDocument. `upload`: first upload kDocument to the first customer.
std::string read_back(const fs::path& config, bool upload = false) {
    const fs::path log = config.parent_path() / "run.log";
    test::ChildProcess server({PVFLEET_SERVER_BIN, "run", "--config", config.string()}, log);
    const int port = wait_listening(log, server);
    REQUIRE_MESSAGE(port > 0, test::read_file(log));
    const std::map<std::string, std::string> json_ct{{"Content-Type", "application/json"}};
    const auto login = test::http_request("127.0.0.1", port, "POST", "/api/login",
                                          json{{"user", "admin"}, {"password", kPassword}}.dump(), json_ct);
    REQUIRE_MESSAGE(login.status == 200, login.body);
    const std::string token = json::parse(login.body)["token"];
    const std::map<std::string, std::string> auth{{"Authorization", "Bearer " + token}};
    const auto customers = test::http_request("127.0.0.1", port, "GET", "/api/customers?limit=100", {}, auth);
    REQUIRE_MESSAGE(customers.status == 200, customers.body);
    std::vector<std::string> seen;
    const json page = json::parse(customers.body);
    for (const auto& c : page["items"])
        seen.push_back(c.value("name", "") + " | " + c.value("phone", "") + " | " + c.value("email", ""));
    std::sort(seen.begin(), seen.end());
    REQUIRE_FALSE(page["items"].empty());
    std::int64_t first = page["items"][0]["id"];
    for (const auto& c : page["items"]) first = std::min<std::int64_t>(first, c["id"]);
    const std::string documents = "/api/customers/" + std::to_string(first) + "/documents";
    if (upload) {
        auto headers = auth;
        headers["Content-Type"] = "application/octet-stream";
        const auto up =
            test::http_request("127.0.0.1", port, "POST",
                               documents + "?category=signed_contract&name=Vertrag.pdf", kDocument, headers);
        REQUIRE_MESSAGE(up.status == 201, up.body);
    }
    const auto listed = test::http_request("127.0.0.1", port, "GET", documents, {}, auth);
    REQUIRE_MESSAGE(listed.status == 200, listed.body);
    std::string docs;
    const json listed_docs = json::parse(listed.body);
    for (const auto& d : listed_docs["items"]) {
        const auto got =
            test::http_request("127.0.0.1", port, "GET", d["content_url"].get<std::string>(), {}, auth);
        docs += "\ndocument: " + d["file_name"].get<std::string>() + " " + std::to_string(got.status) + " " +
                (got.body == kDocument ? "byte for byte" : "different bytes");
    }
    const auto sites = test::http_request("127.0.0.1", port, "GET", "/api/sites?limit=100", {}, auth);
    REQUIRE_MESSAGE(sites.status == 200, sites.body);
    std::string out;
    for (const auto& s : seen) out += s + "\n";
    out += "sites: " + std::to_string(json::parse(sites.body)["items"].size()) + docs;
    CHECK(server.stop() == 0);
    return out;
}

// A server on `config` with another key in place refuses to start and names the key file.
void wrong_key_refused(const fs::path& config) {
    const fs::path key = config.parent_path() / "secret.key";
    const std::string right = test::read_file(key);
    write(key, std::string(64, 'd') + "\n");
    const fs::path log = config.parent_path() / "wrong-key.log";
    test::ChildProcess proc({PVFLEET_SERVER_BIN, "run", "--config", config.string()}, log);
    const auto status = proc.wait(60s);
    REQUIRE(status.has_value());
    CHECK(*status != 0);
    CHECK_MESSAGE(test::read_file(log).find("key check value") != std::string::npos, test::read_file(log));
    write(key, right);
}

constexpr const char* kExpected =
    "Anna Schmidt | +49 171 2345678 | anna@example.org\n"
    "Wang Fang | +86 138 0000 1234 | wang.fang@example.cn\n"
    "sites: 2\n"
    "document: Vertrag.pdf 200 byte for byte";

// The documents' files, copied after the database as docs/operations.md says.
void copy_blobs(const fs::path& from_config_dir, const fs::path& to) {
    fs::create_directories(to);
    fs::copy(from_config_dir / "documents" / "blobs", to,
             fs::copy_options::recursive | fs::copy_options::skip_existing);
}

}  // namespace

TEST_CASE("backup and restore on PostgreSQL 15: pg_dump, a fresh cluster, pg_restore, the key apart") {
    const fs::path bin = test::PostgresCluster::bin_dir();
    if (bin.empty()) {
        MESSAGE("PostgreSQL not installed (postgresql-15): skipped");
        return;
    }
    test::TempDir temp;
    const fs::path dump = temp / "pvfleet.dump";
    const fs::path kept_key = temp / "secret.key.backup";
    std::string before;
    {
        test::PostgresCluster original;
        REQUIRE_MESSAGE(original.ok(), original.why());
        const auto uri = original.create_database("pvfleet");
        const auto config = write_config(temp / "original", {{"kind", "postgres"}, {"uri", uri}}, true);
        write_records(config);
        before = read_back(config, true);
        CHECK(before == kExpected);
        // The backup: the dump from the running cluster, the documents' files, the key copied apart.
        run_ok({(bin / "pg_dump").string(), "-Fc", "-f", dump.string(), "-d", uri});
        copy_blobs(temp / "original", temp / "blobs-backup");
        fs::copy_file(temp / "original" / "secret.key", kept_key);
    }  // the original cluster and its folder are gone; so is the original key with temp/original below
    fs::remove_all(temp / "original");
    REQUIRE(fs::file_size(dump) > 0);

    test::PostgresCluster fresh;
    REQUIRE_MESSAGE(fresh.ok(), fresh.why());
    const auto uri = fresh.create_database("pvfleet");
    run_ok({(bin / "pg_restore").string(), "--no-owner", "--exit-on-error", "-d", uri, dump.string()});
    const auto config = write_config(temp / "restored", {{"kind", "postgres"}, {"uri", uri}}, false);
    fs::create_directories(temp / "restored" / "documents");
    fs::copy(temp / "blobs-backup", temp / "restored" / "documents" / "blobs", fs::copy_options::recursive);
    fs::copy_file(kept_key, temp / "restored" / "secret.key");
    fs::permissions(temp / "restored" / "secret.key", fs::perms::owner_read | fs::perms::owner_write);
    CHECK(read_back(config) == before);
    wrong_key_refused(config);
}

TEST_CASE("backup and restore on SQLite: an online VACUUM INTO copy, the key apart") {
    test::TempDir temp;
    const auto config = write_config(temp / "original", {{"kind", "sqlite"}, {"path", "server.db"}}, true);
    write_records(config);
    const fs::path copy = temp / "server-backup.db";
    const fs::path kept_key = temp / "secret.key.backup";
    {
        // Online: the copy is taken while the server runs and holds the database open.
        const fs::path log = temp / "original" / "online.log";
        test::ChildProcess running({PVFLEET_SERVER_BIN, "run", "--config", config.string()}, log);
        const int port = wait_listening(log, running);
        REQUIRE_MESSAGE(port > 0, test::read_file(log));
        {  // a document uploaded before the backup
            const auto login = test::http_request("127.0.0.1", port, "POST", "/api/login",
                                                  json{{"user", "admin"}, {"password", kPassword}}.dump(),
                                                  {{"Content-Type", "application/json"}});
            REQUIRE_MESSAGE(login.status == 200, login.body);
            const auto up = test::http_request(
                "127.0.0.1", port, "POST",
                "/api/customers/1/documents?category=signed_contract&name=Vertrag.pdf", kDocument,
                {{"Authorization", "Bearer " + json::parse(login.body)["token"].get<std::string>()},
                 {"Content-Type", "application/octet-stream"}});
            REQUIRE_MESSAGE(up.status == 201, up.body);
        }
        storage::DbOptions o;
        o.sqlite_path = (temp / "original" / "server.db").string();
        auto db = storage::open_db(o);
        REQUIRE(db.ok());
        auto r = (*db)->run("VACUUM INTO '" + copy.string() + "'");
        REQUIRE_MESSAGE(r.ok(), (r.ok() ? "" : r.error().message));
        copy_blobs(temp / "original", temp / "blobs-backup");  // after the database copy
        CHECK(running.stop() == 0);
    }
    fs::copy_file(temp / "original" / "secret.key", kept_key);
    const std::string before = read_back(config);
    CHECK(before == kExpected);
    fs::remove_all(temp / "original");

    const auto restored = write_config(temp / "restored", {{"kind", "sqlite"}, {"path", "server.db"}}, false);
    fs::copy_file(copy, temp / "restored" / "server.db");
    fs::create_directories(temp / "restored" / "documents");
    fs::copy(temp / "blobs-backup", temp / "restored" / "documents" / "blobs", fs::copy_options::recursive);
    fs::copy_file(kept_key, temp / "restored" / "secret.key");
    fs::permissions(temp / "restored" / "secret.key", fs::perms::owner_read | fs::perms::owner_write);
    CHECK(read_back(restored) == before);
    wrong_key_refused(restored);
}
