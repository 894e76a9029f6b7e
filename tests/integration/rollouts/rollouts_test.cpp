#include "pvfleet/releases/rollouts.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "pvfleet/protocol/codec.hpp"
#include "pvfleet/storage/store.hpp"
#include "support/server_backends.hpp"

using namespace pvfleet;
using namespace pvfleet::releases;
using namespace std::chrono_literals;
using test::Backend;

namespace {

constexpr TimePoint kT0{Millis{1'780'000'000'000}};
constexpr int kSites = 200;

std::vector<Backend> backends(test::TempDir& dir) {
    return test::fresh_backends(dir, "rollouts");
}

std::string site(int i) {
    std::string n = std::to_string(i);
    return "s" + std::string(3 - n.size(), '0') + n;
}

// A server's database with 200 sites (the last five on the candidate channel) and version 0.2.0 uploaded for
// arm64. Commands the engine sends are checked to encode as protocol messages and recorded as ingest would;
// acks are written to them as ingest's ledger would.
struct Fleet {
    ManualClock clock{kT0};
    storage::Store store;
    Settings settings;
    LinkKey key{std::string(32, 'k')};
    std::mt19937_64 rng{11};
    std::map<std::string, protocol::Command> sent;  // site → the last command sent to it
    std::vector<std::string> send_order;
    int max_in_flight = 0;

    explicit Fleet(const Backend& be) : store(be.open(), clock) {
        REQUIRE(store.migrate());
        for (int i = 0; i < kSites; ++i)
            REQUIRE(db().run("INSERT INTO sites (site_id, created_at_ms, updated_at_ms) VALUES ($1, 0, 0)",
                             {site(i)}));
        for (int i = kSites - 5; i < kSites; ++i)
            REQUIRE(put_site_update_settings(db(), {site(i), Channel::candidate, ""}, "admin", kT0));
        REQUIRE(db().run(
            "INSERT INTO releases (sha256, package, version, architecture, size_bytes, signature, "
            "signed_by, uploaded_at_ms, uploaded_by) VALUES ($1, 'pvfleet-edge', '0.2.0', 'arm64', 1000, "
            "$2, 'k.pem', 0, 'admin')",
            {std::string(64, 'a'), std::string(86, 'A') + "=="}));
        settings.public_url = "https://pv.example.com";
    }
    storage::Db& db() { return store.db(); }

    // A site's gateway reported this config_version in its last status.
    void reports_config(const std::string& site_id, const std::string& version) {
        REQUIRE(db().run(
            "INSERT INTO site_status (site_id, state, sent_at_ms, received_at_ms, body) VALUES ($1, "
            "'online', 0, 0, $2)",
            {site_id, nlohmann::json{{"config_version", version}, {"agent_version", "0.1.0"}}.dump()}));
    }

    TickReport tick() {
        EngineParts parts{
            db(),
            settings,
            key,
            [this](const protocol::Command& c, const std::string& by) -> Status {
                auto payload = protocol::encode(c);
                REQUIRE_MESSAGE(payload, (payload ? "" : payload.error().message));
                sent[c.site_id] = c;
                send_order.push_back(c.site_id);
                if (!db().run("INSERT INTO commands (command_id, site_id, command, issued_at_ms, "
                              "issued_by, body) VALUES ($1, $2, $3, $4, $5, $6)",
                              {c.command_id, c.site_id, std::string(protocol::to_string(c.type())),
                               to_epoch_ms(c.issued_at), by, *payload}))
                    return Error{"insert"};
                return {};
            },
            rng,
            6h};
        auto r = releases::tick(parts, clock.now());
        REQUIRE_MESSAGE(r, (r ? "" : r.error().message));
        auto n = db().run("SELECT COUNT(*) FROM rollout_sites WHERE state IN ('applying', 'downloading')");
        REQUIRE(n);
        max_in_flight = std::max<int>(max_in_flight, static_cast<int>(n->rows[0].integer(0)));
        return *r;
    }
    void ack(const std::string& site_id, const std::string& status, const std::string& detail) {
        REQUIRE(db().run("UPDATE commands SET status = $2, detail = $3 WHERE command_id = $1",
                         {sent.at(site_id).command_id, status, detail}));
    }
    std::map<std::string, SiteUpdate> sites(std::int64_t id) {
        std::map<std::string, SiteUpdate> out;
        for (auto& s : test::ok(rollout_sites(db(), id))) out[s.site_id] = s;
        return out;
    }
    std::vector<std::string> in_state(std::int64_t id, SiteState state) {
        std::vector<std::string> out;
        for (const auto& [name, s] : sites(id))
            if (s.state == state) out.push_back(name);
        return out;
    }
    Rollout rollout(std::int64_t id) {
        auto o = test::ok(get_rollout(db(), id));
        REQUIRE(o.has_value());
        return *o;
    }
};

RolloutSpec config_spec() {
    RolloutSpec spec;
    spec.kind = RolloutKind::config;
    spec.patch_json = R"({"poll":{"slow_s":600},"detection":{"not_producing":{"debounce_min":45}}})";
    spec.config_version = "fleet-1";
    spec.stages = {Stage{std::nullopt, {"s000"}}, Stage{10, {}}, Stage{100, {}}};
    spec.max_concurrent = 5;
    spec.max_failure_percent = 10;
    spec.start_delay_max_s = 60;
    return spec;
}

const std::string kRolledBack =
    "config fleet-1 did not start (devices/inv2/profile: unknown 'x'); config v1 restored";

}  // namespace

TEST_CASE(
    "config rollout over 200 sites: stages, the cap, the pause at the failure share, resume, deadline, "
    "done") {
    test::TempDir dir;
    for (const auto& be : backends(dir)) {
        CAPTURE(be.name);
        Fleet f(be);
        f.reports_config("s150", "fleet-1");  // runs the patched config already
        const auto spec = config_spec();
        auto o = test::ok(create_rollout(f.db(), f.settings, spec, "admin", kT0, f.rng));
        CHECK(o.spec.kind == RolloutKind::config);
        CHECK(f.tick().sent == 0);  // the start delay
        f.clock.advance(61s);
        CHECK(f.tick().sent == 1);
        REQUIRE(f.sent.count("s000") == 1);
        const auto& first = f.sent.at("s000");
        const auto* set = std::get_if<protocol::SetConfigCommand>(&first.body);
        REQUIRE(set != nullptr);
        CHECK(set->is_patch());
        CHECK(set->config_json.empty());
        CHECK(nlohmann::json::parse(set->patch_json) == nlohmann::json::parse(spec.patch_json));
        CHECK(set->config_version == "fleet-1");
        CHECK(first.command_id.rfind("config-" + std::to_string(o.id) + "-", 0) == 0);
        CHECK(first.expires_at == f.clock.now() + 6h);  // never applied after the rollout gave up on it
        CHECK(f.sites(o.id).at("s000").state == SiteState::applying);
        CHECK(f.rollout(o.id).counts.applying == 1);

        f.ack("s000", "done", "config fleet-1 applied");
        auto r = f.tick();  // stage 2: 10 % of the 195 stable sites, in the rollout's hash order
        CHECK(r.finished == 1);
        CHECK(r.stages_started == 1);
        CHECK(f.sites(o.id).at("s000").state == SiteState::applied);
        std::set<std::string> stage2;
        for (const auto& [name, s] : f.sites(o.id))
            if (s.stage == 1) stage2.insert(name);
        CHECK(stage2.size() == 20);                                                   // ceil(19.5)
        for (int i = kSites - 5; i < kSites; ++i) CHECK(stage2.count(site(i)) == 0);  // candidate sites

        // At most 5 applying at once; the first five answers: two configs that did not start (rolled back),
        // one refused, two applied. 3 of 20 is more than 10 %: paused, with the reason.
        f.clock.advance(61s);
        CHECK(f.tick().sent == 5);
        CHECK(f.tick().sent == 0);
        auto applying = f.in_state(o.id, SiteState::applying);
        REQUIRE(applying.size() == 5);
        f.ack(applying[0], "failed", kRolledBack);
        f.ack(applying[1], "failed", kRolledBack);
        f.ack(applying[2], "rejected", "config refused:\npoll/fast_s: expected 1..3600, got 0");
        f.ack(applying[3], "done", "config fleet-1 applied");
        f.ack(applying[4], "done", "config fleet-1 applied");
        r = f.tick();
        CHECK(r.finished == 5);
        CHECK(r.paused == 1);
        CHECK(r.sent == 0);
        auto paused = f.rollout(o.id);
        CHECK(paused.state == RolloutState::paused);
        CHECK(paused.pause_reason == "stage 2: 3 of 20 sites failed or rolled back (more than 10 %)");
        CHECK(paused.counts.rolled_back == 2);
        CHECK(paused.counts.failed == 1);
        CHECK(paused.counts.applied == 3);
        auto states = f.sites(o.id);
        CHECK(states.at(applying[0]).state == SiteState::rolled_back);
        CHECK(states.at(applying[0]).reason == kRolledBack);
        CHECK(states.at(applying[2]).state == SiteState::failed);
        CHECK(states.at(applying[2]).reason.find("poll/fast_s") != std::string::npos);
        f.clock.advance(61s);
        CHECK(f.tick().sent == 0);  // nothing is sent while paused

        // Resumed: those failures are accepted; the rest of the fleet, five at a time. One gateway never
        // answers and fails at the deadline, which lets its stage finish.
        test::ok(act_on_rollout(f.db(), o.id, Action::resume, "admin", f.clock.now()));
        std::string silent;
        std::set<std::string> stage2_done_before_stage3 = stage2;
        bool stage3_seen = false;
        for (int round = 0; round < 200 && f.rollout(o.id).state == RolloutState::running; ++round) {
            for (const auto& name : f.in_state(o.id, SiteState::applying)) {
                if (silent.empty() && f.sites(o.id).at(name).stage == 2) silent = name;
                if (name != silent) f.ack(name, "done", "config fleet-1 applied");
            }
            f.clock.advance(silent.empty() ? 61s : 1h);
            f.tick();
            for (const auto& [name, s] : f.sites(o.id))
                if (s.stage == 2 && s.state != SiteState::pending) {
                    // A stage starts only once every site of the one before finished.
                    if (!stage3_seen)
                        for (const auto& s2 : stage2_done_before_stage3)
                            CHECK(is_final(f.sites(o.id).at(s2).state));
                    stage3_seen = true;
                }
        }
        auto done = f.rollout(o.id);
        CHECK(done.state == RolloutState::done);
        CHECK(f.max_in_flight <= 5);
        REQUIRE_FALSE(silent.empty());
        CHECK(f.sites(o.id).at(silent).state == SiteState::failed);
        CHECK(f.sites(o.id).at(silent).reason.find("no final answer from the gateway within 6 h") == 0);
        CHECK(f.sites(o.id).at("s150").state == SiteState::applied);
        CHECK(f.sites(o.id).at("s150").reason == "already runs config fleet-1");
        CHECK(f.sites(o.id).at("s150").from_version == "fleet-1");
        CHECK(f.sent.count("s150") == 0);
        CHECK(done.counts.applied == 195 - 4);
        CHECK(done.counts.rolled_back == 2);
        CHECK(done.counts.failed == 2);
        CHECK(done.counts.pending + done.counts.applying + done.counts.healthy + done.counts.downloading ==
              0);

        // Another rollout orders the sites afresh: its first 10 % are other sites.
        auto again = config_spec();
        again.config_version = "fleet-2";
        auto o2 = test::ok(create_rollout(f.db(), f.settings, again, "admin", f.clock.now(), f.rng));
        f.clock.advance(61s);
        for (int round = 0; round < 3; ++round) {
            for (const auto& name : f.in_state(o2.id, SiteState::applying))
                f.ack(name, "done", "config fleet-2 applied");
            f.tick();
        }
        std::set<std::string> stage2_again;
        for (const auto& [name, s] : f.sites(o2.id))
            if (s.stage == 1) stage2_again.insert(name);
        REQUIRE(stage2_again.size() == 20);
        CHECK(stage2_again != stage2);
    }
}

TEST_CASE("rollouts: one running per channel and kind; a config spec's checks name the member") {
    test::TempDir dir;
    for (const auto& be : backends(dir)) {
        CAPTURE(be.name);
        Fleet f(be);
        auto spec = config_spec();
        auto config = test::ok(create_rollout(f.db(), f.settings, spec, "admin", kT0, f.rng));
        auto second = create_rollout(f.db(), f.settings, spec, "admin", kT0, f.rng);
        REQUIRE_FALSE(second);
        CHECK(second.error().kind == ErrorKind::conflict);
        CHECK(second.error().message.find("(config) of channel stable") != std::string::npos);
        // A software rollout on the same channel is another kind: it may run beside it.
        RolloutSpec software;
        software.version = "0.2.0";
        software.stages = {Stage{100, {}}};
        auto update = test::ok(create_rollout(f.db(), f.settings, software, "admin", kT0, f.rng));
        CHECK(update.spec.kind == RolloutKind::software);
        CHECK(create_rollout(f.db(), f.settings, software, "admin", kT0, f.rng).error().kind ==
              ErrorKind::conflict);
        // Another channel, or once the first is cancelled: allowed.
        spec.channel = Channel::candidate;
        spec.stages = {Stage{100, {}}};
        test::ok(create_rollout(f.db(), f.settings, spec, "admin", kT0, f.rng));
        test::ok(act_on_rollout(f.db(), config.id, Action::cancel, "admin", kT0));
        spec.channel = Channel::stable;
        auto after = test::ok(create_rollout(f.db(), f.settings, spec, "admin", kT0, f.rng));
        auto listed = test::ok(list_rollouts(f.db()));
        REQUIRE(listed.size() == 4);
        CHECK(listed[0].id == after.id);
        CHECK(listed[0].spec.patch_json == spec.patch_json);
        CHECK(listed[0].spec.config_version == "fleet-1");
        CHECK(listed[0].spec.max_concurrent == 5);

        auto bad = config_spec();
        bad.patch_json = R"({"site_id":"x","poll":{"fast_s":5}})";
        auto e = check_spec(f.db(), f.settings, bad).error();
        CHECK(e.path == "patch/site_id");
        CHECK(e.message == "patch/site_id: may not be changed by a fleet patch");
        bad.patch_json = R"({"config_version":"x"})";
        CHECK(check_spec(f.db(), f.settings, bad).error().path == "patch/config_version");
        bad.patch_json = "{}";
        CHECK(check_spec(f.db(), f.settings, bad).error().message == "patch: at least one key to change");
        bad.patch_json = "[1]";
        CHECK(check_spec(f.db(), f.settings, bad).error().path == "patch");
        bad = config_spec();
        bad.config_version = "";
        CHECK(check_spec(f.db(), f.settings, bad).error().path == "config_version");
        bad = config_spec();
        bad.version = "0.2.0";
        CHECK(check_spec(f.db(), f.settings, bad).error().path == "version");
        bad = config_spec();
        bad.stages = {Stage{std::nullopt, {"s001", "s002", "s003", "x"}}};
        e = check_spec(f.db(), f.settings, bad).error();
        CHECK(e.path == "stages/0/sites/3");
        CHECK(e.message == "stages/0/sites/3: no site 'x'");
        bad = config_spec();
        bad.max_concurrent = 0;
        CHECK(check_spec(f.db(), f.settings, bad).error().path == "max_concurrent");
        software.patch_json = R"({"poll":{"fast_s":5}})";
        CHECK(check_spec(f.db(), f.settings, software).error().path == "patch");
    }
}
