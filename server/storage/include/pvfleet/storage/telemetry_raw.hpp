#pragma once
// The layout of table telemetry_raw, which ingest writes and the telemetry queries read.
#include <cstdint>

namespace pvfleet::storage {

// Raw readings are stored one row per device and batch; no row spans this long or more from its first reading
// to its last, so a time-range query finds every row it needs among those starting at most this long before
// its range.
inline constexpr std::int64_t kRawRowSpanMs = 60 * 60 * 1000;

}  // namespace pvfleet::storage
