#include <doctest/doctest.h>

#include <fstream>

#include "pvfleet/release/signature.hpp"
#include "support/paths.hpp"
#include "support/process.hpp"

using namespace pvfleet;

namespace {
test::RunResult sign_release(const std::vector<std::string>& args) {
    std::vector<std::string> argv{"bash", PVFLEET_SIGN_RELEASE};
    argv.insert(argv.end(), args.begin(), args.end());
    return test::run_command(argv);
}
}  // namespace

TEST_CASE("scripts/sign-release signs what the verification code accepts") {
    test::TempDir dir;
    const auto key = (dir / "release").string();
    REQUIRE(sign_release({"--new-key", key}).status == 0);
    REQUIRE(sign_release({"--new-key", (dir / "other").string()}).status == 0);
    CHECK((std::filesystem::status(key + ".key").permissions() & std::filesystem::perms::group_all) ==
          std::filesystem::perms::none);
    CHECK(sign_release({"--new-key", key}).status != 0);  // never overwrites a key

    const auto deb = dir / "pvfleet-edge_0.2.0_arm64.deb";
    {
        std::ofstream out(deb, std::ios::binary);
        for (int i = 0; i < 300000; ++i) out.put(static_cast<char>(i * 31 % 251));
    }
    auto signed_ = sign_release({deb.string(), "--key", key + ".key"});
    REQUIRE(signed_.status == 0);
    auto digest = release::sha256_file(deb);
    REQUIRE(digest);
    CHECK(signed_.out.find("sha256 " + release::to_hex(*digest)) != std::string::npos);

    auto pub = release::load_public_key(test::read_file(key + ".pem"), "release.pem");
    auto other = release::load_public_key(test::read_file((dir / "other").string() + ".pem"), "other.pem");
    REQUIRE(pub);
    REQUIRE(other);
    auto sig = release::parse_signature(test::read_file(deb.string() + ".sig"), "sig");
    REQUIRE(sig);

    CHECK(release::verify_digest(*digest, *sig, {*pub}));                  // good
    CHECK_FALSE(release::verify_digest(*digest, *sig, {*other}));          // wrong key
    CHECK(sign_release({"--verify", deb.string(), "--pub", key + ".pem"}).status == 0);
    CHECK(sign_release({"--verify", deb.string(), "--pub", (dir / "other").string() + ".pem"}).status == 1);

    { std::ofstream(deb, std::ios::binary | std::ios::app) << "x"; }  // tampered after signing
    auto tampered = release::sha256_file(deb);
    REQUIRE(tampered);
    CHECK_FALSE(release::verify_digest(*tampered, *sig, {*pub}));
    CHECK(sign_release({"--verify", deb.string(), "--pub", key + ".pem"}).status == 1);

    // An EC key is refused before anything is written.
    REQUIRE(test::run_command({"openssl", "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256",
                               "-out", (dir / "ec.key").string()})
                .status == 0);
    CHECK(sign_release({deb.string(), "--key", (dir / "ec.key").string()}).status == 2);
}
