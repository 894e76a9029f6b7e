// Plain JSON or a zlib stream, told apart by the first byte; inflation is bounded by kMaxInflatedBytes.
#include <zlib.h>

#include <algorithm>
#include <cstdio>

#include "pvfleet/protocol/codec.hpp"
#include "framing.hpp"

namespace pvfleet::protocol {
namespace {
constexpr unsigned char kZlibMarker = 0x78;
// Level 6 (zlib's default): nearly all of level 9's gain at a fraction of the CPU on an ARM gateway.
constexpr int kLevel = 6;

std::string hex_byte(unsigned char b) {
    char buf[8];
    std::snprintf(buf, sizeof buf, "0x%02x", b);
    return buf;
}

// One deflate and one inflate state per thread, reset between payloads instead of set up anew: for a payload
// of a few kB, deflateInit (allocating and clearing ~256 kB of window and hash tables) cost several times the
// compression itself, which made re-flagging a backlog message CPU-bound. deflateReset yields exactly the
// bytes a fresh stream (compress2) would.
class Deflater {
public:
    // window_bits 15: a zlib stream; -15: raw deflate (no header, no checksum).
    explicit Deflater(int window_bits = 15) {
        ok_ = deflateInit2(&zs_, kLevel, Z_DEFLATED, window_bits, 8, Z_DEFAULT_STRATEGY) == Z_OK;
    }
    ~Deflater() {
        if (ok_) deflateEnd(&zs_);
    }
    Deflater(const Deflater&) = delete;
    Deflater& operator=(const Deflater&) = delete;
    z_stream* get() { return ok_ && deflateReset(&zs_) == Z_OK ? &zs_ : nullptr; }

private:
    z_stream zs_{};
    bool ok_ = false;
};

class Inflater {
public:
    explicit Inflater(int window_bits = 15) { ok_ = inflateInit2(&zs_, window_bits) == Z_OK; }
    ~Inflater() {
        if (ok_) inflateEnd(&zs_);
    }
    Inflater(const Inflater&) = delete;
    Inflater& operator=(const Inflater&) = delete;
    z_stream* get() { return ok_ && inflateReset(&zs_) == Z_OK ? &zs_ : nullptr; }

private:
    z_stream zs_{};
    bool ok_ = false;
};
// Head-split framing: zlib header (2), stored block header (1: BFINAL=0, BTYPE=00), LEN and NLEN (2 + 2,
// little-endian), the head, then a raw deflate stream with the rest, then the Adler-32 of the whole text.
constexpr std::size_t kSplitPrefix = 7;
constexpr std::size_t kMaxStoredBlock = 65535;

void put_be32(std::string& out, uLong v) {
    for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<char>((v >> shift) & 0xff));
}

unsigned byte_at(std::string_view s, std::size_t i) { return static_cast<unsigned char>(s[i]); }

uLong adler_of(std::string_view text) {
    return adler32(adler32(0L, Z_NULL, 0), reinterpret_cast<const Bytef*>(text.data()), static_cast<uInt>(text.size()));
}
}  // namespace

bool is_compressed(std::string_view payload) {
    return !payload.empty() && static_cast<unsigned char>(payload.front()) == kZlibMarker;
}

Result<std::string_view> unframe_view(std::string_view payload) {
    if (payload.size() > kMaxPayloadBytes) {
        return Error::at("payload", std::to_string(payload.size()) + " bytes exceeds the " +
                                        std::to_string(kMaxPayloadBytes) + "-byte limit");
    }
    if (payload.empty()) return Error::at("payload", "empty");
    if (payload.front() == '{') return payload;
    if (!is_compressed(payload)) {
        return Error::at("payload", "first byte " + hex_byte(static_cast<unsigned char>(payload.front())) +
                                        " is neither '{' (JSON) nor 0x78 (zlib)");
    }
    thread_local Inflater inflater;
    z_stream* zs = inflater.get();
    if (!zs) return Error::at("payload", "zlib inflateInit failed", ErrorKind::io);
    zs->next_in = reinterpret_cast<Bytef*>(const_cast<char*>(payload.data()));
    zs->avail_in = static_cast<uInt>(payload.size());
    // The output buffer is kept per thread and its size only grows (geometrically, from a guess: columnar JSON
    // inflates 3 to 6 times), so a steady stream of payloads inflates without allocating or clearing memory:
    // a fresh string per payload cost a large-block malloc each time, which also consolidated the heap.
    // One grown past kKeepBytes by an outsized payload is given back at the next call.
    constexpr std::size_t kKeepBytes = 256 * 1024;
    constexpr std::size_t kLimit = kMaxInflatedBytes + 1;  // one byte over the limit tells "too large"
    thread_local std::string buffer;
    if (buffer.size() > kKeepBytes) std::string().swap(buffer);
    const std::size_t guess = std::clamp<std::size_t>(payload.size() * 8, 1024, 64 * 1024);
    std::size_t produced = 0;
    int rc = Z_OK;
    while (rc == Z_OK) {
        if (produced >= kLimit) break;
        if (produced == buffer.size()) buffer.resize(std::min(std::max(buffer.size() * 2, guess), kLimit));
        zs->next_out = reinterpret_cast<Bytef*>(buffer.data() + produced);
        zs->avail_out = static_cast<uInt>(buffer.size() - produced);
        rc = inflate(zs, Z_NO_FLUSH);
        produced = buffer.size() - zs->avail_out;
        if (rc == Z_BUF_ERROR && zs->avail_in == 0) break;  // input ended before the stream did
    }
    const std::string_view out(buffer.data(), produced);
    const bool ended = rc == Z_STREAM_END;
    const bool trailing = ended && zs->avail_in != 0;
    const std::string zmsg = zs->msg ? zs->msg : "";
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

Result<std::string> unframe(std::string_view payload) {
    auto text = unframe_view(payload);
    if (!text) return text.error();
    return std::string(*text);
}

std::string deflate_payload(std::string_view json_text) {
    thread_local Deflater deflater;
    z_stream* zs = deflater.get();
    if (!zs) return {};
    std::string out(deflateBound(zs, static_cast<uLong>(json_text.size())), '\0');
    zs->next_in = reinterpret_cast<Bytef*>(const_cast<char*>(json_text.data()));
    zs->avail_in = static_cast<uInt>(json_text.size());
    zs->next_out = reinterpret_cast<Bytef*>(out.data());
    zs->avail_out = static_cast<uInt>(out.size());
    if (deflate(zs, Z_FINISH) != Z_STREAM_END) return {};
    out.resize(zs->total_out);
    return out;
}

std::string deflate_payload_split(std::string_view json_text, std::size_t head) {
    if (head > json_text.size() || head > kMaxStoredBlock) return {};
    thread_local Deflater raw(-15);
    z_stream* zs = raw.get();
    if (!zs) return {};
    const std::string_view rest = json_text.substr(head);
    std::string out;
    out.reserve(kSplitPrefix + head + deflateBound(zs, static_cast<uLong>(rest.size())) + 4);
    out += "\x78\x9c";  // the header deflate_payload() writes (32 KiB window, default level)
    out.push_back('\0');
    const auto len = static_cast<unsigned>(head);
    for (unsigned v : {len, ~len & 0xffffu}) {
        out.push_back(static_cast<char>(v & 0xff));
        out.push_back(static_cast<char>((v >> 8) & 0xff));
    }
    out.append(json_text.substr(0, head));
    const std::size_t at = out.size();
    out.resize(at + deflateBound(zs, static_cast<uLong>(rest.size())));
    zs->next_in = reinterpret_cast<Bytef*>(const_cast<char*>(rest.data()));
    zs->avail_in = static_cast<uInt>(rest.size());
    zs->next_out = reinterpret_cast<Bytef*>(out.data() + at);
    zs->avail_out = static_cast<uInt>(out.size() - at);
    if (deflate(zs, Z_FINISH) != Z_STREAM_END) return {};
    out.resize(at + zs->total_out);
    put_be32(out, adler_of(json_text));
    return out;
}

std::optional<std::string_view> split_payload_head(std::string_view payload) {
    if (payload.size() < kSplitPrefix + 4 || !is_compressed(payload)) return std::nullopt;
    if ((byte_at(payload, 0) * 256 + byte_at(payload, 1)) % 31 != 0 || (byte_at(payload, 1) & 0x20) != 0)
        return std::nullopt;  // not a zlib header, or one with a preset dictionary
    if (byte_at(payload, 2) != 0) return std::nullopt;  // the first block is not a non-final stored block
    const unsigned len = byte_at(payload, 3) | (byte_at(payload, 4) << 8);
    const unsigned nlen = byte_at(payload, 5) | (byte_at(payload, 6) << 8);
    if ((len ^ 0xffffu) != nlen || kSplitPrefix + len + 4 > payload.size()) return std::nullopt;
    return payload.substr(kSplitPrefix, len);
}

namespace {
uLong stored_adler_of(std::string_view payload) {
    uLong v = 0;
    for (std::size_t i = payload.size() - 4; i < payload.size(); ++i) v = (v << 8) | byte_at(payload, i);
    return v;
}

// The compressed rest of a head-split payload (between the head and the checksum).
std::string_view compressed_rest(std::string_view payload, std::string_view head) {
    return payload.substr(kSplitPrefix + head.size(), payload.size() - kSplitPrefix - head.size() - 4);
}
}  // namespace

std::optional<SplitRest> split_payload_rest(std::string_view payload) {
    const auto head = split_payload_head(payload);
    if (!head) return std::nullopt;
    const std::string_view rest = compressed_rest(payload, *head);
    thread_local Inflater raw(-15);
    thread_local std::string text;
    z_stream* zs = raw.get();
    if (!zs) return std::nullopt;
    zs->next_in = reinterpret_cast<Bytef*>(const_cast<char*>(rest.data()));
    zs->avail_in = static_cast<uInt>(rest.size());
    uLong rest_adler = adler32(0L, Z_NULL, 0);
    int rc = Z_OK;
    while (rc == Z_OK) {
        if (text.size() < 16 * 1024) text.resize(16 * 1024);
        zs->next_out = reinterpret_cast<Bytef*>(text.data());
        zs->avail_out = static_cast<uInt>(text.size());
        rc = inflate(zs, Z_NO_FLUSH);
        const std::size_t produced = text.size() - zs->avail_out;
        rest_adler = adler32(rest_adler, reinterpret_cast<const Bytef*>(text.data()), static_cast<uInt>(produced));
        if (zs->total_out > kMaxInflatedBytes) return std::nullopt;
        if (rc == Z_BUF_ERROR && zs->avail_in == 0) break;
    }
    if (rc != Z_STREAM_END || zs->avail_in != 0) return std::nullopt;  // corrupt, truncated or trailing bytes
    const SplitRest sum{static_cast<std::uint32_t>(rest_adler), static_cast<std::uint32_t>(zs->total_out)};
    if (adler32_combine(adler_of(*head), sum.adler, static_cast<z_off_t>(sum.length)) != stored_adler_of(payload))
        return std::nullopt;
    return sum;
}

std::optional<std::string> replace_payload_head(std::string_view payload, std::string_view new_head, SplitRest rest) {
    const auto head = split_payload_head(payload);
    if (!head || new_head.size() > kMaxStoredBlock) return std::nullopt;
    const auto rest_len = static_cast<z_off_t>(rest.length);
    // Cheap (a few dozen bytes hashed): catches a sum kept with the wrong row or a payload rewritten without it.
    if (adler32_combine(adler_of(*head), rest.adler, rest_len) != stored_adler_of(payload)) return std::nullopt;
    const std::string_view compressed = compressed_rest(payload, *head);
    std::string out;
    out.reserve(kSplitPrefix + new_head.size() + compressed.size() + 4);
    out.append(payload.substr(0, 3));
    const auto len = static_cast<unsigned>(new_head.size());
    for (unsigned v : {len, ~len & 0xffffu}) {
        out.push_back(static_cast<char>(v & 0xff));
        out.push_back(static_cast<char>((v >> 8) & 0xff));
    }
    out.append(new_head);
    out.append(compressed);
    put_be32(out, adler32_combine(adler_of(new_head), rest.adler, rest_len));
    return out;
}

SplitRest split_rest_of_text(std::string_view rest_text) {
    return SplitRest{static_cast<std::uint32_t>(adler_of(rest_text)), static_cast<std::uint32_t>(rest_text.size())};
}

std::optional<std::string> replace_payload_head(std::string_view payload, std::string_view new_head) {
    const auto rest = split_payload_rest(payload);
    if (!rest) return std::nullopt;
    return replace_payload_head(payload, new_head, *rest);
}

}  // namespace pvfleet::protocol
