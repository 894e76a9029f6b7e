#pragma once
#include <string>

namespace pvfleet::protocol {
// zlib stream of `json_text`; empty only if zlib fails (out of memory).
std::string deflate_payload(const std::string& json_text);
}  // namespace pvfleet::protocol
