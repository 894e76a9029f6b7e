#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "pvfleet/util/time_system.hpp"

using namespace pvfleet;
using namespace std::chrono_literals;

TEST_CASE("simulated time fires due timers in deadline order, at their deadlines") {
    SimulatedTimeSystem time(from_epoch_ms(1'000'000));
    auto a = time.make_timer();
    auto b = time.make_timer();
    auto c = time.make_timer();
    std::vector<std::string> fired;
    a->arm(300ms, [&] { fired.push_back("a@" + std::to_string(to_epoch_ms(time.now()))); });
    b->arm(100ms, [&] { fired.push_back("b@" + std::to_string(to_epoch_ms(time.now()))); });
    c->arm(100ms, [&] { fired.push_back("c@" + std::to_string(to_epoch_ms(time.now()))); });
    time.advance(99ms);
    CHECK(fired.empty());
    CHECK(time.armed_timers() == 3);
    time.advance(250ms);
    CHECK(fired == std::vector<std::string>{"b@1000100", "c@1000100", "a@1000300"});
    CHECK(to_epoch_ms(time.now()) == 1'000'349);
    CHECK_FALSE(a->armed());
}

TEST_CASE("a re-armed timer fires once; cancelled and destroyed timers never") {
    SimulatedTimeSystem time;
    auto t = time.make_timer();
    int first = 0;
    int second = 0;
    t->arm(10ms, [&] { ++first; });
    t->arm(20ms, [&] { ++second; });
    time.advance(1s);
    CHECK(first == 0);
    CHECK(second == 1);

    t->arm(10ms, [&] { ++first; });
    t->cancel();
    {
        auto gone = time.make_timer();
        gone->arm(5ms, [&] { ++first; });
    }
    time.advance(1s);
    CHECK(first == 0);
    CHECK(time.armed_timers() == 0);
}

TEST_CASE("a periodic timer re-arms from its callback and fires every period within one advance") {
    SimulatedTimeSystem time;
    auto t = time.make_timer();
    std::vector<long long> at;
    std::function<void()> tick = [&] {
        at.push_back(to_epoch_ms(time.now()));
        t->arm(250ms, tick);
    };
    t->arm(250ms, tick);
    time.advance(1s);
    CHECK(at == std::vector<long long>{250, 500, 750, 1000});
}

TEST_CASE("a wall-clock jump keeps the timers' remaining durations") {
    SimulatedTimeSystem time(from_epoch_ms(0));
    auto t = time.make_timer();
    long long fired_at = -1;
    t->arm(100ms, [&] { fired_at = to_epoch_ms(time.now()); });
    time.advance(40ms);
    time.set_wall_clock(from_epoch_ms(1'000'000));
    time.advance(59ms);
    CHECK(fired_at == -1);
    time.advance(1ms);
    CHECK(fired_at == 1'000'060);
}
