#pragma once
// Text forms of binary values (base64, hex), hashing and randomness for this module.
#include <optional>
#include <string>
#include <string_view>

namespace pvfleet::records::detail {

std::string base64_encode(std::string_view bytes);
// nullopt unless the text is canonical padded base64 (RFC 4648 standard alphabet).
std::optional<std::string> base64_decode(std::string_view text);
std::string hex_encode(std::string_view bytes);
std::optional<std::string> hex_decode(std::string_view text);  // either case
std::string sha256_hex(std::string_view bytes);
// Cryptographically secure (OpenSSL RAND_bytes); throws when the RNG fails, which is not an expected case.
std::string random_bytes(std::size_t n);

}  // namespace pvfleet::records::detail
