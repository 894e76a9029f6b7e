#include "pvfleet/release/signature.hpp"

#include <openssl/evp.h>
#include <openssl/pem.h>

#include <algorithm>
#include <fstream>

namespace pvfleet::release {
namespace {

struct PkeyFree {
    void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
struct MdCtxFree {
    void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
};
struct BioFree {
    void operator()(BIO* b) const { BIO_free(b); }
};
using MdCtx = std::unique_ptr<EVP_MD_CTX, MdCtxFree>;

constexpr std::size_t kSignatureBytes = 64;

int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

int base64_value(char c) {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
}

std::shared_ptr<void> as_shared(EVP_PKEY* key) {
    return std::shared_ptr<void>(key, [](void* k) { EVP_PKEY_free(static_cast<EVP_PKEY*>(k)); });
}

}  // namespace

struct Sha256::Impl {
    MdCtx ctx{EVP_MD_CTX_new()};
};

Sha256::Sha256() : impl_(std::make_unique<Impl>()) {
    if (!impl_->ctx || EVP_DigestInit_ex(impl_->ctx.get(), EVP_sha256(), nullptr) != 1)
        throw std::runtime_error("SHA-256 is not available");
}
Sha256::~Sha256() = default;

void Sha256::update(std::string_view bytes) {
    EVP_DigestUpdate(impl_->ctx.get(), bytes.data(), bytes.size());
}

Digest Sha256::finish() {
    Digest out{};
    unsigned int n = 0;
    EVP_DigestFinal_ex(impl_->ctx.get(), out.data(), &n);
    return out;
}

Result<Digest> sha256_file(const std::filesystem::path& file) {
    std::ifstream in(file, std::ios::binary);
    if (!in) return Error{"'" + file.string() + "' cannot be read", ErrorKind::not_found};
    Sha256 hash;
    std::string buffer(64 * 1024, '\0');
    while (in) {
        in.read(buffer.data(), static_cast<std::streamsize>(buffer.size()));
        hash.update(std::string_view(buffer.data(), static_cast<std::size_t>(in.gcount())));
    }
    if (in.bad()) return Error{"'" + file.string() + "': read error", ErrorKind::io};
    return hash.finish();
}

std::string to_hex(const Digest& digest) {
    static constexpr char kHex[] = "0123456789abcdef";
    std::string out;
    out.reserve(64);
    for (const auto b : digest) {
        out += kHex[b >> 4];
        out += kHex[b & 0x0f];
    }
    return out;
}

Result<Digest> digest_from_hex(std::string_view hex, const std::string& field) {
    if (hex.size() != 64)
        return Error::at(field, "a SHA-256 is 64 hex digits, got " + std::to_string(hex.size()) + " characters");
    Digest out{};
    for (std::size_t i = 0; i < out.size(); ++i) {
        const int hi = hex_value(hex[2 * i]);
        const int lo = hex_value(hex[2 * i + 1]);
        if (hi < 0 || lo < 0) return Error::at(field, "not a hex digit at position " + std::to_string(2 * i + 1));
        out[i] = static_cast<std::uint8_t>(hi * 16 + lo);
    }
    return out;
}

std::string base64_encode(std::string_view bytes) {
    static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string out;
    std::size_t i = 0;
    for (; i + 3 <= bytes.size(); i += 3) {
        const auto n = (static_cast<unsigned>(static_cast<unsigned char>(bytes[i])) << 16) |
                       (static_cast<unsigned>(static_cast<unsigned char>(bytes[i + 1])) << 8) |
                       static_cast<unsigned char>(bytes[i + 2]);
        for (int s = 18; s >= 0; s -= 6) out += kAlphabet[(n >> s) & 63];
    }
    const std::size_t rest = bytes.size() - i;
    if (rest > 0) {
        unsigned n = static_cast<unsigned>(static_cast<unsigned char>(bytes[i])) << 16;
        if (rest == 2) n |= static_cast<unsigned>(static_cast<unsigned char>(bytes[i + 1])) << 8;
        out += kAlphabet[(n >> 18) & 63];
        out += kAlphabet[(n >> 12) & 63];
        out += rest == 2 ? kAlphabet[(n >> 6) & 63] : '=';
        out += '=';
    }
    return out;
}

Result<std::string> base64_decode(std::string_view text) {
    while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front()))) text.remove_prefix(1);
    while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) text.remove_suffix(1);
    if (text.size() % 4 != 0) return Error{"not base64 (length " + std::to_string(text.size()) + ")"};
    std::string out;
    for (std::size_t i = 0; i < text.size(); i += 4) {
        unsigned n = 0;
        int pad = 0;
        for (std::size_t j = 0; j < 4; ++j) {
            const char c = text[i + j];
            int v = 0;
            if (c == '=' && i + 4 == text.size() && j >= 2) {
                ++pad;
            } else {
                if (pad > 0 || (v = base64_value(c)) < 0) return Error{"not base64 (at character " + std::to_string(i + j + 1) + ")"};
            }
            n = (n << 6) | static_cast<unsigned>(v);
        }
        out += static_cast<char>((n >> 16) & 0xff);
        if (pad < 2) out += static_cast<char>((n >> 8) & 0xff);
        if (pad < 1) out += static_cast<char>(n & 0xff);
    }
    return out;
}

Result<PublicKey> load_public_key(std::string_view pem, const std::string& name) {
    std::unique_ptr<BIO, BioFree> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
    EVP_PKEY* key = bio ? PEM_read_bio_PUBKEY(bio.get(), nullptr, nullptr, nullptr) : nullptr;
    if (key == nullptr) return Error::at(name, "not a PEM public key");
    auto owned = as_shared(key);
    if (EVP_PKEY_id(key) != EVP_PKEY_ED25519) return Error::at(name, "not an Ed25519 key");
    return PublicKey{name, std::move(owned)};
}

Result<std::vector<PublicKey>> load_public_keys(const std::filesystem::path& dir) {
    std::error_code ec;
    std::vector<std::filesystem::path> files;
    for (const auto& entry : std::filesystem::directory_iterator(dir, ec))
        if (entry.path().extension() == ".pem") files.push_back(entry.path());
    if (ec) return Error{"release keys: '" + dir.string() + "': " + ec.message(), ErrorKind::not_found};
    std::sort(files.begin(), files.end());
    if (files.empty()) return Error{"release keys: no *.pem in '" + dir.string() + "'", ErrorKind::not_found};
    std::vector<PublicKey> keys;
    for (const auto& f : files) {
        std::ifstream in(f, std::ios::binary);
        const std::string pem((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
        PVF_TRY(auto key, load_public_key(pem, f.string()));
        key.name = f.filename().string();
        keys.push_back(std::move(key));
    }
    return keys;
}

Result<std::string> parse_signature(std::string_view text, const std::string& field) {
    auto bytes = base64_decode(text);
    if (!bytes) return Error::at(field, bytes.error().message);
    if (bytes->size() != kSignatureBytes)
        return Error::at(field, "an Ed25519 signature is 64 bytes, got " + std::to_string(bytes->size()));
    return std::move(*bytes);
}

Result<std::string> verify_digest(const Digest& digest, std::string_view signature,
                                  const std::vector<PublicKey>& keys) {
    std::string tried;
    for (const auto& k : keys) {
        MdCtx ctx(EVP_MD_CTX_new());
        auto* pkey = static_cast<EVP_PKEY*>(k.key.get());
        if (ctx && EVP_DigestVerifyInit(ctx.get(), nullptr, nullptr, nullptr, pkey) == 1 &&
            EVP_DigestVerify(ctx.get(), reinterpret_cast<const unsigned char*>(signature.data()), signature.size(),
                             digest.data(), digest.size()) == 1)
            return k.name;
        tried += (tried.empty() ? "" : ", ") + k.name;
    }
    return Error{"the signature is not made by a trusted release key (tried " + (tried.empty() ? "none" : tried) + ")",
                 ErrorKind::rejected};
}

Result<std::string> sign_digest(const Digest& digest, std::string_view private_key_pem) {
    std::unique_ptr<BIO, BioFree> bio(BIO_new_mem_buf(private_key_pem.data(), static_cast<int>(private_key_pem.size())));
    std::unique_ptr<EVP_PKEY, PkeyFree> key(bio ? PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr)
                                                : nullptr);
    if (!key || EVP_PKEY_id(key.get()) != EVP_PKEY_ED25519) return Error{"not an Ed25519 private key in PEM"};
    MdCtx ctx(EVP_MD_CTX_new());
    std::string sig(kSignatureBytes, '\0');
    std::size_t len = sig.size();
    if (!ctx || EVP_DigestSignInit(ctx.get(), nullptr, nullptr, nullptr, key.get()) != 1 ||
        EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(sig.data()), &len, digest.data(), digest.size()) != 1)
        return Error{"signing failed"};
    sig.resize(len);
    return sig;
}

}  // namespace pvfleet::release
