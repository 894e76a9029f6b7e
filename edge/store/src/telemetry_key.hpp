#pragma once
// The key of a raw telemetry row (schema version 3 of the gateway store, docs/performance.md "Gateway storage"):
// `telemetry(key INTEGER PRIMARY KEY, body)` with key = t_ms * 1024 + the device's number
// (`telemetry_devices(no, device_id)`, 1..1023, given on first insert, never reused). Rows are thus ordered by
// time, then device: one poll cycle's rows of all devices are appended to the table's right-most leaf (SQLite
// balances such appends without touching sibling pages), the oldest rows of the site are the first ones, and a
// device's rows over a time range are a scan of that range filtered by number (a gateway has few devices).
#include <climits>

namespace pvfleet::store::telemetry_key {

constexpr long long kDeviceSlots = 1024;  // a power of two: `key & (kDeviceSlots - 1)` is the device's number
constexpr long long kMaxDevices = kDeviceSlots - 1;

// The first key at or after `t_ms` (device 0, unused); saturates at the ends of the range.
constexpr long long first_at(long long t_ms) {
    if (t_ms >= LLONG_MAX / kDeviceSlots) return LLONG_MAX;
    if (t_ms <= LLONG_MIN / kDeviceSlots) return LLONG_MIN;
    return t_ms * kDeviceSlots;
}

// The last key at or before `t_ms` (its last device slot); saturates.
constexpr long long last_at(long long t_ms) {
    const long long first = first_at(t_ms);
    return first == LLONG_MAX || first == LLONG_MIN ? first : first + (kDeviceSlots - 1);
}

constexpr long long make(long long t_ms, long long device_no) { return first_at(t_ms) + device_no; }

// Floor division and modulo: keys of times before 1970 decode too.
constexpr long long time_ms(long long key) {
    return key >= 0 ? key / kDeviceSlots : -((-(key + 1)) / kDeviceSlots) - 1;
}
constexpr long long device_no(long long key) { return key - time_ms(key) * kDeviceSlots; }

}  // namespace pvfleet::store::telemetry_key
