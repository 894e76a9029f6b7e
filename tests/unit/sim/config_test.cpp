#include <doctest/doctest.h>

#include "pvfleet/sim/faults.hpp"
#include "pvfleet/sim/site.hpp"
#include "sim_fixtures.hpp"
#include "support/paths.hpp"

using namespace pvfleet;
using namespace pvfleet::sim;

namespace {
std::string error_of(nlohmann::json doc) {
    auto r = parse_site(doc);
    return r.ok() ? std::string("ok") : r.error().message;
}
}  // namespace

TEST_CASE("site errors name the key path") {
    auto doc = sim::test::site_json();
    CHECK(error_of(doc) == "ok");
    auto d = doc;
    d["devices"][1]["unit"] = 0;
    CHECK(error_of(d) == "devices/1/unit: 0 out of range [1, 247]");
    d = doc;
    d["devices"][1]["unit"] = 1;
    CHECK(error_of(d) == "devices/1/unit: duplicate unit id 1");
    d = doc;
    d["arrays"][2]["device"] = "inv9";
    CHECK(error_of(d) == "arrays/2/device: unknown device 'inv9'");
    d = doc;
    d["arrays"][1]["mppt"] = 3;
    CHECK(error_of(d) == "arrays/1/mppt: 3 but device 'inv1' has 2 MPPT input(s)");
    d = doc;
    d["clouds"] = "foggy";
    CHECK(error_of(d) == "clouds: unknown 'foggy' (expected none, scattered, overcast)");
    d = doc;
    d["time_zone"] = "Mars/Olympus";
    CHECK(error_of(d) == "time_zone: unknown time zone 'Mars/Olympus'");
    d = doc;
    d["listen"] = {{"port", 70000}};
    CHECK(error_of(d) == "listen/port: 70000 out of range [0, 65535]");
    d = doc;
    d["devices"][0]["colour"] = "red";
    CHECK(error_of(d) == "devices/0/colour: unknown key");
}

TEST_CASE("every example site and scenario in firmware-config/sim loads") {
    int sites = 0;
    for (const auto& entry : std::filesystem::directory_iterator(pvfleet::test::source_dir() / "firmware-config" / "sim")) {
        const auto name = entry.path().filename().string();
        if (name.starts_with("scenario")) {
            auto s = load_scenario(entry.path());
            CHECK_MESSAGE(s.ok(), name << ": " << (s.ok() ? "" : s.error().message));
        } else if (entry.path().extension() == ".json") {
            auto s = load_site(entry.path());
            CHECK_MESSAGE(s.ok(), name << ": " << (s.ok() ? "" : s.error().message));
            ++sites;
        }
    }
    CHECK(sites >= 1);
}

TEST_CASE("durations and fault words") {
    CHECK(parse_duration("1500ms").value() == Millis{1500});
    CHECK(parse_duration("30s").value() == Millis{30'000});
    CHECK(parse_duration("10m").value() == Millis{600'000});
    CHECK(parse_duration("2h").value() == Millis{7'200'000});
    CHECK(parse_duration("1.5h").value() == Millis{5'400'000});
    CHECK_FALSE(parse_duration("2 weeks").ok());
    CHECK_FALSE(parse_duration("h").ok());

    auto f = parse_fault_words({"offline", "2h"}).value();
    CHECK(f.type == FaultType::offline);
    CHECK(f.duration == Millis{7'200'000});
    f = parse_fault_words({"string_loss", "mppt=2"}).value();
    CHECK(f.mppt == 2);
    CHECK_FALSE(f.duration.has_value());
    f = parse_fault_words({"event", "ground_fault", "for", "30m"}).value();
    CHECK(f.event == "ground_fault");
    CHECK(f.duration == Millis{1'800'000});
    f = parse_fault_words({"slow", "1500ms"}).value();
    CHECK(f.delay == Millis{1500});
    f = parse_fault_words({"exception", "6"}).value();
    CHECK(f.exception_code == 6);
    CHECK(parse_fault_words({"event", "alien_landing"}).error().message.starts_with("unknown event 'alien_landing'"));
    CHECK(parse_fault_words({"string_loss"}).error().message == "string_loss: missing mppt=N");
    CHECK(parse_fault_words({"counter_reset", "1h"}).error().message == "counter_reset takes no duration");
    CHECK(parse_fault_words({"explode"}).error().message.starts_with("unknown fault 'explode'"));
}

TEST_CASE("scenario files") {
    auto s = parse_scenario(R"({"events": [
        {"at": "+30m", "device": "inv1", "fault": "offline", "duration": "2h"},
        {"at": "2026-06-21T10:00:00Z", "device": "inv2", "fault": "string_loss", "mppt": 1},
        {"at": "+3h", "device": "inv1", "fault": "clear", "clear": "offline"}]})");
    REQUIRE(s.ok());
    REQUIRE(s->size() == 3);
    CHECK(std::get<Millis>((*s)[0].at) == Millis{1'800'000});
    CHECK((*s)[0].fault->duration == Millis{7'200'000});
    CHECK(std::get<TimePoint>((*s)[1].at) == sim::test::at("2026-06-21T10:00:00Z"));
    CHECK((*s)[1].fault->mppt == 1);
    CHECK(*(*s)[2].clear_type == "offline");
    CHECK(parse_scenario(R"({"events": [{"at": "+1h", "device": "inv1", "fault": "slow"}]})").error().message ==
          "events/0/slow: missing delay (e.g. 1500ms)");
    CHECK(parse_scenario(R"({"events": [{"at": "noon", "device": "inv1", "fault": "offline"}]})").error().message.starts_with(
        "events/0/at: expected '+<duration>' or an ISO-8601 time"));
    CHECK(parse_scenario(R"({"events": [{"at": "+1h", "device": "inv1", "fault": "offline", "when": 1}]})").error().message ==
          "events/0/when: unknown key");
}
