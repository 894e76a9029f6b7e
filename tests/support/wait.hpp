#pragma once
// Waiting in tests for something to happen (a row appearing, a port answering, a process reaching a state),
// instead of sleeping a fixed time and hoping it did.
#include <chrono>
#include <functional>

namespace pvfleet::test {

// Checks `done()` every `step` until it is true or the timeout passes; returns done()'s last answer. The
// condition is checked once more at the deadline, so a slow machine never fails a test that is only late.
bool wait_until(const std::function<bool()>& done, std::chrono::milliseconds timeout,
                std::chrono::milliseconds step = std::chrono::milliseconds{20});

}  // namespace pvfleet::test
