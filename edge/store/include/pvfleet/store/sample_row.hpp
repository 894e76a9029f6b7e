#pragma once
// The gateway's raw telemetry row body: a compact binary encoding of one domain::Sample (its device and time are
// the row's key). About a fifth of the JSON text it replaces, so a row fits inside one 1 KiB page — the JSON
// spilled into an overflow page of its own — and each poll cycle's commit writes fewer pages (flash wear,
// docs/performance.md). Lossless: every number decodes to the same double, bit for bit.
//
// Layout (version 1): 0x01, then the state (a name, or 0 for none), the scalars (count, then name and number
// each), the arrays (count, then name, length and numbers — a number may be absent), the events (count, names).
// A name is an index into a fixed table of the canonical names (append-only, never reordered) or 0 followed by
// its text; a number is a tag and its payload: a whole number or a decimal (n / 10^k, or n * 0.1^k as register
// scaling computes it) as a zig-zag varint, else the 8 bytes of the double. Rows written before this encoding
// hold the JSON text (sample_to_json); the reader takes both.
#include <string>
#include <string_view>

#include "pvfleet/domain/sample.hpp"
#include "pvfleet/util/result.hpp"

namespace pvfleet::store {

std::string encode_sample_row(const domain::Sample& s);
// `device_id` and `t` come from the row's key.
Result<domain::Sample> decode_sample_row(std::string_view body, const std::string& device_id, TimePoint t);
// A stored body of either kind: JSON text (`is_text`, rows written before) or the compact encoding.
Result<domain::Sample> decode_stored_sample(std::string_view body, bool is_text, const std::string& device_id, TimePoint t);

}  // namespace pvfleet::store
