#include "pvfleet/records/crypto.hpp"

#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <stdexcept>

#include "encoding.hpp"
#include "pvfleet/util/log.hpp"

namespace pvfleet::records {
namespace {

constexpr std::size_t kNonceBytes = 12;
constexpr std::size_t kTagBytes = 16;

struct CipherCtxFree {
    void operator()(EVP_CIPHER_CTX* ctx) const { EVP_CIPHER_CTX_free(ctx); }
};
using CipherCtx = std::unique_ptr<EVP_CIPHER_CTX, CipherCtxFree>;

CipherCtx new_ctx() {
    CipherCtx ctx(EVP_CIPHER_CTX_new());
    if (!ctx) throw std::bad_alloc();
    return ctx;
}

const unsigned char* bytes(std::string_view s) {
    return reinterpret_cast<const unsigned char*>(s.data());
}
unsigned char* bytes(std::string& s) {
    return reinterpret_cast<unsigned char*>(s.data());
}

Result<std::array<unsigned char, 32>> parse_key(const std::string& path, std::string text) {
    std::array<unsigned char, 32> key{};
    if (text.size() == key.size()) {  // raw bytes
        std::memcpy(key.data(), text.data(), key.size());
        OPENSSL_cleanse(text.data(), text.size());
        return key;
    }
    if (!text.empty() && text.back() == '\n') text.pop_back();
    if (!text.empty() && text.back() == '\r') text.pop_back();
    if (text.size() != 2 * key.size())
        return Error{path + ": not a key (expected 32 raw bytes or 64 hex characters, found " +
                     std::to_string(text.size()) + " bytes)"};
    auto raw = detail::hex_decode(text);
    OPENSSL_cleanse(text.data(), text.size());
    if (!raw) return Error{path + ": not a key (64 characters, but not all hex digits)"};
    std::memcpy(key.data(), raw->data(), key.size());
    OPENSSL_cleanse(raw->data(), raw->size());
    return key;
}

}  // namespace

FieldCipher::~FieldCipher() {
    OPENSSL_cleanse(key_.data(), key_.size());
}

FieldCipher FieldCipher::from_key(std::array<unsigned char, 32> key) {
    FieldCipher cipher(key);
    OPENSSL_cleanse(key.data(), key.size());
    return cipher;
}

Result<FieldCipher> FieldCipher::from_key_file(const std::string& path) {
    std::error_code ec;
    if (!std::filesystem::exists(path, ec)) return Error{path + ": key file not found", ErrorKind::not_found};
    std::ifstream in(path, std::ios::binary);
    if (!in) return Error{path + ": cannot read key file: " + std::strerror(errno), ErrorKind::io};
    std::ostringstream buffer;
    buffer << in.rdbuf();
    struct stat st {};
    // The key protects every customer's personal data: say so when others can read it.
    if (::stat(path.c_str(), &st) == 0 && (st.st_mode & (S_IRWXG | S_IRWXO)) != 0)
        PVF_LOG(warn, "records", path << ": key file is readable by group or others (chmod 600 it)");
    auto key = parse_key(path, buffer.str());
    if (!key) return key.error();
    return from_key(*key);
}

Result<FieldCipher> FieldCipher::load_or_create(const std::string& path) {
    // O_EXCL: two processes starting together must not both write a key (one would lose its data).
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
        if (errno == EEXIST) return from_key_file(path);
        return Error{path + ": cannot create key file: " + std::strerror(errno), ErrorKind::io};
    }
    std::string raw = detail::random_bytes(32);
    std::string text = detail::hex_encode(raw) + "\n";
    std::array<unsigned char, 32> key{};
    std::memcpy(key.data(), raw.data(), key.size());
    OPENSSL_cleanse(raw.data(), raw.size());
    const bool written = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
    const bool synced = ::fsync(fd) == 0;
    OPENSSL_cleanse(text.data(), text.size());
    ::close(fd);
    if (!written || !synced) {
        ::unlink(path.c_str());
        return Error{path + ": cannot write key file: " + std::strerror(errno), ErrorKind::io};
    }
    PVF_LOG(warn, "records",
            path << ": created a new field encryption key; back it up: without it the personal customer data "
                    "cannot be read");
    return from_key(key);
}

std::string FieldCipher::encrypt(std::string_view plaintext) const {
    if (plaintext.empty()) return {};
    const std::string nonce = detail::random_bytes(kNonceBytes);
    std::string out(kNonceBytes + plaintext.size() + kTagBytes, '\0');
    std::memcpy(out.data(), nonce.data(), kNonceBytes);
    auto ctx = new_ctx();
    int length = 0;
    if (EVP_EncryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, nullptr, nullptr) != 1 ||
        EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_IVLEN, static_cast<int>(kNonceBytes), nullptr) != 1 ||
        EVP_EncryptInit_ex(ctx.get(), nullptr, nullptr, key_.data(), bytes(nonce)) != 1 ||
        EVP_EncryptUpdate(ctx.get(), bytes(out) + kNonceBytes, &length, bytes(plaintext),
                          static_cast<int>(plaintext.size())) != 1 ||
        EVP_EncryptFinal_ex(ctx.get(), bytes(out) + kNonceBytes + length, &length) != 1 ||
        EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, static_cast<int>(kTagBytes),
                            bytes(out) + kNonceBytes + plaintext.size()) != 1)
        throw std::runtime_error("AES-256-GCM encryption failed");
    return detail::base64_encode(out);
}

Result<std::string> FieldCipher::decrypt(std::string_view encoded) const {
    if (encoded.empty()) return std::string();
    auto raw = detail::base64_decode(encoded);
    if (!raw) return Error{"encrypted field: not base64"};
    if (raw->size() < kNonceBytes + kTagBytes) return Error{"encrypted field: too short"};
    const std::size_t text_bytes = raw->size() - kNonceBytes - kTagBytes;
    std::string plain(text_bytes, '\0');
    std::string tag = raw->substr(kNonceBytes + text_bytes);
    auto ctx = new_ctx();
    int length = 0;
    if (EVP_DecryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, nullptr, nullptr) != 1 ||
        EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_IVLEN, static_cast<int>(kNonceBytes), nullptr) != 1 ||
        EVP_DecryptInit_ex(ctx.get(), nullptr, nullptr, key_.data(), bytes(*raw)) != 1 ||
        EVP_DecryptUpdate(ctx.get(), bytes(plain), &length, bytes(*raw) + kNonceBytes,
                          static_cast<int>(text_bytes)) != 1 ||
        EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, static_cast<int>(kTagBytes), bytes(tag)) != 1)
        throw std::runtime_error("AES-256-GCM decryption setup failed");
    // Only the tag check can fail here: the data was changed or was encrypted under another key.
    if (EVP_DecryptFinal_ex(ctx.get(), bytes(plain) + length, &length) != 1) {
        OPENSSL_cleanse(plain.data(), plain.size());
        return Error{"encrypted field: authentication failed (data changed or another key)"};
    }
    return plain;
}

std::string FieldCipher::check_value() const {
    static constexpr std::string_view kLabel = "pvfleet field key check v1";
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int mac_length = 0;
    if (HMAC(EVP_sha256(), key_.data(), static_cast<int>(key_.size()), bytes(kLabel), kLabel.size(), mac,
             &mac_length) == nullptr)
        throw std::runtime_error("HMAC-SHA256 failed");
    return detail::hex_encode(std::string_view(reinterpret_cast<const char*>(mac), mac_length));
}

std::string FieldCipher::blind_index(std::string_view purpose, std::string_view value) const {
    // A key of its own (HMAC of a label under the field key), so an index value never equals a check value.
    static constexpr std::string_view kLabel = "pvfleet blind index v1";
    unsigned char index_key[EVP_MAX_MD_SIZE];
    unsigned int index_key_length = 0;
    if (HMAC(EVP_sha256(), key_.data(), static_cast<int>(key_.size()), bytes(kLabel), kLabel.size(), index_key,
             &index_key_length) == nullptr)
        throw std::runtime_error("HMAC-SHA256 failed");
    // The purpose and a separator first: "phone" and "email" values never share an index.
    std::string message(purpose);
    message += '\x1f';
    message += value;
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int mac_length = 0;
    if (HMAC(EVP_sha256(), index_key, static_cast<int>(index_key_length), bytes(message), message.size(), mac,
             &mac_length) == nullptr)
        throw std::runtime_error("HMAC-SHA256 failed");
    return detail::hex_encode(std::string_view(reinterpret_cast<const char*>(mac), mac_length));
}

}  // namespace pvfleet::records
