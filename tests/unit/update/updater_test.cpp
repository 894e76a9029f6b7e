#include <doctest/doctest.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <fstream>
#include <set>

#include "pvfleet/update/update.hpp"
#include "support/paths.hpp"

using namespace pvfleet;
using namespace pvfleet::update;
using namespace std::chrono_literals;

namespace {

struct Signer {
    std::string private_pem;
    release::PublicKey key;
};

Signer make_signer() {
    EVP_PKEY* k = EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519");
    BIO* priv = BIO_new(BIO_s_mem());
    BIO* pub = BIO_new(BIO_s_mem());
    PEM_write_bio_PrivateKey(priv, k, nullptr, nullptr, 0, nullptr, nullptr);
    PEM_write_bio_PUBKEY(pub, k);
    auto text = [](BIO* b) {
        char* d = nullptr;
        const long n = BIO_get_mem_data(b, &d);
        return std::string(d, static_cast<std::size_t>(n));
    };
    Signer s{text(priv), *release::load_public_key(text(pub), "release.pem")};
    BIO_free(priv);
    BIO_free(pub);
    EVP_PKEY_free(k);
    return s;
}

// A gateway in memory: the installed version, what each install does to the agent's health, and a clock that
// moves with every sleep. `cut_at` simulates a power cut: the call throws once it is reached.
struct PowerCut {};
class FakeSystem final : public System {
public:
    explicit FakeSystem(Layout l) : l_(std::move(l)) {}
    std::string version = "0.1.0";
    std::set<std::string> healthy_versions{"0.1.0", "0.2.0"};
    bool keep_fails = false;
    bool install_fails = false;
    int calls = 0;
    int cut_at = -1;  // the call number that loses power
    std::vector<std::string> log;
    TimePoint clock = from_epoch_ms(1'700'000'000'000);

    void step(const std::string& what) {
        log.push_back(what);
        if (calls++ == cut_at) throw PowerCut{};
    }
    std::string installed_version() override { return version; }
    Status keep_current(const std::string& v, const fs::path& dest) override {
        step("keep " + v);
        if (keep_fails) return Error{"dpkg-repack is not installed"};
        std::ofstream(dest) << "package " << v;
        return {};
    }
    Status install(const fs::path& deb) override {
        step("install " + deb.filename().string());
        if (install_fails && deb.filename() == "install.deb") return Error{"dpkg -i: broken package"};
        const std::string content = test::read_file(deb);
        if (content.empty()) return Error{"dpkg -i: dpkg-deb: error: unexpected end of file in archive"};
        version = content.rfind("package ", 0) == 0 ? content.substr(8) : target;
        agent_started();
        return {};
    }
    // The agent the install started writes its health once it runs (if that version is a healthy one).
    void agent_started() {
        clock += 5s;
        if (healthy_versions.count(version) != 0)
            REQUIRE(
                write_json_atomically(l_.health(), health_json(Health{version, clock, true, true, true})));
    }
    TimePoint now() override { return clock; }
    void sleep(std::chrono::milliseconds d) override {
        clock += d;
        if (cut_in_sleep) {
            cut_in_sleep = false;
            throw PowerCut{};
        }
    }
    bool cut_in_sleep = false;  // a power cut while waiting for the agent's health
    std::string log_excerpt() override { return "agent: store: cannot open edge.db"; }
    std::string target = "0.2.0";

private:
    Layout l_;
};

struct Gateway {
    test::TempDir dir;
    Layout layout{dir.path(), dir.path() / "private"};
    Signer signer = make_signer();
    UpdaterOptions options;
    Request request;

    explicit Gateway(const std::string& content = "the 0.2.0 package") {
        options.keys = {signer.key};
        options.health_deadline = 60s;
        fs::create_directories(layout.dir());
        std::ofstream(layout.package(), std::ios::binary) << content;
        const auto digest = *release::sha256_file(layout.package());
        request = {"update-1-abc",
                   "0.2.0",
                   "https://pv.example.com/x",
                   release::to_hex(digest),
                   content.size(),
                   release::base64_encode(*release::sign_digest(digest, signer.private_pem))};
        REQUIRE(write_json_atomically(layout.request(), request_json(request)));
    }
    Outcome run(FakeSystem& sys) {
        auto r = run_updater(layout, sys, options);
        REQUIRE(r);
        REQUIRE(r->has_value());
        return **r;
    }
};

}  // namespace

TEST_CASE("updater: healthy update keeps the new package as the installed one") {
    Gateway g;
    FakeSystem sys(g.layout);
    const auto o = g.run(sys);
    CHECK(o.status == "healthy");
    CHECK(o.command_id == "update-1-abc");
    CHECK(o.detail == "healthy 0.2.0 (was 0.1.0)");
    CHECK(sys.version == "0.2.0");
    CHECK(sys.log == std::vector<std::string>{"keep 0.1.0", "install install.deb"});
    CHECK(fs::exists(g.layout.installed()));
    CHECK_FALSE(fs::exists(g.layout.request()));
    CHECK_FALSE(fs::exists(g.layout.kept()));
    CHECK(parse_outcome(*read_text(g.layout.result()))->status == "healthy");
    // Nothing more to do: a second start finds no request.
    auto again = run_updater(g.layout, sys, g.options);
    REQUIRE(again);
    CHECK_FALSE(again->has_value());
}

TEST_CASE("updater: a new agent that never reports healthy is rolled back, with the log") {
    Gateway g;
    FakeSystem sys(g.layout);
    sys.healthy_versions = {"0.1.0"};
    const auto o = g.run(sys);
    CHECK(o.status == "rolled_back");
    CHECK(sys.version == "0.1.0");
    CHECK(sys.log == std::vector<std::string>{"keep 0.1.0", "install install.deb", "install previous.deb"});
    CHECK(o.detail.rfind("rolled_back: back on 0.1.0; the new agent did not report healthy within 60 s", 0) ==
          0);
    CHECK(o.detail.find("cannot open edge.db") != std::string::npos);
}

TEST_CASE("updater: a failing dpkg -i is rolled back too") {
    Gateway g;
    FakeSystem sys(g.layout);
    sys.install_fails = true;
    const auto o = g.run(sys);
    CHECK(o.status == "rolled_back");
    CHECK(o.detail.find("installing 0.2.0 failed: dpkg -i: broken package") != std::string::npos);
    CHECK(sys.version == "0.1.0");
}

TEST_CASE("updater: refuses before changing anything") {
    SUBCASE("a package changed after the agent checked it") {
        Gateway g;
        std::ofstream(g.layout.package(), std::ios::binary) << "the 0.2.0 packagX";
        FakeSystem sys(g.layout);
        const auto o = g.run(sys);
        CHECK(o.status == "rejected");
        CHECK(o.detail.find("SHA-256") != std::string::npos);
        CHECK(sys.log.empty());
    }
    SUBCASE("a signature by a key the gateway does not trust") {
        Gateway g;
        g.options.keys = {make_signer().key};
        FakeSystem sys(g.layout);
        const auto o = g.run(sys);
        CHECK(o.status == "rejected");
        CHECK(o.detail.rfind("signature: the signature is not made by a trusted release key", 0) == 0);
        CHECK(sys.log.empty());
    }
    SUBCASE("no copy of the running version to go back to") {
        Gateway g;
        FakeSystem sys(g.layout);
        sys.keep_fails = true;
        const auto o = g.run(sys);
        CHECK(o.status == "failed");
        CHECK(o.detail.find("nothing was installed") != std::string::npos);
        CHECK(sys.version == "0.1.0");
        CHECK(sys.log == std::vector<std::string>{"keep 0.1.0"});
    }
}

TEST_CASE("updater: a power cut at any step resumes to a working version") {
    // Each call to the system in turn loses power; the next start (boot) carries on from state.json.
    for (const bool healthy_target : {true, false}) {
        for (int cut = -1; cut < 4; ++cut) {
            CAPTURE(healthy_target);
            CAPTURE(cut);
            Gateway g;
            FakeSystem sys(g.layout);
            if (!healthy_target) sys.healthy_versions = {"0.1.0"};
            sys.cut_at = cut;
            sys.cut_in_sleep = cut == -1;
            bool lost = false;
            try {
                (void)run_updater(g.layout, sys, g.options);
            } catch (const PowerCut&) {
                lost = true;
            }
            if (!lost) continue;  // fewer calls than this in this case
            sys.cut_at = -1;
            sys.agent_started();  // boot: whichever version is installed starts
            auto r = run_updater(g.layout, sys, g.options);
            REQUIRE(r);
            REQUIRE(r->has_value());
            const std::string expected = healthy_target ? "0.2.0" : "0.1.0";
            CHECK(sys.version == expected);
            CHECK((*r)->status == (healthy_target ? "healthy" : "rolled_back"));
            CHECK_FALSE(fs::exists(g.layout.request()));
        }
    }
}

TEST_CASE("updater: a power cut that caught the package's copy before it reached the disk") {
    // What ext4 leaves of a file whose data was not yet written back: the name, no bytes. The updater syncs
    // its copies now; on resume it checks the copy again all the same and makes it anew from the agent's
    // file.
    for (const bool agent_file_too : {false, true}) {
        CAPTURE(agent_file_too);
        Gateway g;
        FakeSystem sys(g.layout);
        sys.cut_at = 1;  // keep (0) done, power lost as the install (1) starts
        CHECK_THROWS_AS((void)run_updater(g.layout, sys, g.options), PowerCut);
        std::ofstream(g.layout.verified(), std::ios::trunc).flush();
        if (agent_file_too) std::ofstream(g.layout.package(), std::ios::trunc).flush();
        sys.cut_at = -1;
        sys.agent_started();
        const auto o = g.run(sys);
        if (!agent_file_too) {
            CHECK(o.status == "healthy");
            CHECK(sys.version == "0.2.0");
        } else {  // nothing left to install from: back to the kept version
            CHECK(o.status == "rolled_back");
            CHECK(sys.version == "0.1.0");
            CHECK_MESSAGE(o.detail.find("the package to install was damaged") != std::string::npos, o.detail);
        }
        CHECK_FALSE(fs::exists(g.layout.request()));
    }
}
