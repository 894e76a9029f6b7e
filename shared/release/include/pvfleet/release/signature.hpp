#pragma once
// Release signatures (docs/updates.md, "Signing a release"): Ed25519 over the 32 raw bytes of the file's SHA-256,
// kept beside the file as FILE.sig — the 64-byte signature in base64 on one line, as `scripts/sign-release`
// writes it with the OpenSSL command line. Public keys are PEM files (SubjectPublicKeyInfo), one key each, in a
// folder: /usr/share/pvfleet/release-keys on a gateway (shipped in pvfleet-edge), `releases.keys_dir` on the
// server. A signature is good when any of the trusted keys verifies it, so a new key can be shipped before the
// old one is retired.
#include <array>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "pvfleet/util/result.hpp"

namespace pvfleet::release {

using Digest = std::array<std::uint8_t, 32>;

// Incremental SHA-256, for bodies read or written in pieces (an upload, a resumed download).
class Sha256 {
public:
    Sha256();
    ~Sha256();
    Sha256(const Sha256&) = delete;
    Sha256& operator=(const Sha256&) = delete;
    void update(std::string_view bytes);
    Digest finish();

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

// The SHA-256 of a whole file, read in 64 kB pieces.
Result<Digest> sha256_file(const std::filesystem::path& file);
std::string to_hex(const Digest& digest);
// 64 hex digits (either case) -> digest; errors name `field`.
Result<Digest> digest_from_hex(std::string_view hex, const std::string& field);

std::string base64_encode(std::string_view bytes);
// Standard alphabet with padding; blanks and newlines around it ignored.
Result<std::string> base64_decode(std::string_view text);

// A trusted Ed25519 public key and where it came from (named in messages).
struct PublicKey {
    std::string name;  // the file name, or what the caller called it
    std::shared_ptr<void> key;  // EVP_PKEY
};
// One PEM public key; anything but Ed25519 is refused.
Result<PublicKey> load_public_key(std::string_view pem, const std::string& name);
// Every *.pem in `dir` (sorted by name); an empty folder or a bad file is an error naming it.
Result<std::vector<PublicKey>> load_public_keys(const std::filesystem::path& dir);

// The signature text of a FILE.sig (base64 of 64 bytes) -> its bytes; errors name `field`.
Result<std::string> parse_signature(std::string_view text, const std::string& field);

// Whether one of `keys` signed `digest`. Returns the name of the key that did; the error says that no trusted key
// verifies it (kind rejected) and lists the keys tried.
Result<std::string> verify_digest(const Digest& digest, std::string_view signature,
                                  const std::vector<PublicKey>& keys);

// Signs `digest` with an Ed25519 private key in PEM (what scripts/sign-release does with the command line; the
// tests and the bench sign with it). Returns the 64-byte signature.
Result<std::string> sign_digest(const Digest& digest, std::string_view private_key_pem);

}  // namespace pvfleet::release
