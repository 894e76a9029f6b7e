#pragma once
// Framing internals shared by the codec (read_helpers.cpp, encode.cpp) and framing.cpp.
#include <string_view>

#include "pvfleet/protocol/codec.hpp"

#include "pvfleet/util/result.hpp"

namespace pvfleet::protocol {

// unframe() without the copy: the JSON text is `payload` itself when plain, else a view of a per-thread buffer
// that stays valid until the next call on the same thread. Same checks and errors as unframe().
Result<std::string_view> unframe_view(std::string_view payload);

// The SplitRest of the text after a head: what split_payload_rest() finds by inflating, from the text itself.
SplitRest split_rest_of_text(std::string_view rest_text);

}  // namespace pvfleet::protocol
