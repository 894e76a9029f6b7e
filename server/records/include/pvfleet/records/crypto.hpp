#pragma once
// Field encryption for personal customer data at rest: AES-256-GCM (OpenSSL EVP) with a fresh random 96-bit
// nonce per value, so equal plaintexts never give equal ciphertexts and any change to a stored value is
// detected on decryption.
#include <array>
#include <string>
#include <string_view>

#include "pvfleet/util/result.hpp"

namespace pvfleet::records {

class FieldCipher {
public:
    // The key file holds 32 raw bytes, or 64 hex characters optionally followed by a newline.
    static Result<FieldCipher> from_key_file(const std::string& path);
    // As from_key_file; when the file does not exist, writes a new random key (hex, mode 0600) first.
    static Result<FieldCipher> load_or_create(const std::string& path);
    static FieldCipher from_key(std::array<unsigned char, 32> key);

    FieldCipher(const FieldCipher&) = default;
    FieldCipher& operator=(const FieldCipher&) = default;
    ~FieldCipher();

    // base64(nonce 12 | ciphertext | tag 16); "" stays "" (an absent field is not worth a ciphertext).
    [[nodiscard]] std::string encrypt(std::string_view plaintext) const;
    // Fails (ErrorKind::invalid) when the text is not ours, was changed, or was written with another key.
    [[nodiscard]] Result<std::string> decrypt(std::string_view encoded) const;
    // HMAC-SHA256 of a fixed label under the key, hex: tells whether a key is the database's without storing
    // anything that helps recover the key (key_check.hpp).
    [[nodiscard]] std::string check_value() const;
    // HMAC-SHA256 of `purpose` and `value` under a key derived from this one, hex: an equality key for a
    // normalised personal value (a lead's phone number) that finds duplicates without storing the value.
    [[nodiscard]] std::string blind_index(std::string_view purpose, std::string_view value) const;

private:
    explicit FieldCipher(std::array<unsigned char, 32> key) : key_(key) {}
    std::array<unsigned char, 32> key_;
};

}  // namespace pvfleet::records
