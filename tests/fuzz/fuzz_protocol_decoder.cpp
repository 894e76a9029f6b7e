// libFuzzer target for the protocol decoder. Properties checked on every input:
//  - no decoder crashes, leaks, hangs or hits undefined behaviour on any bytes (sanitizers);
//  - every failure carries a message;
//  - whatever decodes re-encodes (plain and compressed) and decodes back to the same value.
// Inputs starting with '{' are also fed through the zlib framing so the JSON decoder is reached behind it.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "pvfleet/protocol/codec.hpp"

using namespace pvfleet::protocol;

namespace {
[[noreturn]] void fail(const char* what, const std::string& detail) {
    std::fprintf(stderr, "fuzz_protocol_decoder: %s: %s\n", what, detail.c_str());
    std::abort();
}

template <class R>
void expect_message(const R& r) {
    if (!r.ok() && r.error().message.empty()) fail("error without a message", "");
}

void check(std::string_view payload) {
    expect_message(decode_telemetry(payload));
    expect_message(decode_ticket_event(payload));
    expect_message(decode_status(payload));
    expect_message(decode_command(payload));
    expect_message(decode_command_ack(payload));
    auto message = decode(payload);
    expect_message(message);
    if (!message.ok()) return;
    for (bool compress : {false, true}) {
        auto encoded = encode(*message, EncodeOptions{compress});
        if (!encoded.ok()) {
            // A compressed payload may inflate to more than fits plain on the wire; anything else is a bug.
            if (encoded.error().message.find("-byte limit") != std::string::npos) continue;
            fail("decoded message does not re-encode", encoded.error().message);
        }
        auto again = decode(*encoded);
        if (!again.ok()) fail("re-encoded message does not decode", again.error().message);
        if (!(*again == *message)) fail("round trip changed the message", *encoded);
    }
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view payload(reinterpret_cast<const char*>(data), size);
    check(payload);
    if (!payload.empty() && payload.front() == '{') check(deflate_payload(payload));
    return 0;
}
