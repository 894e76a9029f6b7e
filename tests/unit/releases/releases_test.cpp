#include <doctest/doctest.h>

#include <algorithm>
#include <map>

#include "pvfleet/releases/rollouts.hpp"
#include "pvfleet/storage/store.hpp"
#include "support/paths.hpp"

using namespace pvfleet;
using namespace pvfleet::releases;
using namespace std::chrono_literals;

namespace {
constexpr TimePoint kT0{Millis{1'780'000'000'000}};
}

TEST_CASE("range header: one range, suffixes, past the end, several, If-Range") {
    const std::string etag = "\"abc\"";
    auto r = parse_range(std::string("bytes=100-199"), std::nullopt, etag, 1000);
    CHECK(r.outcome == RangeOutcome::partial);
    CHECK(r.range.first == 100);
    CHECK(r.range.last == 199);
    r = parse_range(std::string("bytes=900-"), std::nullopt, etag, 1000);
    CHECK((r.outcome == RangeOutcome::partial && r.range.first == 900 && r.range.last == 999));
    r = parse_range(std::string("bytes=-100"), std::nullopt, etag, 1000);
    CHECK((r.outcome == RangeOutcome::partial && r.range.first == 900 && r.range.last == 999));
    r = parse_range(std::string("bytes=990-5000"), std::nullopt, etag, 1000);
    CHECK((r.outcome == RangeOutcome::partial && r.range.last == 999));
    CHECK(parse_range(std::string("bytes=1000-"), std::nullopt, etag, 1000).outcome == RangeOutcome::unsatisfiable);
    CHECK(parse_range(std::string("bytes=0-1,5-6"), std::nullopt, etag, 1000).outcome == RangeOutcome::multiple);
    CHECK(parse_range(std::string("items=0-1"), std::nullopt, etag, 1000).outcome == RangeOutcome::ignored);
    CHECK(parse_range(std::string("bytes=5-1"), std::nullopt, etag, 1000).outcome == RangeOutcome::ignored);
    CHECK(parse_range(std::nullopt, std::nullopt, etag, 1000).outcome == RangeOutcome::whole);
    CHECK(parse_range(std::string("bytes=5-"), std::string("\"other\""), etag, 1000).outcome == RangeOutcome::whole);
    CHECK(parse_range(std::string("bytes=5-"), etag, etag, 1000).outcome == RangeOutcome::partial);
}

TEST_CASE("download links: genuine, expired, another site or release, tampered") {
    const LinkKey key{std::string(32, 'k')};
    const std::string sha(64, 'a');
    const auto expires = to_epoch_ms(kT0) / 1000 + 3600;
    const std::string token = link_token(key, sha, "site-a", expires);
    const auto e = std::to_string(expires);
    CHECK(link_valid(key, sha, "site-a", e, token, kT0));
    CHECK_FALSE(link_valid(key, sha, "site-a", e, token, kT0 + 2h));     // expired
    CHECK_FALSE(link_valid(key, sha, "site-b", e, token, kT0));          // another site
    CHECK_FALSE(link_valid(key, std::string(64, 'b'), "site-a", e, token, kT0));
    CHECK_FALSE(link_valid(key, sha, "site-a", std::to_string(expires + 1), token, kT0));  // expiry moved
    CHECK_FALSE(link_valid(LinkKey{std::string(32, 'x')}, sha, "site-a", e, token, kT0));
    CHECK_FALSE(link_valid(key, sha, "site-a", "junk", token, kT0));
    Settings s;
    s.public_url = "https://pv.example.com/";
    Release r;
    r.sha256 = sha;
    const auto url = download_url(s, key, r, "site-a", kT0);
    CHECK(url.rfind("https://pv.example.com/api/releases/" + sha + "/download?site=site-a&expires=", 0) == 0);
}

TEST_CASE("Debian version order and acks to states") {
    CHECK(compare_versions("0.2.0", "0.10.0") < 0);
    CHECK(compare_versions("1.0~rc1", "1.0") < 0);
    CHECK(compare_versions("1:0.1", "2.0") > 0);
    CHECK(compare_versions("1.0-2", "1.0-10") < 0);
    CHECK(compare_versions("1.0", "1.0") == 0);
    CHECK(valid_version("0.2.0"));
    CHECK_FALSE(valid_version("v0.2"));
    CHECK(state_from_ack("accepted", "downloading 0.2.0 (5 bytes)") == SiteState::downloading);
    CHECK(state_from_ack("accepted", "installing 0.2.0") == SiteState::installing);
    CHECK(state_from_ack("done", "healthy 0.2.0") == SiteState::healthy);
    CHECK(state_from_ack("failed", "rolled_back: back on 0.1.0") == SiteState::rolled_back);
    CHECK(state_from_ack("rejected", "package refused") == SiteState::failed);
    CHECK_FALSE(state_from_ack("duplicate", "already done").has_value());
    CHECK_FALSE(state_from_ack("sent", "").has_value());
    CHECK(state_from_ack(RolloutKind::software, "done", "healthy 0.2.0") == SiteState::healthy);

    // A config rollout's set_config: one final ack.
    constexpr auto config = RolloutKind::config;
    CHECK(state_from_ack(config, "done", "config fleet-1 applied") == SiteState::applied);
    CHECK(state_from_ack(config, "failed",
                         "config fleet-1 did not start (store: disk full); config v1 restored") ==
          SiteState::rolled_back);
    CHECK(state_from_ack(config, "failed", "config not installed: cannot write site.json.new") ==
          SiteState::failed);
    CHECK(state_from_ack(config, "failed",
                         "the agent is restarting to apply a new config; send the command again") ==
          SiteState::failed);
    CHECK(state_from_ack(config, "rejected", "config refused:\npoll/fast_s: expected 1..3600, got 0") ==
          SiteState::failed);
    CHECK(state_from_ack(config, "stale", "issued …, before the config applied last (issued …)") ==
          SiteState::failed);
    CHECK(state_from_ack(config, "duplicate", "already done") == SiteState::applied);
    CHECK(state_from_ack(config, "duplicate", "already failed") == SiteState::failed);
    CHECK_FALSE(state_from_ack(config, "sent", "").has_value());
    CHECK_FALSE(state_from_ack(config, "accepted", "downloading 0.2.0").has_value());
    CHECK(is_final(SiteState::applied));
    CHECK(is_final(SiteState::rolled_back));
    CHECK_FALSE(is_final(SiteState::applying));
    CHECK_FALSE(is_final(SiteState::installing));
    for (auto s : {SiteState::pending, SiteState::downloading, SiteState::installing, SiteState::applying,
                   SiteState::healthy, SiteState::applied, SiteState::rolled_back, SiteState::failed})
        CHECK(site_state_from(to_string(s)) == s);
    CHECK(rollout_kind_from("config") == RolloutKind::config);
    CHECK_FALSE(rollout_kind_from("firmware").has_value());
}

namespace {

// A server's database with 20 sites and version 0.2.0 uploaded for arm64; commands "sent" are recorded as ingest
// would, and acks are written to them as ingest's ledger would.
struct Fleet {
    test::TempDir dir;
    ManualClock clock{kT0};
    std::unique_ptr<storage::Store> store;
    Settings settings;
    LinkKey key{std::string(32, 'k')};
    std::mt19937_64 rng{7};
    std::map<std::string, std::string> command_of;  // site → command id
    int max_downloading = 0;

    Fleet() {
        auto db = storage::open_db({storage::Engine::sqlite, (dir / "server.db").string(), ""});
        REQUIRE(db);
        store = std::make_unique<storage::Store>(std::move(*db), clock);
        REQUIRE(store->migrate());
        for (int i = 0; i < 20; ++i) REQUIRE(db_().run("INSERT INTO sites (site_id, created_at_ms, updated_at_ms) VALUES ($1, 0, 0)", {site(i)}));
        REQUIRE(db_().run("INSERT INTO releases (sha256, package, version, architecture, size_bytes, signature, signed_by, "
                          "uploaded_at_ms, uploaded_by) VALUES ($1, 'pvfleet-edge', '0.2.0', 'arm64', 1000, $2, 'k.pem', 0, 'admin')",
                          {std::string(64, 'a'), std::string(86, 'A') + "=="}));
        settings.public_url = "https://pv.example.com";
    }
    storage::Db& db_() { return store->db(); }
    static std::string site(int i) { return "s" + std::string(i < 10 ? "0" : "") + std::to_string(i); }

    TickReport tick() {
        EngineParts parts{db_(), settings, key,
                          [this](const protocol::Command& c, const std::string& by) -> Status {
                              command_of[c.site_id] = c.command_id;
                              const auto* u = std::get_if<protocol::UpdateCommand>(&c.body);
                              REQUIRE(u != nullptr);
                              CHECK(u->url.find("/api/releases/" + u->sha256 + "/download?site=" + c.site_id) != std::string::npos);
                              return Status(db_().run("INSERT INTO commands (command_id, site_id, command, issued_at_ms, "
                                                      "issued_by, body) VALUES ($1, $2, 'update', 0, $3, '{}')",
                                                      {c.command_id, c.site_id, by})
                                                ? Status{}
                                                : Status{Error{"insert"}});
                          },
                          rng, 6h};
        auto r = releases::tick(parts, clock.now());
        REQUIRE(r);
        auto n = db_().run("SELECT COUNT(*) FROM rollout_sites WHERE state = 'downloading'");
        max_downloading = std::max<int>(max_downloading, static_cast<int>(n->rows[0].integer(0)));
        return *r;
    }
    void ack(const std::string& site_id, const std::string& status, const std::string& detail) {
        REQUIRE(db_().run("UPDATE commands SET status = $2, detail = $3 WHERE command_id = $1",
                          {command_of.at(site_id), status, detail}));
    }
    std::map<std::string, SiteUpdate> sites(std::int64_t id) {
        std::map<std::string, SiteUpdate> out;
        auto list = rollout_sites(db_(), id);
        REQUIRE(list);
        for (auto& s : *list) out[s.site_id] = s;
        return out;
    }
};

}  // namespace

TEST_CASE("rollout: stages in order, at most N downloading, a stage's failures pause it, resume goes on") {
    Fleet f;
    REQUIRE(put_site_update_settings(f.db_(), {"s19", Channel::candidate, ""}, "admin", kT0));
    RolloutSpec spec;
    spec.version = "0.2.0";
    spec.stages = {Stage{std::nullopt, {"s00"}}, Stage{50, {}}, Stage{100, {}}};
    spec.max_concurrent = 3;
    spec.max_failure_percent = 25;
    spec.start_delay_max_s = 60;
    auto o = create_rollout(f.db_(), f.settings, spec, "admin", kT0, f.rng);
    REQUIRE(o);
    CHECK(f.tick().sent == 0);  // the start delay
    f.clock.advance(61s);
    CHECK(f.tick().sent == 1);
    CHECK(f.sites(o->id).at("s00").state == SiteState::downloading);

    f.ack("s00", "accepted", "installing 0.2.0 (was 0.1.0)");
    f.tick();
    CHECK(f.sites(o->id).at("s00").state == SiteState::installing);
    f.ack("s00", "done", "healthy 0.2.0 (was 0.1.0)");
    auto r = f.tick();  // stage 2 starts: half of the 19 stable sites
    CHECK(r.stages_started == 1);
    auto stage2 = f.sites(o->id);
    int in_stage2 = 0;
    for (const auto& [id, s] : stage2) in_stage2 += s.stage == 1 ? 1 : 0;
    CHECK(in_stage2 >= 9);
    CHECK(in_stage2 <= 10);
    CHECK(stage2.count("s19") == 0);  // the candidate channel's site is not in a stable rollout
    f.clock.advance(61s);
    CHECK(f.tick().sent == 3);  // the cap
    CHECK(f.tick().sent == 0);

    // Two of stage 2 fail: 2 of 9 or 10 is not more than 25 %; the third failure pauses.
    std::vector<std::string> sent;
    for (const auto& [id, s] : f.sites(o->id))
        if (s.state == SiteState::downloading) sent.push_back(id);
    REQUIRE(sent.size() == 3);
    f.ack(sent[0], "failed", "rolled_back: back on 0.1.0; the new agent did not report healthy within 180 s");
    f.ack(sent[1], "rejected", "package refused: signature: the signature is not made by a trusted release key");
    r = f.tick();
    CHECK(r.finished == 2);
    CHECK(f.sites(o->id).at(sent[0]).state == SiteState::rolled_back);
    CHECK(f.sites(o->id).at(sent[1]).state == SiteState::failed);
    CHECK(f.sites(o->id).at(sent[1]).reason.find("package refused") == 0);
    CHECK(r.sent == 2);  // room again under the cap
    f.ack(sent[2], "failed", "download failed: connection reset");
    r = f.tick();
    CHECK(r.paused == 1);
    auto paused = get_rollout(f.db_(), o->id);
    REQUIRE(*paused);
    CHECK((*paused)->state == RolloutState::paused);
    CHECK((*paused)->pause_reason.find("stage 2: 3 of") == 0);
    CHECK(f.tick().sent == 0);  // nothing is sent while paused

    REQUIRE(act_on_rollout(f.db_(), o->id, Action::resume, "admin", f.clock.now()));
    CHECK_FALSE(act_on_rollout(f.db_(), o->id, Action::resume, "admin", f.clock.now()));  // running already
    // Every remaining site healthy: stage 2 finishes, stage 3 takes the rest, then the rollout is done.
    for (int round = 0; round < 30; ++round) {
        for (const auto& [id, s] : f.sites(o->id))
            if (s.state == SiteState::downloading) f.ack(id, "done", "healthy 0.2.0");
        f.clock.advance(61s);
        f.tick();
    }
    auto done = get_rollout(f.db_(), o->id);
    CHECK((*done)->state == RolloutState::done);
    CHECK((*done)->counts.healthy == 16);
    CHECK((*done)->counts.failed + (*done)->counts.rolled_back == 3);
    CHECK(f.max_downloading <= 3);

    // A second rollout on a channel with one running is refused; on the other it is not.
    spec.channel = Channel::candidate;
    spec.stages = {Stage{100, {}}};
    CHECK(create_rollout(f.db_(), f.settings, spec, "admin", f.clock.now(), f.rng));
    CHECK(create_rollout(f.db_(), f.settings, spec, "admin", f.clock.now(), f.rng).error().kind == ErrorKind::conflict);
}

TEST_CASE("rollout: checks of the spec name the member") {
    Fleet f;
    RolloutSpec spec;
    spec.version = "0.3.0";
    spec.stages = {Stage{10, {}}};
    CHECK(check_spec(f.db_(), f.settings, spec).error().path == "version");
    spec.version = "0.2.0";
    spec.stages = {Stage{50, {}}, Stage{20, {}}};
    CHECK(check_spec(f.db_(), f.settings, spec).error().path == "stages/1/percent");
    spec.stages = {Stage{std::nullopt, {"s01", "nope"}}};
    CHECK(check_spec(f.db_(), f.settings, spec).error().path == "stages/0/sites/1");
    spec.stages = {Stage{std::nullopt, {}}};
    CHECK(check_spec(f.db_(), f.settings, spec).error().path == "stages/0/sites");
}

TEST_CASE("rollout: a site without a known architecture fails when the version has several") {
    Fleet f;
    REQUIRE(f.db_().run("INSERT INTO releases (sha256, package, version, architecture, size_bytes, signature, signed_by, "
                        "uploaded_at_ms, uploaded_by) VALUES ($1, 'pvfleet-edge', '0.2.0', 'armhf', 1000, 'x', 'k.pem', 0, 'admin')",
                        {std::string(64, 'b')}));
    REQUIRE(put_site_update_settings(f.db_(), {"s01", Channel::stable, "armhf"}, "admin", kT0));
    RolloutSpec spec;
    spec.version = "0.2.0";
    spec.stages = {Stage{std::nullopt, {"s00", "s01"}}};
    spec.start_delay_max_s = 0;
    spec.max_failure_percent = 100;
    auto o = create_rollout(f.db_(), f.settings, spec, "admin", kT0, f.rng);
    REQUIRE(o);
    f.tick();
    auto s = f.sites(o->id);
    CHECK(s.at("s00").state == SiteState::failed);
    CHECK(s.at("s00").reason.find("architecture is not known") != std::string::npos);
    CHECK(s.at("s01").state == SiteState::downloading);
}
