// Plain JSON or a zlib stream, told apart by the first byte; inflation is bounded by kMaxInflatedBytes.
#include <zlib.h>

#include <algorithm>
#include <cstdio>

#include "pvfleet/protocol/codec.hpp"

namespace pvfleet::protocol {
namespace {
constexpr unsigned char kZlibMarker = 0x78;

std::string hex_byte(unsigned char b) {
    char buf[8];
    std::snprintf(buf, sizeof buf, "0x%02x", b);
    return buf;
}
}  // namespace

bool is_compressed(std::string_view payload) {
    return !payload.empty() && static_cast<unsigned char>(payload.front()) == kZlibMarker;
}

Result<std::string> unframe(std::string_view payload) {
    if (payload.size() > kMaxPayloadBytes) {
        return Error::at("payload", std::to_string(payload.size()) + " bytes exceeds the " +
                                        std::to_string(kMaxPayloadBytes) + "-byte limit");
    }
    if (payload.empty()) return Error::at("payload", "empty");
    if (payload.front() == '{') return std::string(payload);
    if (!is_compressed(payload)) {
        return Error::at("payload", "first byte " + hex_byte(static_cast<unsigned char>(payload.front())) +
                                        " is neither '{' (JSON) nor 0x78 (zlib)");
    }
    z_stream zs{};
    if (inflateInit(&zs) != Z_OK) return Error::at("payload", "zlib inflateInit failed", ErrorKind::io);
    zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(payload.data()));
    zs.avail_in = static_cast<uInt>(payload.size());
    std::string out;
    int rc = Z_OK;
    constexpr std::size_t kChunk = 64 * 1024;
    while (rc == Z_OK) {
        if (out.size() >= kMaxInflatedBytes + 1) break;
        const std::size_t old = out.size();
        const std::size_t room = std::min(kChunk, kMaxInflatedBytes + 1 - old);
        out.resize(old + room);
        zs.next_out = reinterpret_cast<Bytef*>(out.data() + old);
        zs.avail_out = static_cast<uInt>(room);
        rc = inflate(&zs, Z_NO_FLUSH);
        out.resize(old + (room - zs.avail_out));
        if (rc == Z_BUF_ERROR && zs.avail_in == 0) break;  // input ended before the stream did
    }
    const bool ended = rc == Z_STREAM_END;
    const bool trailing = ended && zs.avail_in != 0;
    const std::string zmsg = zs.msg ? zs.msg : "";
    inflateEnd(&zs);
    if (out.size() > kMaxInflatedBytes) {
        return Error::at("payload", "inflated size exceeds the " + std::to_string(kMaxInflatedBytes) + "-byte limit");
    }
    if (!ended) {
        return Error::at("payload", "corrupt zlib stream" + (zmsg.empty() ? std::string(" (truncated)") : " (" + zmsg + ")"));
    }
    if (trailing) return Error::at("payload", "trailing bytes after the zlib stream");
    if (out.empty() || out.front() != '{') return Error::at("payload", "inflated content is not a JSON object");
    return out;
}

std::string deflate_payload(std::string_view json_text) {
    uLongf bound = compressBound(static_cast<uLong>(json_text.size()));
    std::string out(bound, '\0');
    // Level 6 (zlib's default): nearly all of level 9's gain at a fraction of the CPU on an ARM gateway.
    const int rc = compress2(reinterpret_cast<Bytef*>(out.data()), &bound,
                             reinterpret_cast<const Bytef*>(json_text.data()), static_cast<uLong>(json_text.size()), 6);
    if (rc != Z_OK) return {};
    out.resize(bound);
    return out;
}

}  // namespace pvfleet::protocol
