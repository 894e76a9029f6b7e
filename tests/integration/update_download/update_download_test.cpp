#include <doctest/doctest.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <fstream>
#include <thread>

#include "pvfleet/api/api.hpp"
#include "pvfleet/http/server.hpp"
#include "pvfleet/releases/rollouts.hpp"
#include "pvfleet/storage/store.hpp"
#include "pvfleet/update/update.hpp"
#include "support/paths.hpp"
#include "support/process.hpp"

using namespace pvfleet;
namespace fs = std::filesystem;

namespace {

std::string run_ok(const std::vector<std::string>& argv) {
    std::vector<std::string> sh{"/bin/sh", "-c", "exec \"$0\" \"$@\" 2>&1"};
    sh.insert(sh.end(), argv.begin(), argv.end());
    const auto r = test::run_command(sh);
    REQUIRE_MESSAGE(r.status == 0, argv[0] << " failed: " << r.out);
    return r.out;
}

// A pvfleet-edge package of `version` with `payload_bytes` of incompressible data, as dpkg-deb builds it.
fs::path make_deb(const fs::path& dir, const std::string& version, std::size_t payload_bytes) {
    const fs::path root = dir / ("pkg-" + version);
    fs::create_directories(root / "DEBIAN");
    fs::create_directories(root / "usr/share/pvfleet-test");
    std::ofstream(root / "DEBIAN/control") << "Package: pvfleet-edge\nVersion: " << version
                                           << "\nArchitecture: arm64\nMaintainer: test <t@example.org>\n"
                                              "Description: test package\n";
    {
        std::ofstream out(root / "usr/share/pvfleet-test/payload", std::ios::binary);
        std::uint64_t x = 88172645463325252ULL;
        for (std::size_t i = 0; i < payload_bytes; ++i) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            out.put(static_cast<char>(x & 0xff));
        }
    }
    const fs::path deb = dir / ("pvfleet-edge_" + version + "_arm64.deb");
    run_ok({"dpkg-deb", "--root-owner-group", "-Zgzip", "-b", root.string(), deb.string()});
    return deb;
}

struct Keys {
    std::string private_pem;
    release::PublicKey key;
};
Keys make_keys() {
    EVP_PKEY* k = EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519");
    BIO* priv = BIO_new(BIO_s_mem());
    BIO* pub = BIO_new(BIO_s_mem());
    PEM_write_bio_PrivateKey(priv, k, nullptr, nullptr, 0, nullptr, nullptr);
    PEM_write_bio_PUBKEY(pub, k);
    auto text = [](BIO* b) {
        char* d = nullptr;
        const long n = BIO_get_mem_data(b, &d);
        return std::string(d, static_cast<std::size_t>(n));
    };
    Keys out{text(priv), *release::load_public_key(text(pub), "release.pem")};
    BIO_free(priv);
    BIO_free(pub);
    EVP_PKEY_free(k);
    return out;
}

}  // namespace

TEST_CASE("update download: the server stores a signed package and serves it; the gateway resumes and checks it") {
    if (test::find_program("dpkg-deb").empty() || test::find_program("openssl").empty()) {
        MESSAGE("dpkg-deb or openssl missing: skipped");
        return;
    }
    test::TempDir dir;
    const Keys keys = make_keys();
    const fs::path deb = make_deb(dir.path(), "0.2.0", 600 * 1024);
    const std::string body = test::read_file(deb);
    const auto digest = *release::sha256_file(deb);
    const std::string signature = release::base64_encode(*release::sign_digest(digest, keys.private_pem));

    ManualClock clock{SystemClock{}.now()};
    auto db = storage::open_db({storage::Engine::sqlite, (dir / "server.db").string(), ""});
    REQUIRE(db);
    storage::Store store(std::move(*db), clock);
    REQUIRE(store.migrate());

    auto rt = std::make_shared<releases::Runtime>();
    rt->settings.dir = dir / "releases";
    rt->keys = {keys.key};
    rt->link_key = *releases::load_or_make_link_key(rt->settings.dir / "link.key");

    // The upload's checks: fields read from the package, claims compared, a bad signature refused.
    CHECK(releases::add_release(store.db(), rt->settings, rt->keys, body, signature, {std::string("0.3.0"), std::nullopt},
                                "admin", clock.now())
              .error().path == "version");
    std::string bad_sig = *release::parse_signature(signature, "s");
    bad_sig[0] ^= 1;
    CHECK(releases::add_release(store.db(), rt->settings, rt->keys, body, release::base64_encode(bad_sig), {}, "admin",
                                clock.now())
              .error().kind == ErrorKind::rejected);
    auto stored = releases::add_release(store.db(), rt->settings, rt->keys, body, signature,
                                        {std::string("0.2.0"), std::string("arm64")}, "admin", clock.now());
    REQUIRE(stored);
    CHECK(stored->sha256 == release::to_hex(digest));
    CHECK(stored->version == "0.2.0");
    CHECK(stored->architecture == "arm64");
    CHECK(fs::file_size(rt->settings.dir / (stored->sha256 + ".deb")) == body.size());
    CHECK(releases::add_release(store.db(), rt->settings, rt->keys, body, signature, {}, "admin", clock.now()));  // same file

    // An upload the server's transport wrote to a file (http spool): hashed in pieces and moved into place; a bad
    // signature leaves the releases folder as it was (the transport removes its file).
    {
        const fs::path spooled = dir.path() / "upload-1";
        const fs::path deb2 = make_deb(dir.path(), "0.2.1", 300 * 1024);
        fs::copy_file(deb2, spooled);
        const std::string sig2 =
            release::base64_encode(*release::sign_digest(*release::sha256_file(deb2), keys.private_pem));
        CHECK(releases::add_release_file(store.db(), rt->settings, rt->keys, spooled, release::base64_encode(bad_sig),
                                         {}, "admin", clock.now())
                  .error().kind == ErrorKind::rejected);
        CHECK(fs::exists(spooled));
        auto from_file = releases::add_release_file(store.db(), rt->settings, rt->keys, spooled, sig2, {}, "admin",
                                                    clock.now());
        REQUIRE_MESSAGE(from_file, (from_file ? std::string() : from_file.error().message));
        CHECK(from_file->version == "0.2.1");
        CHECK(from_file->sha256 == release::to_hex(*release::sha256_file(deb2)));
        CHECK(test::read_file(rt->settings.dir / (from_file->sha256 + ".deb")) == test::read_file(deb2));
        CHECK_FALSE(fs::exists(spooled));   // moved, not copied
        CHECK_FALSE(fs::exists(rt->settings.dir / (from_file->sha256 + ".deb.upload")));
    }

    // The API's routes over HTTPS, as pvfleet-server serves them.

    run_ok({"openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "2",
            "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", (dir / "https.key").string(),
            "-out", (dir / "https.crt").string()});
    api::ApiContext ctx;
    ctx.db = &store.db();
    ctx.clock = &clock;
    ctx.releases = rt;
    api::Router router;
    api::add_routes(router, ctx);
    boost::asio::io_context ioc;
    http::HttpServerOptions options;
    options.port = 0;
    options.tls = http::TlsFiles{(dir / "https.crt").string(), (dir / "https.key").string(), "", "http/tls"};
    auto server = http::HttpServer::create(ioc.get_executor(), options, [&router](http::Request& r) { return router.handle(r); });
    REQUIRE(server);
    (*server)->start();
    std::thread serving([&ioc] { ioc.run(); });
    rt->settings.public_url = "https://127.0.0.1:" + std::to_string((*server)->port());

    update::Request request{"update-1", "0.2.0", releases::download_url(rt->settings, rt->link_key, *stored, "site-a", clock.now()),
                            stored->sha256, static_cast<std::uint64_t>(stored->size), signature};
    update::DownloadOptions dl;
    dl.ca_file = (dir / "https.crt").string();
    dl.timeout = std::chrono::seconds(30);
    const fs::path part = dir / "gw" / "download.part";

    SUBCASE("whole, then checked") {
        auto got = update::download(request, part, dl);
        REQUIRE_MESSAGE(got, got.error().message);
        CHECK(*got == body.size());
        CHECK(update::verify_package(part, request, {keys.key}));
    }
    SUBCASE("interrupted after 200 kB: resumed with a range") {
        fs::create_directories(part.parent_path());
        std::ofstream(part, std::ios::binary) << body.substr(0, 200 * 1024);
        auto got = update::download(request, part, dl);
        REQUIRE_MESSAGE(got, got.error().message);
        CHECK(*got == body.size() - 200 * 1024);  // only the rest travelled
        CHECK(fs::file_size(part) == body.size());
        CHECK(update::verify_package(part, request, {keys.key}));
    }
    SUBCASE("a partial file of something else: resumed, then refused by the check") {
        fs::create_directories(part.parent_path());
        std::ofstream(part, std::ios::binary) << std::string(1000, 'x');
        REQUIRE(update::download(request, part, dl));
        auto v = update::verify_package(part, request, {keys.key});
        REQUIRE_FALSE(v);
        CHECK(v.error().message.find("SHA-256") == 0);
    }
    SUBCASE("a link for another site or expired: refused") {
        auto other = request;
        other.url.replace(other.url.find("site=site-a"), 11, "site=site-b");
        auto got = update::download(other, part, dl);
        REQUIRE_FALSE(got);
        CHECK(got.error().message.find("answered 404") != std::string::npos);
        clock.advance(std::chrono::hours(73));
        got = update::download(request, part, dl);
        REQUIRE_FALSE(got);
        CHECK(got.error().message.find("answered 404") != std::string::npos);
    }
    SUBCASE("the gateway's trust: another CA is refused") {
        run_ok({"openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "2",
                "-subj", "/CN=other", "-keyout", (dir / "o.key").string(), "-out", (dir / "o.crt").string()});
        dl.ca_file = (dir / "o.crt").string();
        auto got = update::download(request, part, dl);
        REQUIRE_FALSE(got);
        CHECK(got.error().message.find("checking the server's certificate") != std::string::npos);
    }
    boost::asio::post(ioc, [&] { (*server)->stop(); });
    serving.join();
}
