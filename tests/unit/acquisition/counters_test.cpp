#include <doctest/doctest.h>

#include "pvfleet/acquisition/counters.hpp"

using pvfleet::acquisition::MonotonicCounters;
using V = MonotonicCounters::Verdict;

TEST_CASE("lifetime counters only move forward; a drop to 0 is never a baseline") {
    MonotonicCounters c(3);
    CHECK(c.check("energy_total_wh", 0) == V::dropped);  // first reading 0: waking inverter
    CHECK(c.check("energy_total_wh", 1000) == V::accepted);
    CHECK(c.check("energy_total_wh", 1000) == V::accepted);
    CHECK(c.check("energy_total_wh", 0) == V::dropped);
    CHECK(c.check("energy_total_wh", 0) == V::dropped);
    CHECK(c.check("energy_total_wh", 0) == V::dropped);
    CHECK(c.check("energy_total_wh", 0) == V::dropped);  // zeros never rebase, however many
    CHECK(c.last("energy_total_wh") == 1000);
    CHECK(c.check("energy_total_wh", 1010) == V::accepted);
    CHECK(c.check("energy_total_wh", 990) == V::dropped);  // a backward step
    CHECK(c.check("energy_total_wh", 1020) == V::accepted);
}

TEST_CASE("a counter that stays lower and keeps counting becomes the new baseline") {
    MonotonicCounters c(3);
    CHECK(c.check("grid_import_wh", 50000) == V::accepted);
    CHECK(c.check("grid_import_wh", 10) == V::dropped);
    CHECK(c.check("grid_import_wh", 5) == V::dropped);   // not consistent with 10: starts over
    CHECK(c.check("grid_import_wh", 6) == V::dropped);
    CHECK(c.check("grid_import_wh", 7) == V::rebased);
    CHECK(c.last("grid_import_wh") == 7);
    CHECK(c.check("grid_import_wh", 8) == V::accepted);
}

TEST_CASE("only lifetime counters are filtered") {
    CHECK(MonotonicCounters::is_lifetime_counter("energy_total_wh"));
    CHECK(MonotonicCounters::is_lifetime_counter("battery_discharged_wh"));
    CHECK_FALSE(MonotonicCounters::is_lifetime_counter("energy_today_wh"));
    CHECK_FALSE(MonotonicCounters::is_lifetime_counter("ac_power_w"));
}
