#include "pvfleet/modbus/scan.hpp"

namespace pvfleet::modbus {

ScanResult scan_units(ModbusBus& bus, const ScanOptions& options, const std::function<bool()>& cancelled) {
    ScanResult out;
    out.endpoint = bus.describe();
    int consecutive_link_errors = 0;
    for (uint8_t unit : options.units) {
        if (cancelled && cancelled()) break;
        auto r = bus.read_registers(unit, options.kind, options.address, 1);
        ScanHit hit{unit, {}, {}};
        if (r) {
            hit.answer = "data";
            hit.detail = "register " + std::to_string(options.address) + " = " + std::to_string(r->front());
        } else if (r.error().kind == ErrorKind::rejected || r.error().kind == ErrorKind::busy) {
            hit.answer = "exception";
            const auto& m = r.error().message;
            const auto colon = m.rfind(": ");
            hit.detail = m.substr(colon == std::string::npos ? 0 : colon + 2);
        } else {
            if (r.error().kind == ErrorKind::io) {
                if (out.link_error.empty()) out.link_error = r.error().message;  // the connect error itself
                if (++consecutive_link_errors >= 3) {
                    out.link_down = true;
                    break;
                }
            } else {
                consecutive_link_errors = 0;
            }
            continue;
        }
        consecutive_link_errors = 0;
        out.found.push_back(std::move(hit));
    }
    return out;
}

SessionTiming scan_timing(Millis timeout) {
    SessionTiming timing;
    timing.timeout_min = timing.timeout_max = timing.timeout_initial = timeout;
    timing.retries = 0;
    timing.pause_after_connect = Millis{200};
    timing.pause_between_units = Millis{20};
    timing.reconnect_backoff_min = Millis{1};
    timing.reconnect_backoff_max = Millis{1};
    return timing;
}

}  // namespace pvfleet::modbus
