#include <doctest/doctest.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <fstream>

#include "pvfleet/release/signature.hpp"
#include "support/paths.hpp"

using namespace pvfleet;
using namespace pvfleet::release;

namespace {

struct Keypair {
    std::string private_pem, public_pem;
};

Keypair make_keypair(bool ec = false) {
    EVP_PKEY* key = ec ? EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256") : EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519");
    REQUIRE(key != nullptr);
    BIO* priv = BIO_new(BIO_s_mem());
    BIO* pub = BIO_new(BIO_s_mem());
    PEM_write_bio_PrivateKey(priv, key, nullptr, nullptr, 0, nullptr, nullptr);
    PEM_write_bio_PUBKEY(pub, key);
    auto text = [](BIO* b) {
        char* data = nullptr;
        const long n = BIO_get_mem_data(b, &data);
        return std::string(data, static_cast<std::size_t>(n));
    };
    Keypair out{text(priv), text(pub)};
    BIO_free(priv);
    BIO_free(pub);
    EVP_PKEY_free(key);
    return out;
}

void write(const std::filesystem::path& p, const std::string& text) {
    std::ofstream(p, std::ios::binary) << text;
}

}  // namespace

TEST_CASE("sha256 of a file and hex round trip") {
    test::TempDir dir;
    write(dir / "abc", "abc");
    auto d = sha256_file(dir / "abc");
    REQUIRE(d);
    CHECK(to_hex(*d) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    auto back = digest_from_hex("BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD", "sha256");
    REQUIRE(back);
    CHECK(*back == *d);
    CHECK(digest_from_hex("abc", "sha256").error().message == "sha256: a SHA-256 is 64 hex digits, got 3 characters");
    CHECK_FALSE(digest_from_hex(std::string(63, 'a') + "g", "sha256"));
    CHECK(sha256_file(dir / "missing").error().kind == ErrorKind::not_found);

    // Incremental over pieces = whole.
    Sha256 h;
    h.update("a");
    h.update("bc");
    CHECK(h.finish() == *d);
}

TEST_CASE("base64 round trip, padding and junk") {
    for (std::size_t n = 0; n < 70; ++n) {
        std::string bytes;
        for (std::size_t i = 0; i < n; ++i) bytes += static_cast<char>((i * 37 + n) & 0xff);
        auto back = base64_decode(base64_encode(bytes) + "\n");
        REQUIRE(back);
        CHECK(*back == bytes);
    }
    CHECK(base64_encode("f") == "Zg==");
    CHECK(base64_encode("fo") == "Zm8=");
    CHECK_FALSE(base64_decode("Zm9"));
    CHECK_FALSE(base64_decode("Z=9v"));
    CHECK_FALSE(base64_decode("Zm9v!A=="));
}

TEST_CASE("a good signature verifies; a tampered file or a wrong key does not") {
    test::TempDir dir;
    const auto signer = make_keypair();
    const auto other = make_keypair();
    std::filesystem::create_directories(dir / "keys");
    write(dir / "keys" / "a-other.pem", other.public_pem);
    write(dir / "keys" / "b-release.pem", signer.public_pem);
    write(dir / "keys" / "README", "not a key");
    auto keys = load_public_keys(dir / "keys");
    REQUIRE(keys);
    REQUIRE(keys->size() == 2);

    std::string deb(200000, '\0');
    for (std::size_t i = 0; i < deb.size(); ++i) deb[i] = static_cast<char>((i * 7919) >> 3);
    write(dir / "p.deb", deb);
    auto digest = sha256_file(dir / "p.deb");
    REQUIRE(digest);
    auto sig = sign_digest(*digest, signer.private_pem);
    REQUIRE(sig);
    CHECK(sig->size() == 64);
    auto parsed = parse_signature(base64_encode(*sig) + "\n", "signature");
    REQUIRE(parsed);

    SUBCASE("good") {
        auto who = verify_digest(*digest, *parsed, *keys);
        REQUIRE(who);
        CHECK(*who == "b-release.pem");
    }
    SUBCASE("tampered file") {
        deb[100000] ^= 1;
        write(dir / "p.deb", deb);
        auto d2 = sha256_file(dir / "p.deb");
        REQUIRE(d2);
        auto r = verify_digest(*d2, *parsed, *keys);
        REQUIRE_FALSE(r);
        CHECK(r.error().kind == ErrorKind::rejected);
        CHECK(r.error().message ==
              "the signature is not made by a trusted release key (tried a-other.pem, b-release.pem)");
    }
    SUBCASE("wrong key: only the other key trusted") {
        std::vector<PublicKey> only_other{(*keys)[0]};
        CHECK_FALSE(verify_digest(*digest, *parsed, only_other));
        auto sig2 = sign_digest(*digest, other.private_pem);
        REQUIRE(sig2);
        CHECK(verify_digest(*digest, *sig2, only_other));
    }
    SUBCASE("tampered signature") {
        std::string bad = *parsed;
        bad[5] ^= 0x20;
        CHECK_FALSE(verify_digest(*digest, bad, *keys));
    }
}

TEST_CASE("malformed signatures and keys are refused with their names") {
    CHECK(parse_signature("Zm9v", "signature").error().message ==
          "signature: an Ed25519 signature is 64 bytes, got 3");
    CHECK(parse_signature("###", "signature").error().path == "signature");
    CHECK(load_public_key("junk", "k.pem").error().message == "k.pem: not a PEM public key");
    const auto ec = make_keypair(true);
    CHECK(load_public_key(ec.public_pem, "ec.pem").error().message == "ec.pem: not an Ed25519 key");
    CHECK_FALSE(sign_digest(Digest{}, ec.private_pem));
    test::TempDir dir;
    CHECK(load_public_keys(dir.path()).error().message.find("no *.pem") != std::string::npos);
    write(dir / "bad.pem", "junk");
    CHECK(load_public_keys(dir.path()).error().message.find("bad.pem") != std::string::npos);
}
