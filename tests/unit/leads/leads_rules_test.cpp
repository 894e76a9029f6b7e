// The leads' rules without a database: normalisation, checks, scoring, assignment, SLA, limits, config errors.
#include <doctest/doctest.h>

#include "pvfleet/leads/lead.hpp"
#include "pvfleet/leads/limiter.hpp"
#include "pvfleet/leads/rules.hpp"

using namespace pvfleet;
using namespace pvfleet::leads;
using namespace std::chrono_literals;
using nlohmann::json;

namespace {

const TimePoint kT0 = from_epoch_ms(1782864000000);  // 2026-07-01T00:00:00Z

Lead minimal() {
    Lead l;
    l.name = "Erika Musterfrau";
    l.phone = "0171 2345678";
    l.created_at = kT0;
    return l;
}

std::string first_error(const Lead& l) {
    const auto errors = validate_lead(l);
    return errors.empty() ? "" : errors.front().message;
}

}  // namespace

TEST_CASE("leads: phone numbers normalise to E.164-like digits, e-mail to trimmed lower case") {
    const struct {
        const char* in;
        const char* country;
        std::optional<std::string> out;
    } cases[] = {
        {"+49 171 2345678", "49", "+491712345678"},
        {"+49 (0)171 234-5678", "49", "+491712345678"},
        {"0049 171 2345678", "", "+491712345678"},
        {"0171/2345678", "49", "+491712345678"},
        {"0171 2345678", "", "01712345678"},
        {"  +86 138 0013 8000 ", "49", "+8613800138000"},
        {"12345", "49", std::nullopt},
        {"+1234567890123456", "", std::nullopt},
        {"", "49", std::nullopt},
    };
    for (const auto& c : cases) {
        CAPTURE(c.in);
        CHECK(normalise_phone(c.in, c.country) == c.out);
    }
    // The same person typed four ways is one key.
    CHECK(normalise_phone("+49 171 2345678", "49") == normalise_phone("0171-234 56 78", "49"));
    CHECK(normalise_email("  Max.Muster@Example.COM ") == "max.muster@example.com");
    CHECK(normalise_email("") == "");
}

TEST_CASE("leads: every bad field is named; a lead needs a name and a phone or an e-mail") {
    CHECK(first_error(minimal()) == "");
    Lead l = minimal();
    l.name = "";
    CHECK(first_error(l).rfind("name: ", 0) == 0);
    l = minimal();
    l.phone = "";
    CHECK(first_error(l) == "phone: a phone number or an e-mail address is required");
    l.email = "erika@example.org";
    CHECK(first_error(l) == "");
    l.email = "not-an-address";
    CHECK(first_error(l).rfind("email: ", 0) == 0);
    l = minimal();
    l.phone = "123";
    CHECK(first_error(l) == "phone: expected 6 to 15 digits");
    l = minimal();
    l.monthly_bill = -5;
    CHECK(first_error(l) == "monthly_bill: expected 0..100000 per month");
    l = minimal();
    l.desired_kwp = 2000;
    CHECK(first_error(l) == "desired_kwp: expected 0..1000 kWp");
    l = minimal();
    l.postcode = "80<script>";
    CHECK(first_error(l) == "postcode: letters, digits, blanks and '-' only");
    l = minimal();
    l.next_step_on = "2026-02-30";
    CHECK(first_error(l).rfind("next_step_on: ", 0) == 0);
    l = minimal();
    l.utm.campaign = std::string(201, 'x');
    CHECK(first_error(l).rfind("utm_campaign: ", 0) == 0);
}

TEST_CASE("leads: scoring adds source, completeness, roof, bill size and response time as configured") {
    const Settings s = default_settings();
    Lead l = minimal();
    l.source = Source::referral;
    Score score = score_lead(l, s.scoring);
    CHECK(score.total == 25 + 5);  // referral + phone given
    l.roof_type = RoofType::tile;
    l.monthly_bill = 160;
    score = score_lead(l, s.scoring);
    CHECK(score.total == 25 + 5 + 5 + 5 + 10 + 20);
    // Consumption counts when the bill is not given.
    l.monthly_bill.reset();
    l.annual_consumption_kwh = 9000;
    CHECK(score_lead(l, s.scoring).total == 25 + 5 + 5 + 5 + 10 + 30);
    // A first touch within the hour is worth more than one within the day; none after the last band.
    l.first_touch_at = kT0 + 30min;
    const int fast = score_lead(l, s.scoring).total;
    l.first_touch_at = kT0 + 20h;
    const int slow = score_lead(l, s.scoring).total;
    l.first_touch_at = kT0 + 48h;
    const int late = score_lead(l, s.scoring).total;
    CHECK(fast - late == 15);
    CHECK(slow - late == 5);
    // The breakdown names each rule that gave points.
    bool has_roof = false;
    for (const auto& [rule, points] : score_lead(l, s.scoring).detail) has_roof |= rule == "roof" && points == 10;
    CHECK(has_roof);
    // Rules are data: a config that ignores the source changes the total.
    auto custom = parse_settings(json::parse(R"({"scoring": {"source": {"referral": 0}}})"));
    REQUIRE(custom);
    CHECK(score_lead(l, custom->scoring).total == score_lead(l, s.scoring).total - 25);
}

TEST_CASE("leads: regions by the longest postcode prefix; round-robin within the team under the cap") {
    auto settings = parse_settings(json::parse(R"({"assignment": {
        "max_open_per_rep": 2,
        "regions": [{"name": "south", "postcode_prefixes": ["8", "9"]},
                    {"name": "munich", "postcode_prefixes": ["80", "81"]},
                    {"name": "north", "postcode_prefixes": ["2"]}],
        "teams": [{"name": "munich", "regions": ["munich"], "members": ["anna", "ben"]},
                  {"name": "south", "regions": ["south"], "members": ["carl"]}]}})"));
    REQUIRE_MESSAGE(settings, (settings ? "" : settings.error().message));
    const auto& rules = settings->assignment;
    CHECK(region_of("80331", rules) == "munich");
    CHECK(region_of("90402", rules) == "south");
    CHECK(region_of("20095", rules) == "north");
    CHECK(region_of("10115", rules) == "");

    std::vector<RepLoad> reps{{"anna", 0, std::nullopt}, {"ben", 0, std::nullopt}, {"carl", 0, std::nullopt}};
    auto assign = [&](const std::string& region, TimePoint at) {
        auto who = choose_assignee(region, rules, reps);
        if (who)
            for (auto& r : reps)
                if (r.name == *who) {
                    ++r.open_leads;
                    r.last_assigned_at = at;
                }
        return who.value_or("");
    };
    // Round-robin: anna, ben, then the cap (2 open each) ends the rotation and leads wait unassigned.
    CHECK(assign("munich", kT0 + 1s) == "anna");
    CHECK(assign("munich", kT0 + 2s) == "ben");
    CHECK(assign("munich", kT0 + 3s) == "anna");
    CHECK(assign("munich", kT0 + 4s) == "ben");
    CHECK(assign("munich", kT0 + 5s) == "");
    // A closed lead frees room.
    reps[1].open_leads = 1;
    CHECK(assign("munich", kT0 + 6s) == "ben");
    // Another region's team; a region nobody serves, and no region at all, stay unassigned.
    CHECK(assign("south", kT0 + 7s) == "carl");
    CHECK(assign("north", kT0 + 8s) == "");
    CHECK(assign("", kT0 + 9s) == "");
    // A disabled or departed rep is not among the loads: never chosen.
    reps.erase(reps.begin() + 2);
    CHECK(assign("south", kT0 + 10s) == "");
}

TEST_CASE("leads: a catch-all team (\"*\") takes leads of every region and without one") {
    auto settings = parse_settings(json::parse(
        R"({"assignment": {"teams": [{"name": "all", "regions": ["*"], "members": ["anna"]}]}})"));
    REQUIRE(settings);
    std::vector<RepLoad> reps{{"anna", 0, std::nullopt}};
    CHECK(choose_assignee("", settings->assignment, reps) == "anna");
    CHECK(choose_assignee("anywhere", settings->assignment, reps) == "anna");
}

TEST_CASE("leads: the touch SLA on a manual clock") {
    const SlaRules rules = default_settings().sla;  // 24 h, hot (score ≥ 60) 4 h, follow-up 7 days
    Lead l = minimal();
    auto at = [&](Millis after) { return sla_status(l, rules, kT0 + after); };
    CHECK(at(23h).due_at == kT0 + 24h);
    CHECK_FALSE(at(23h).overdue);
    CHECK(at(24h).overdue);
    CHECK(at(24h).reason == "first_touch");
    l.score = 70;
    CHECK(at(4h).overdue);
    CHECK_FALSE(at(3h).overdue);
    // Touched, with a next step on 2026-07-03: due at the end of that day.
    l.last_touch_at = kT0 + 2h;
    l.next_step_on = "2026-07-03";
    CHECK_FALSE(at(71h).overdue);
    CHECK(at(72h).overdue);
    CHECK(at(72h).reason == "next_step");
    // Touched without a next step: due after the follow-up days.
    l.next_step_on.reset();
    CHECK_FALSE(at(2h + 24h * 7 - 1ms).overdue);
    CHECK(at(2h + 24h * 7).overdue);
    CHECK(at(2h + 24h * 7).reason == "follow_up");
    // A closed lead is never due.
    l.status = LeadStatus::lost;
    CHECK_FALSE(at(24h * 365).overdue);
    CHECK_FALSE(at(24h * 365).due_at.has_value());
}

TEST_CASE("leads: the rate limiter passes a minute's burst, then the rate, per key") {
    RateLimiter limiter(6);
    for (int i = 0; i < 6; ++i) CHECK_FALSE(limiter.take("a", kT0).has_value());
    const auto wait = limiter.take("a", kT0);
    REQUIRE(wait.has_value());
    CHECK(*wait == 10s);
    CHECK_FALSE(limiter.take("b", kT0).has_value());  // another key has its own bucket
    CHECK_FALSE(limiter.take("a", kT0 + 10s).has_value());
    CHECK(limiter.take("a", kT0 + 10s).has_value());
    // Keys are bounded: with every bucket waiting, a new key is refused rather than stored.
    RateLimiter small(1, 2);
    CHECK_FALSE(small.take("x", kT0).has_value());
    CHECK_FALSE(small.take("y", kT0).has_value());
    CHECK(small.take("z", kT0).has_value());
    CHECK_FALSE(small.take("z", kT0 + 61s).has_value());  // once full again, old buckets are forgotten
}

TEST_CASE("leads: the config section's errors name their key paths (golden)") {
    const struct {
        const char* section;
        const char* error;
    } cases[] = {
        {R"({"scoring": {"source": {"webshop": 5}}})",
         "leads/scoring/source/webshop: unknown key (expected website, campaign, referral, phone, walk_in, partner, "
         "import, other)"},
        {R"({"scoring": {"roof": {"tile": "ten"}}})", "leads/scoring/roof/tile: expected an integer in -1000..1000"},
        {R"({"scoring": {"monthly_bill": [{"min": 50}]}})", "leads/scoring/monthly_bill/0/points: required"},
        {R"({"scoring": {"response": [{"within_h": -1, "points": 3}]}})",
         "leads/scoring/response/0/within_h: expected a number in 0..8760"},
        {R"({"scoring": {"completeness": {"fax": 1}}})",
         "leads/scoring/completeness/fax: unknown key (expected phone, email, address, postcode, roof_type, "
         "monthly_bill, desired_kwp, budget)"},
        {R"({"assignment": {"max_open_per_rep": 0}})", "leads/assignment/max_open_per_rep: expected a number in 1..100000"},
        {R"({"assignment": {"teams": [{"name": "t", "regions": ["east"], "members": ["anna"]}]}})",
         "leads/assignment/teams/0/regions/0: unknown region 'east' (not in leads/assignment/regions; \"*\": all)"},
        {R"({"assignment": {"teams": [{"name": "t", "regions": ["*"], "members": [""]}]}})",
         "leads/assignment/teams/0/members/0: expected a non-empty string"},
        {R"({"assignment": {"regions": [{"name": "a", "postcode_prefixes": []}, {"name": "a", "postcode_prefixes": []}]}})",
         "leads/assignment/regions/1/name: region 'a' appears twice"},
        {R"({"sla": {"first_touch_h": 0}})", "leads/sla/first_touch_h: expected a number in 1..8760"},
        {R"({"public_capture": {"max_body_bytes": 10}})",
         "leads/public_capture/max_body_bytes: expected a number in 1024..1048576"},
        {R"({"default_country_code": "049"})",
         "leads/default_country_code: expected 1 to 3 digits without a leading 0 (e.g. \"49\")"},
        {R"({"scoring": {}, "colour": "red"})",
         "leads/colour: unknown key (expected assignment, default_country_code, import, public_capture, scoring, sla)"},
    };
    for (const auto& c : cases) {
        CAPTURE(c.section);
        auto s = parse_settings(json::parse(c.section));
        REQUIRE_FALSE(s.ok());
        CHECK(s.error().message == c.error);
    }
    CHECK(parse_settings(json::object()).ok());
}
