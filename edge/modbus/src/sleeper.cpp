#include "pvfleet/modbus/sleeper.hpp"

#include <thread>

namespace pvfleet::modbus {

void SystemSleeper::sleep_for(Millis duration) {
    if (duration.count() > 0) {
        std::this_thread::sleep_for(duration);
    }
}

}  // namespace pvfleet::modbus
