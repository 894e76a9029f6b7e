// Customer records on SQLite and PostgreSQL: personal fields encrypted at rest (and in the audit log),
// password hashes, optimistic concurrency, site validation, device serial history, sessions, and the CSV
// import with its golden files.
#include <doctest/doctest.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>

#include "pvfleet/records/crypto.hpp"
#include "pvfleet/records/customers.hpp"
#include "pvfleet/records/import.hpp"
#include "pvfleet/records/key_check.hpp"
#include "pvfleet/records/passwords.hpp"
#include "pvfleet/records/sites.hpp"
#include "pvfleet/records/users.hpp"
#include "pvfleet/storage/store.hpp"
#include "support/paths.hpp"
#include "support/postgres.hpp"

using namespace pvfleet;
using namespace pvfleet::records;
using namespace std::chrono_literals;

namespace {

TimePoint t0() {
    return from_epoch_ms(1782864000000);
}  // 2026-07-01T00:00:00Z

// Hashing at the production cost would make each case take seconds.
const bool kFastKdf = [] {
    ::setenv("PVFLEET_KDF_ITERATIONS", "1000", 1);
    return true;
}();

test::PostgresCluster& cluster() {
    static test::PostgresCluster c;
    return c;
}

struct Backend {
    std::string name;
    std::string sqlite_path;  // "" for PostgreSQL
    std::function<std::unique_ptr<storage::Db>()> open;
};

// Each call gives fresh databases: a new SQLite file, a new PostgreSQL database.
std::vector<Backend> backends(test::TempDir& dir) {
    static int counter = 0;
    std::vector<Backend> out;
    const auto path = (dir / ("r" + std::to_string(++counter) + ".db")).string();
    out.push_back({"sqlite", path, [path] {
                       storage::DbOptions o;
                       o.sqlite_path = path;
                       auto db = storage::open_db(o);
                       REQUIRE_MESSAGE(db.ok(), (db.ok() ? "" : db.error().message));
                       return std::move(*db);
                   }});
    if (!storage::postgres_available()) {
        MESSAGE("this build has no libpqxx: PostgreSQL cases skipped");
        return out;
    }
    if (!cluster().ok()) {
        MESSAGE("PostgreSQL cases skipped: " << cluster().why());
        return out;
    }
    const auto uri = cluster().create_database("records" + std::to_string(counter));
    out.push_back({"postgres", "", [uri] {
                       storage::DbOptions o;
                       o.engine = storage::Engine::postgres;
                       o.postgres_uri = uri;
                       auto db = storage::open_db(o);
                       REQUIRE_MESSAGE(db.ok(), (db.ok() ? "" : db.error().message));
                       return std::move(*db);
                   }});
    return out;
}

// A migrated database for one case.
struct Fixture {
    ManualClock clock{t0()};
    storage::Store store;
    explicit Fixture(const Backend& be) : store(be.open(), clock) {
        auto m = store.migrate();
        REQUIRE_MESSAGE(m.ok(), (m.ok() ? "" : m.error().message));
    }
    storage::Db& db() { return store.db(); }
};

FieldCipher test_cipher(unsigned char seed = 7) {
    std::array<unsigned char, 32> key{};
    for (std::size_t i = 0; i < key.size(); ++i) key[i] = static_cast<unsigned char>(seed + i * 13);
    return FieldCipher::from_key(key);
}

long long scalar(storage::Db& db, const std::string& sql, const storage::Params& p = {}) {
    auto r = db.run(sql, p);
    REQUIRE_MESSAGE(r.ok(), (r.ok() ? "" : r.error().message));
    return r->rows.empty() ? 0 : r->rows[0].integer(0);
}

std::string all_text(storage::Db& db, const std::string& sql) {
    auto r = db.run(sql);
    REQUIRE_MESSAGE(r.ok(), (r.ok() ? "" : r.error().message));
    std::string out;
    for (const auto& row : r->rows)
        for (std::size_t i = 0; i < row.cols.size(); ++i) out += row.text(i) + "\n";
    return out;
}

// The value of a result that must be ok (a copy: the result is often a temporary).
template <class T>
T ok(Result<T> r) {
    REQUIRE_MESSAGE(r.ok(), (r.ok() ? "" : r.error().message));
    return std::move(r).value();
}

void write_private(const std::string& path, const std::string& content) {
    std::ofstream(path, std::ios::binary) << content;
    std::filesystem::permissions(path,
                                 std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
}

Customer customer(std::string name, std::string phone = "", std::string email = "",
                  std::string address = "") {
    return Customer{0, std::move(name), std::move(phone), std::move(email), std::move(address), "", {}, {},
                    1};
}

Site site(const std::string& id, std::optional<std::int64_t> customer_id = {}) {
    Site s;
    s.site_id = id;
    s.customer_id = customer_id;
    s.name = "Roof";
    s.time_zone = "Europe/Berlin";
    s.arrays = {PvArray{"south", 9.8, 30, 180}};
    return s;
}

std::string error_of(const Status& s) {
    return s ? std::string() : s.error().message;
}
template <class T>
std::string error_of(const Result<T>& r) {
    return r ? std::string() : r.error().message;
}

std::filesystem::path golden(const std::string& name) {
    return test::source_dir() / "tests/integration/records/csv" / name;
}

void check_report(const ImportReport& report, const std::string& golden_name) {
    const auto actual = nlohmann::json::parse(import_report_json(report));
    const auto expected = nlohmann::json::parse(test::read_file(golden(golden_name)));
    CHECK_MESSAGE(actual == expected, "report:\n" << actual.dump(2) << "\nexpected:\n" << expected.dump(2));
}

}  // namespace

TEST_CASE("records: field cipher round trip, fresh nonces, tamper and wrong-key detection, key files") {
    const auto cipher = test_cipher();
    const std::string plain = "Jörg Müller, +49 171 2345678";
    const auto a = cipher.encrypt(plain);
    const auto b = cipher.encrypt(plain);
    CHECK(a != b);  // a fresh nonce each time
    CHECK(a.find("Müller") == std::string::npos);
    CHECK(ok(cipher.decrypt(a)) == plain);
    CHECK(cipher.encrypt("").empty());
    CHECK(ok(cipher.decrypt("")).empty());

    std::string tampered = a;
    tampered[20] = tampered[20] == 'A' ? 'B' : 'A';
    CHECK_FALSE(cipher.decrypt(tampered).ok());
    CHECK_FALSE(cipher.decrypt("not base64 at all!").ok());
    CHECK_FALSE(cipher.decrypt("AAAA").ok());  // too short to hold nonce and tag
    const auto other = test_cipher(99);
    const auto wrong = other.decrypt(a);
    REQUIRE_FALSE(wrong.ok());
    CHECK(wrong.error().message.find("authentication failed") != std::string::npos);

    test::TempDir dir;
    // Hex with newline and raw bytes give the same key.
    const auto hex_path = (dir / "hex.key").string();
    write_private(hex_path, std::string(64, 'a') + "\n");
    const auto raw_path = (dir / "raw.key").string();
    write_private(raw_path, std::string(32, '\xaa'));
    const auto from_hex = ok(FieldCipher::from_key_file(hex_path));
    const auto from_raw = ok(FieldCipher::from_key_file(raw_path));
    CHECK(ok(from_raw.decrypt(from_hex.encrypt("x"))) == "x");

    const auto bad_path = (dir / "bad.key").string();
    write_private(bad_path, "too short\n");
    const auto bad = FieldCipher::from_key_file(bad_path);
    REQUIRE_FALSE(bad.ok());
    CHECK(bad.error().message.find(bad_path) != std::string::npos);
    const auto missing = FieldCipher::from_key_file((dir / "missing.key").string());
    REQUIRE_FALSE(missing.ok());
    CHECK(missing.error().kind == ErrorKind::not_found);
    CHECK(missing.error().message.find("missing.key") != std::string::npos);

    // load_or_create: a new key, private to the owner, and the same key the next time.
    const auto new_path = (dir / "secret.key").string();
    const auto created = ok(FieldCipher::load_or_create(new_path));
    CHECK((std::filesystem::status(new_path).permissions() & std::filesystem::perms::all) ==
          (std::filesystem::perms::owner_read | std::filesystem::perms::owner_write));
    CHECK(test::read_file(new_path).size() == 65);
    const auto reloaded = ok(FieldCipher::load_or_create(new_path));
    CHECK(ok(reloaded.decrypt(created.encrypt("same key"))) == "same key");
}

TEST_CASE("records: the key check value is stored on first start; a wrong or missing key is refused") {
    test::TempDir dir;
    for (auto& be : backends(dir)) {
        CAPTURE(be.name);
        Fixture f(be);
        const auto key_path = (dir / (be.name + "-secret.key")).string();
        auto check_rows = [&] { return scalar(f.db(), "SELECT COUNT(*) FROM field_key_check"); };
        // First start: a new key, and its check value stored.
        REQUIRE(check_rows() == 0);
        const auto first = ok(open_field_cipher(f.db(), {key_path, true}, t0()));
        CHECK(std::filesystem::exists(key_path));
        CHECK(check_rows() == 1);
        CHECK(all_text(f.db(), "SELECT check_value FROM field_key_check") == first.check_value() + "\n");
        CHECK(first.check_value().size() == 64);
        CHECK(first.check_value() != test_cipher().check_value());
        // The same key again: accepted.
        const auto again = ok(open_field_cipher(f.db(), {key_path, true}, t0()));
        CHECK(ok(again.decrypt(first.encrypt("x"))) == "x");
        // Another key: refused, naming the key file.
        const auto wrong_path = (dir / (be.name + "-wrong.key")).string();
        write_private(wrong_path, std::string(64, 'b') + "\n");
        const auto wrong = open_field_cipher(f.db(), {wrong_path, false}, t0());
        REQUIRE_FALSE(wrong.ok());
        CHECK(wrong.error().message.find(wrong_path) != std::string::npos);
        CHECK(wrong.error().message.find("key check value") != std::string::npos);
        // The key file gone while the database holds a check value: refused, and no new key written.
        std::filesystem::remove(key_path);
        const auto missing = open_field_cipher(f.db(), {key_path, true}, t0());
        REQUIRE_FALSE(missing.ok());
        CHECK(missing.error().message.find(key_path) != std::string::npos);
        CHECK(missing.error().message.find("not found") != std::string::npos);
        CHECK_FALSE(std::filesystem::exists(key_path));
    }
}

TEST_CASE("records: a database with customers and no check value takes only the key its data decrypts with") {
    test::TempDir dir;
    for (auto& be : backends(dir)) {
        CAPTURE(be.name);
        Fixture f(be);
        // Customers written before the check value existed (an older server).
        const auto key = test_cipher(3);
        ok(create_customer(f.db(), key, customer("Jörg Müller"), "test", t0()));
        ok(create_customer(f.db(), key, customer("Ana Li"), "test", t0()));
        REQUIRE(f.db().run("DELETE FROM field_key_check").ok());
        const auto right_path = (dir / (be.name + "-right.key")).string();
        const auto wrong_path = (dir / (be.name + "-wrong.key")).string();
        std::string right_hex;
        for (std::size_t i = 0; i < 32; ++i) {
            char two[16];
            std::snprintf(two, sizeof two, "%02x", static_cast<unsigned>((3 + i * 13) & 0xff));
            right_hex += two;
        }
        write_private(right_path, right_hex + "\n");
        write_private(wrong_path, std::string(64, 'c'));
        // A missing key file: refused, none created.
        const auto absent_path = (dir / (be.name + "-absent.key")).string();
        const auto absent = open_field_cipher(f.db(), {absent_path, true}, t0());
        REQUIRE_FALSE(absent.ok());
        CHECK(absent.error().message.find(absent_path) != std::string::npos);
        CHECK_FALSE(std::filesystem::exists(absent_path));
        // The wrong key: refused, and no check value stored for it.
        const auto wrong = open_field_cipher(f.db(), {wrong_path, false}, t0());
        REQUIRE_FALSE(wrong.ok());
        CHECK(wrong.error().message.find(wrong_path) != std::string::npos);
        CHECK(wrong.error().message.find("does not decrypt") != std::string::npos);
        CHECK(scalar(f.db(), "SELECT COUNT(*) FROM field_key_check") == 0);
        // The right key: accepted, its check value stored from now on.
        const auto right = ok(open_field_cipher(f.db(), {right_path, false}, t0()));
        CHECK(right.check_value() == key.check_value());
        CHECK(all_text(f.db(), "SELECT check_value FROM field_key_check") == key.check_value() + "\n");
        CHECK_FALSE(open_field_cipher(f.db(), {wrong_path, false}, t0()).ok());
    }
}

TEST_CASE("records: password hashes") {
    CHECK(kFastKdf);
    CHECK(kdf_iterations() == 1000);
    const auto h = hash_password("correct horse battery");
    CHECK(h.rfind("pbkdf2-sha256$1000$", 0) == 0);
    CHECK(h != hash_password("correct horse battery"));  // salted
    CHECK(verify_password("correct horse battery", h));
    CHECK_FALSE(verify_password("correct horse batterY", h));
    CHECK_FALSE(verify_password("", h));
    CHECK_FALSE(verify_password("correct horse battery", "plain text"));
    CHECK_FALSE(verify_password("correct horse battery", "pbkdf2-sha256$1$AAAA$AAAA"));
    CHECK_FALSE(verify_password("x", "pbkdf2-sha256$999999999$AAAA$AAAA"));  // absurd cost refused
    ::setenv("PVFLEET_KDF_ITERATIONS", "5", 1);                              // never below the minimum
    CHECK(kdf_iterations() == 1000);
    ::setenv("PVFLEET_KDF_ITERATIONS", "1000", 1);
}

TEST_CASE("records: customers are encrypted at rest and in the audit log; versions guard updates; search") {
    test::TempDir dir;
    for (auto& be : backends(dir)) {
        CAPTURE(be.name);
        Fixture f(be);
        const auto cipher = test_cipher();

        // Validation names the field.
        CHECK(error_of(create_customer(f.db(), cipher, customer("  "), "anna", t0())) == "name: required");
        CHECK(error_of(create_customer(f.db(), cipher, customer("X", "", "not-mail"), "anna", t0())) ==
              "email: not an e-mail address");
        CHECK(error_of(create_customer(f.db(), cipher, customer("X", "call me"), "anna", t0()))
                  .rfind("phone: ", 0) == 0);

        const auto schmidt = ok(create_customer(f.db(), cipher,
                                                customer(" Gerlinde Schmidtbauer ", "+49 171 2345678",
                                                         "gerlinde@example.org", "Hauptstr. 1, 10115 Berlin"),
                                                "anna", t0()));
        CHECK(schmidt.id > 0);
        CHECK(schmidt.name == "Gerlinde Schmidtbauer");  // trimmed
        CHECK(schmidt.version == 1);
        const auto mueller = ok(create_customer(
            f.db(), cipher, customer("JÖRG MÜLLER", "089 / 123 456", "joerg@example.de"), "anna", t0() + 1s));
        const auto third = ok(create_customer(f.db(), cipher, customer("Kerstin Bauer"), "anna", t0() + 2s));

        // Nothing personal in plain text: not in the table, not in the audit log, not in the SQLite files.
        const auto stored =
            all_text(f.db(), "SELECT name_enc, phone_enc, email_enc, address_enc FROM customers") +
            all_text(f.db(), "SELECT before_json, after_json FROM audit_log");
        for (const char* secret : {"Schmidtbauer", "2345678", "gerlinde@", "Hauptstr", "MÜLLER"})
            CHECK_MESSAGE(stored.find(secret) == std::string::npos, secret);
        if (!be.sqlite_path.empty()) {
            std::string files;
            for (const char* suffix : {"", "-wal"})
                if (std::filesystem::exists(be.sqlite_path + suffix))
                    files += test::read_file(be.sqlite_path + suffix);
            CHECK(!files.empty());
            CHECK(files.find("Schmidtbauer") == std::string::npos);
            CHECK(files.find("2345678") == std::string::npos);
        }
        // The audit log holds the ciphertext, which the key holder can still read.
        const auto audit = nlohmann::json::parse(
            all_text(f.db(), "SELECT after_json FROM audit_log WHERE entity = 'customer' AND entity_id = '" +
                                 std::to_string(schmidt.id) + "'"));
        CHECK(ok(cipher.decrypt(audit["name_enc"].get<std::string>())) == "Gerlinde Schmidtbauer");

        // Reading with the wrong key fails loudly instead of returning garbage.
        CHECK_FALSE(get_customer(f.db(), test_cipher(99), schmidt.id).ok());

        const auto got = ok(get_customer(f.db(), cipher, schmidt.id));
        REQUIRE(got.has_value());
        CHECK(got->phone == "+49 171 2345678");
        CHECK(got->created_at == t0());
        CHECK_FALSE(ok(get_customer(f.db(), cipher, 9999)).has_value());

        // Update with the version read (ETag / If-Match); a stale version is a conflict.
        Customer changed = *got;
        changed.email = "g.schmidtbauer@example.org";
        const auto v2 = ok(update_customer(f.db(), cipher, changed, 1, "ben", t0() + 1h));
        CHECK(v2.version == 2);
        CHECK(v2.updated_at == t0() + 1h);
        CHECK(v2.created_at == t0());
        changed.phone = "030 1234";
        const auto stale = update_customer(f.db(), cipher, changed, 1, "carl", t0() + 2h);
        REQUIRE_FALSE(stale.ok());
        CHECK(stale.error().kind == ErrorKind::conflict);
        CHECK(ok(get_customer(f.db(), cipher, schmidt.id))->email == "g.schmidtbauer@example.org");
        Customer ghost = changed;
        ghost.id = 9999;
        CHECK(update_customer(f.db(), cipher, ghost, 1, "carl", t0()).error().kind == ErrorKind::not_found);
        CHECK(scalar(f.db(),
                     "SELECT COUNT(*) FROM audit_log WHERE entity = 'customer' AND action = 'update'") == 1);
        const auto update_audit = nlohmann::json::parse(all_text(
            f.db(), "SELECT after_json FROM audit_log WHERE entity = 'customer' AND action = 'update'"));
        CHECK(update_audit["changed"] == nlohmann::json{"email"});

        // Search: case-insensitive (also beyond ASCII), phone numbers by their digits, keyset paging.
        auto search = [&](const std::string& text, std::int64_t after = 0, int limit = 50) {
            std::vector<std::int64_t> ids;
            for (const auto& c : ok(list_customers(f.db(), cipher, CustomerQuery{text, after, limit, {}})))
                ids.push_back(c.id);
            return ids;
        };
        CHECK(search("") == std::vector<std::int64_t>{schmidt.id, mueller.id, third.id});
        CHECK(search("schmidt") == std::vector<std::int64_t>{schmidt.id});
        CHECK(search("müller") == std::vector<std::int64_t>{mueller.id});
        CHECK(search("EXAMPLE.") == std::vector<std::int64_t>{schmidt.id, mueller.id});
        CHECK(search("(089) 123") == std::vector<std::int64_t>{mueller.id});
        CHECK(search("2345678") == std::vector<std::int64_t>{schmidt.id});
        CHECK(search("hauptstr") == std::vector<std::int64_t>{schmidt.id});
        CHECK(search("nobody").empty());
        CHECK(search("", 0, 2) == std::vector<std::int64_t>{schmidt.id, mueller.id});
        CHECK(search("", mueller.id, 2) == std::vector<std::int64_t>{third.id});
        CHECK_FALSE(list_customers(f.db(), cipher, CustomerQuery{"", 0, 0, {}}).ok());
        // Within a scope (a rep's or a project manager's customers): only those ids, paged and searched alike; an
        // id of no customer is skipped.
        auto scoped = [&](std::vector<std::int64_t> only, const std::string& text, std::int64_t after, int limit) {
            std::vector<std::int64_t> ids;
            for (const auto& c : ok(list_customers(f.db(), cipher, CustomerQuery{text, after, limit, only})))
                ids.push_back(c.id);
            return ids;
        };
        const std::vector<std::int64_t> scope{schmidt.id, third.id, 9999};
        CHECK(scoped(scope, "", 0, 50) == std::vector<std::int64_t>{schmidt.id, third.id});
        CHECK(scoped(scope, "", 0, 1) == std::vector<std::int64_t>{schmidt.id});
        CHECK(scoped(scope, "", schmidt.id, 1) == std::vector<std::int64_t>{third.id});
        CHECK(scoped(scope, "", third.id, 1).empty());
        CHECK(scoped(scope, "müller", 0, 50).empty());
        CHECK(scoped(scope, "schmidt", 0, 50) == std::vector<std::int64_t>{schmidt.id});
        CHECK(scoped({}, "", 0, 50).empty());
    }
}

TEST_CASE("records: sites validate every field by name; versions; roles") {
    test::TempDir dir;
    for (auto& be : backends(dir)) {
        CAPTURE(be.name);
        Fixture f(be);
        const auto cipher = test_cipher();
        const auto owner = ok(create_customer(f.db(), cipher, customer("Anna Schmidt"), "anna", t0()));

        auto fails_on = [&](Site s, const std::string& field) {
            const auto r = upsert_site(f.db(), std::move(s), std::nullopt, "anna", t0());
            REQUIRE_FALSE(r.ok());
            CHECK(r.error().kind == ErrorKind::invalid);
            CHECK_MESSAGE(r.error().message.rfind(field + ": ", 0) == 0, r.error().message);
        };
        Site s = site("berlin-001", owner.id);
        s.time_zone = "Europe/Atlantis";
        fails_on(s, "time_zone");
        s = site("berlin-001", owner.id);
        s.latitude = 91;
        s.longitude = 13;
        fails_on(s, "latitude");
        s.latitude = 52.5;
        s.longitude = -181;
        fails_on(s, "longitude");
        s = site("berlin-001", owner.id);
        s.latitude = 52.5;
        fails_on(s, "longitude");  // both or neither
        s = site("berlin-001", owner.id);
        s.arrays.push_back(PvArray{"east", 0, 10, 90});
        fails_on(s, "arrays/1/kwp");
        s = site("berlin-001", owner.id);
        s.arrays[0].tilt_deg = 91;
        fails_on(s, "arrays/0/tilt_deg");
        s = site("berlin-001", owner.id);
        s.arrays[0].azimuth_deg = 361;
        fails_on(s, "arrays/0/azimuth_deg");
        s = site("berlin-001", owner.id);
        s.installed_on = "2024-02-30";
        fails_on(s, "installed_on");
        s.installed_on = "17.05.2024";
        fails_on(s, "installed_on");
        fails_on(site("Berlin_001", owner.id), "site_id");
        fails_on(site("berlin-001", 4242), "customer_id");
        CHECK(scalar(f.db(), "SELECT COUNT(*) FROM sites") == 0);

        s = site("berlin-001", owner.id);
        s.latitude = 52.5321;
        s.longitude = 13.3849;
        s.address = "Hauptstr. 1, 10115 Berlin";
        s.installed_on = "2024-05-17";
        s.arrays.push_back(PvArray{"east", 3.2, 15, 90});
        const auto created = ok(upsert_site(f.db(), s, std::nullopt, "anna", t0()));
        CHECK(created.version == 1);
        const auto read = ok(get_site(f.db(), "berlin-001"));
        REQUIRE(read.has_value());
        CHECK(read->customer_id == owner.id);
        REQUIRE(read->arrays.size() == 2);
        CHECK(read->arrays[1].kwp == doctest::Approx(3.2));
        CHECK(read->arrays[1].azimuth_deg == doctest::Approx(90));
        CHECK(*read->latitude == doctest::Approx(52.5321));
        CHECK(read->time_zone == "Europe/Berlin");
        CHECK(read->installed_on == "2024-05-17");
        // The household's address is masked in the audit log and its position coarsened.
        const auto audit = all_text(f.db(), "SELECT after_json FROM audit_log WHERE entity = 'site'");
        CHECK(audit.find("Hauptstr") == std::string::npos);
        CHECK(audit.find("52.5321") == std::string::npos);

        Site update = *read;
        update.name = "House roof";
        CHECK(ok(upsert_site(f.db(), update, 1, "ben", t0() + 1h)).version == 2);
        const auto stale = upsert_site(f.db(), update, 1, "carl", t0() + 2h);
        REQUIRE_FALSE(stale.ok());
        CHECK(stale.error().kind == ErrorKind::conflict);
        CHECK(upsert_site(f.db(), site("nowhere"), 1, "carl", t0()).error().kind == ErrorKind::not_found);

        ok(upsert_site(f.db(), site("unassigned-1"), std::nullopt, "anna", t0()));
        auto ids = [](const std::vector<Site>& sites) {
            std::vector<std::string> out;
            for (const auto& x : sites) out.push_back(x.site_id);
            return out;
        };
        CHECK(ids(ok(list_sites(f.db(), owner.id, false, "", 50))) == std::vector<std::string>{"berlin-001"});
        CHECK(ids(ok(list_sites(f.db(), std::nullopt, true, "", 50))) ==
              std::vector<std::string>{"unassigned-1"});
        CHECK(ids(ok(list_sites(f.db(), std::nullopt, false, "berlin-001", 50))) ==
              std::vector<std::string>{"unassigned-1"});
        CHECK(ids(ok(list_sites(f.db(), std::nullopt, false, "", 1))) ==
              std::vector<std::string>{"berlin-001"});
        CHECK_FALSE(list_sites(f.db(), owner.id, true, "", 50).ok());

        // Roles: replaced as a whole; unknown roles and duplicates refused.
        CHECK(ok(site_roles(f.db(), "berlin-001")).empty());
        REQUIRE(
            set_site_roles(
                f.db(), "berlin-001",
                {{"owner", "Anna Schmidt"}, {"installer", "Sonnenbau GmbH"}, {"om_contractor", "PV Care"}},
                "anna", t0())
                .ok());
        const auto roles = ok(site_roles(f.db(), "berlin-001"));
        REQUIRE(roles.size() == 3);
        CHECK(roles[0].role == "installer");
        CHECK(roles[1].party == "PV Care");
        CHECK(roles[2].role == "owner");
        CHECK(error_of(set_site_roles(f.db(), "berlin-001", {{"landlord", "X"}}, "anna", t0()))
                  .rfind("roles/0/role: ", 0) == 0);
        CHECK(error_of(set_site_roles(f.db(), "berlin-001", {{"owner", "A"}, {"owner", "A"}}, "anna", t0()))
                  .rfind("roles/1: ", 0) == 0);
        CHECK(set_site_roles(f.db(), "nowhere", {}, "anna", t0()).error().kind == ErrorKind::not_found);
        REQUIRE(set_site_roles(f.db(), "berlin-001", {{"installer", "Sonnenbau GmbH"}}, "anna", t0()).ok());
        CHECK(ok(site_roles(f.db(), "berlin-001")).size() == 1);
        CHECK(all_text(f.db(), "SELECT before_json, after_json FROM audit_log WHERE action = 'set roles'")
                  .find("Anna Schmidt") == std::string::npos);
    }
}

TEST_CASE("records: a device serial swap writes history with its work order") {
    test::TempDir dir;
    for (auto& be : backends(dir)) {
        CAPTURE(be.name);
        Fixture f(be);
        // The gateway reports first: ingest creates the site (unassigned) and the device.
        REQUIRE(f.db()
                    .run("INSERT INTO sites (site_id, first_seen_ms, created_at_ms, updated_at_ms) VALUES "
                         "('gw-1', 1, 1, 1)")
                    .ok());
        REQUIRE(
            f.db()
                .run("INSERT INTO devices (site_id, device_id, first_seen_ms, last_seen_ms) VALUES ('gw-1', "
                     "'inv1', 5, 9)")
                .ok());
        const auto wo =
            scalar(f.db(),
                   "INSERT INTO work_orders (site_id, device_id, kind, severity, priority, state, "
                   "is_open, created_at_ms, updated_at_ms, due_at_ms, body) VALUES ('gw-1', 'inv1', "
                   "'inverter_fault', 'major', 'high', 'open', 1, 1, 1, 1, '{}') RETURNING id");

        auto devices = ok(list_devices(f.db(), "gw-1"));
        REQUIRE(devices.size() == 1);
        Device d = devices[0];
        CHECK(d.first_seen == from_epoch_ms(5));
        CHECK_FALSE(d.wired_inputs.has_value());  // the gateway's config has not said
        // Ingest keeps the wiring the gateway's status reports; the record shows it and an edit keeps it.
        REQUIRE(f.db().run("UPDATE devices SET wired_inputs = '[1,2]' WHERE device_id = 'inv1'").ok());
        d = ok(list_devices(f.db(), "gw-1"))[0];
        CHECK(d.wired_inputs == std::vector<int>{1, 2});
        d.vendor = "SMA";
        d.model = "STP 10.0";
        d.serial = "SN-1000";
        d.unit_id = 3;
        d = ok(update_device(f.db(), d, 1, "tom", t0()));
        CHECK(d.version == 2);
        CHECK(d.last_seen == from_epoch_ms(9));  // kept: ingest owns it
        d.serial = "SN-2000";
        d = ok(update_device(f.db(), d, 2, "tom", t0() + 1h, wo));
        CHECK(d.version == 3);
        const auto history = ok(device_history(f.db(), "gw-1", "inv1"));
        REQUIRE(history.size() == 2);
        CHECK(history[0].old_serial == "");
        CHECK(history[0].new_serial == "SN-1000");
        CHECK_FALSE(history[0].work_order_id.has_value());
        CHECK(history[1].old_serial == "SN-1000");
        CHECK(history[1].new_serial == "SN-2000");
        CHECK(history[1].work_order_id == wo);
        CHECK(history[1].at == t0() + 1h);
        CHECK(
            scalar(f.db(),
                   "SELECT COUNT(*) FROM audit_log WHERE entity = 'device' AND action = 'replace serial'") ==
            2);

        // Same values again: nothing written. Stale version: conflict. Unknown work order: named.
        CHECK(ok(update_device(f.db(), d, 3, "tom", t0())).version == 3);
        d.firmware = "4.1";
        CHECK(update_device(f.db(), d, 2, "tom", t0()).error().kind == ErrorKind::conflict);
        CHECK(error_of(update_device(f.db(), d, 3, "tom", t0(), 4242)).rfind("work_order_id: ", 0) == 0);
        d.unit_id = 300;
        CHECK(error_of(update_device(f.db(), d, 3, "tom", t0())).rfind("unit_id: ", 0) == 0);
        CHECK(list_devices(f.db(), "nowhere").error().kind == ErrorKind::not_found);
        CHECK(ok(device_history(f.db(), "gw-1", "inv1")).size() == 2);
    }
}

TEST_CASE("records: users, passwords, sessions and their expiry") {
    test::TempDir dir;
    for (auto& be : backends(dir)) {
        CAPTURE(be.name);
        Fixture f(be);
        CHECK(error_of(create_user(f.db(), "A", "", Role::admin, "long enough pw", "setup", t0()))
                  .rfind("name: ", 0) == 0);
        CHECK(error_of(create_user(f.db(), "anna", "", Role::admin, "short", "setup", t0()))
                  .rfind("password: ", 0) == 0);
        const auto anna = ok(
            create_user(f.db(), "anna", "Anna Admin", Role::admin, "correct horse battery", "setup", t0()));
        CHECK(anna.role == Role::admin);
        CHECK(
            create_user(f.db(), "anna", "", Role::manager, "another password", "setup", t0()).error().kind ==
            ErrorKind::conflict);
        ok(create_user(f.db(), "tom.t", "Tom", Role::technician, "wrench wrench wrench", "anna", t0()));
        const auto users = ok(list_users(f.db()));
        REQUIRE(users.size() == 2);
        CHECK(users[1].name == "tom.t");
        CHECK(users[1].role == Role::technician);
        CHECK(parse_role("back_office") == Role::back_office);
        CHECK_FALSE(parse_role("root").has_value());
        CHECK(all_text(f.db(), "SELECT password_hash FROM users").find("correct horse") == std::string::npos);
        CHECK(all_text(f.db(), "SELECT after_json FROM audit_log WHERE entity = 'user'").find("Anna Admin") ==
              std::string::npos);

        CHECK(ok(authenticate(f.db(), "anna", "correct horse battery")).has_value());
        CHECK_FALSE(ok(authenticate(f.db(), "anna", "wrong horse battery")).has_value());
        CHECK_FALSE(ok(authenticate(f.db(), "nobody", "correct horse battery")).has_value());

        const auto session = ok(create_session(f.db(), anna, t0(), 12h));
        CHECK(session.token.size() == 64);
        CHECK(session.expires_at == t0() + 12h);
        CHECK(session.role == Role::admin);
        CHECK(all_text(f.db(), "SELECT token_hash FROM sessions").find(session.token) == std::string::npos);
        CHECK(ok(user_for_token(f.db(), session.token, t0() + 1h))->name == "anna");
        CHECK_FALSE(ok(user_for_token(f.db(), session.token, t0() + 12h)).has_value());  // expired
        CHECK_FALSE(ok(user_for_token(f.db(), std::string(64, '0'), t0())).has_value());
        CHECK_FALSE(ok(user_for_token(f.db(), "garbage", t0())).has_value());

        const auto second = ok(create_session(f.db(), anna, t0() + 1h, 12h));
        REQUIRE(delete_session(f.db(), second.token).ok());
        CHECK_FALSE(ok(user_for_token(f.db(), second.token, t0() + 2h)).has_value());
        CHECK(delete_session(f.db(), second.token).ok());  // twice is fine

        // Disabled users cannot log in, and their sessions stop working.
        const auto third = ok(create_session(f.db(), anna, t0() + 2h, 12h));
        REQUIRE(f.db().run("UPDATE users SET disabled = 1 WHERE name = 'anna'").ok());
        CHECK_FALSE(ok(authenticate(f.db(), "anna", "correct horse battery")).has_value());
        CHECK_FALSE(ok(user_for_token(f.db(), third.token, t0() + 3h)).has_value());
        CHECK(create_session(f.db(), anna, t0() + 3h).error().kind == ErrorKind::rejected);
    }
}

TEST_CASE("records: failed logins of existing users are kept per account; a window locks, then ends") {
    test::TempDir dir;
    for (auto& be : backends(dir)) {
        CAPTURE(be.name);
        Fixture f(be);
        ok(create_user(f.db(), "anna", "", Role::admin, "correct horse battery", "setup", t0()));
        const LockoutPolicy policy{3, std::chrono::seconds(300)};
        CHECK_FALSE(ok(account_lockout(f.db(), "anna", t0(), policy)));
        for (int i = 0; i < 3; ++i) {
            CHECK_FALSE(ok(account_lockout(f.db(), "anna", t0() + std::chrono::seconds(i), policy)));
            REQUIRE(record_login_failure(f.db(), "anna", t0() + std::chrono::seconds(i), policy).ok());
        }
        const auto wait = ok(account_lockout(f.db(), "anna", t0() + std::chrono::seconds(10), policy));
        REQUIRE(wait);
        CHECK(*wait == std::chrono::seconds(290));  // the window began at the first failure
        CHECK_FALSE(ok(account_lockout(f.db(), "anna", t0() + std::chrono::seconds(300), policy)));
        // A failure after the window starts a new one.
        REQUIRE(record_login_failure(f.db(), "anna", t0() + std::chrono::seconds(400), policy).ok());
        CHECK_FALSE(ok(account_lockout(f.db(), "anna", t0() + std::chrono::seconds(401), policy)));
        // Unknown names leave no row; clearing forgets the account.
        REQUIRE(record_login_failure(f.db(), "nobody", t0(), policy).ok());
        CHECK(scalar(f.db(), "SELECT COUNT(*) FROM login_failures") == 1);
        REQUIRE(clear_login_failures(f.db(), "anna").ok());
        REQUIRE(clear_login_failures(f.db(), "anna").ok());
        CHECK(scalar(f.db(), "SELECT COUNT(*) FROM login_failures") == 0);
    }
}

TEST_CASE("records: CSV import of a multi-site customer, linking a site the gateway already reports") {
    test::TempDir dir;
    for (auto& be : backends(dir)) {
        CAPTURE(be.name);
        Fixture f(be);
        const auto cipher = test_cipher();
        // gw-7f3a reports already: ingest created it without a customer.
        REQUIRE(f.db()
                    .run("INSERT INTO sites (site_id, first_seen_ms, created_at_ms, updated_at_ms) VALUES "
                         "('gw-7f3a', 1, 1, 1)")
                    .ok());
        const auto report =
            ok(import_customers_csv(f.db(), cipher, test::read_file(golden("good.csv")), "anna", t0()));
        check_report(report, "good.expected.json");

        const auto customers = ok(list_customers(f.db(), cipher, CustomerQuery{"", 0, 50, {}}));
        REQUIRE(customers.size() == 3);
        CHECK(customers[0].name == "Anna Schmidt");
        CHECK(customers[0].phone == "+49 171 2345678");
        CHECK(customers[0].address == "Hauptstr. 1, 10115 Berlin");  // quoted, with a comma
        CHECK(customers[1].name == "Jörg Müller");
        CHECK(customers[1].address == "Lindenweg 4\n80331 München");  // quoted, with a line break
        CHECK(customers[1].notes == "Dog in the yard, ring twice; gate code \"4711\"");
        CHECK(customers[2].name == "Kerstin Bauer");

        const auto anna_sites = ok(list_sites(f.db(), customers[0].id, false, "", 50));
        REQUIRE(anna_sites.size() == 2);
        CHECK(anna_sites[1].site_id == "berlin-002");
        CHECK(anna_sites[1].arrays.at(0).azimuth_deg == doctest::Approx(90));
        CHECK(anna_sites[0].installed_on == "2024-05-17");
        const auto linked = ok(get_site(f.db(), "gw-7f3a"));
        REQUIRE(linked.has_value());
        CHECK(linked->customer_id == customers[1].id);
        CHECK(linked->time_zone == "Europe/Berlin");
        CHECK(linked->first_seen == from_epoch_ms(1));  // what ingest knew is kept
        CHECK(linked->version == 2);
        CHECK(ok(list_sites(f.db(), std::nullopt, true, "", 50)).empty());
        CHECK(scalar(f.db(), "SELECT COUNT(*) FROM audit_log WHERE actor = 'anna'") == 6);

        // Importing the same file again changes nothing: the customers and sites are on record.
        const auto again =
            ok(import_customers_csv(f.db(), cipher, test::read_file(golden("good.csv")), "anna", t0()));
        CHECK(again.committed);
        CHECK(again.customers_created == 0);
        CHECK(again.sites_created == 0);
        CHECK(again.sites_linked == 0);
        CHECK(scalar(f.db(), "SELECT COUNT(*) FROM customers") == 3);
    }
}

TEST_CASE("records: a CSV with errors writes nothing and reports every error with line and column") {
    test::TempDir dir;
    for (auto& be : backends(dir)) {
        CAPTURE(be.name);
        Fixture f(be);
        const auto cipher = test_cipher();
        const auto owner = ok(create_customer(f.db(), cipher, customer("Olga Owner"), "anna", t0()));
        ok(upsert_site(f.db(), site("taken-1", owner.id), std::nullopt, "anna", t0()));
        const auto audit_before = scalar(f.db(), "SELECT COUNT(*) FROM audit_log");

        const auto report =
            ok(import_customers_csv(f.db(), cipher, test::read_file(golden("bad.csv")), "anna", t0()));
        check_report(report, "bad.expected.json");
        CHECK_FALSE(report.committed);
        CHECK(scalar(f.db(), "SELECT COUNT(*) FROM customers") == 1);
        CHECK(scalar(f.db(), "SELECT COUNT(*) FROM sites") == 1);
        CHECK(scalar(f.db(), "SELECT COUNT(*) FROM audit_log") == audit_before);

        // No header, and an unclosed quote.
        const auto empty = ok(import_customers_csv(f.db(), cipher, "", "anna", t0()));
        REQUIRE(empty.errors.size() == 1);
        CHECK(empty.errors[0].line == 1);
        const auto unclosed = ok(import_customers_csv(
            f.db(), cipher, "customer_name,notes\nA,ok\nB,\"never closed\nC,x\n", "anna", t0()));
        CHECK_FALSE(unclosed.committed);
        REQUIRE(unclosed.errors.size() == 1);
        CHECK(unclosed.errors[0].line == 3);
        const auto no_name = ok(import_customers_csv(f.db(), cipher, "email\nx@example.com\n", "anna", t0()));
        REQUIRE(no_name.errors.size() == 1);
        CHECK(no_name.errors[0].column == "customer_name");
        CHECK(scalar(f.db(), "SELECT COUNT(*) FROM customers") == 1);
    }
}

TEST_CASE("records: CSV quoting: BOM, CRLF, commas, quotes and line breaks inside fields") {
    test::TempDir dir;
    for (auto& be : backends(dir)) {
        CAPTURE(be.name);
        Fixture f(be);
        const auto cipher = test_cipher();
        const std::string csv =
            "\xEF\xBB\xBF"
            "Customer_Name,notes,address,site_id,site_address\r\n"
            "\"Bauer, Kerstin\",\"line one\r\nline two, with \"\"quotes\"\"\",\"Am Hang 3\r\n01067 "
            "Dresden\",dd-1,"
            "\"Am Hang 3, Dresden\"\r\n"
            "\r\n"
            "Plain Name,,,,\r\n"
            "\"Last, Row\",\"\",x,,";  // no line break at the end
        const auto report = ok(import_customers_csv(f.db(), cipher, csv, "anna", t0()));
        CHECK_MESSAGE(report.committed, import_report_json(report));
        CHECK(report.rows == 3);
        CHECK(report.customers_created == 3);
        CHECK(report.sites_created == 1);
        const auto customers = ok(list_customers(f.db(), cipher, CustomerQuery{"", 0, 50, {}}));
        REQUIRE(customers.size() == 3);
        CHECK(customers[0].name == "Bauer, Kerstin");
        CHECK(customers[0].notes == "line one\nline two, with \"quotes\"");
        CHECK(customers[0].address == "Am Hang 3\n01067 Dresden");
        CHECK(customers[1].name == "Plain Name");
        CHECK(customers[2].name == "Last, Row");
        CHECK(customers[2].address == "x");
        CHECK(ok(get_site(f.db(), "dd-1"))->address == "Am Hang 3, Dresden");

        // Errors after a multi-line record carry the line where their record starts.
        const auto lines = ok(import_customers_csv(
            f.db(), cipher, "customer_name,notes,email\r\nA,\"1\r\n2\r\n3\",\r\nB,,bad\r\n", "anna", t0()));
        REQUIRE(lines.errors.size() == 1);
        CHECK(lines.errors[0].line == 5);
        CHECK(lines.errors[0].column == "email");
    }
}
