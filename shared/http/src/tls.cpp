#include "pvfleet/http/tls.hpp"

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <sys/stat.h>

#include <boost/asio/ssl/context.hpp>
#include <ctime>
#include <fstream>
#include <sstream>

#include "pvfleet/util/log.hpp"
#include "pvfleet/util/time.hpp"

namespace pvfleet::http {

// Mozilla's "intermediate" TLS 1.2 list without the finite-field DHE suites (ECDHE only, no parameters file).
const char* const kTls12Ciphers =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:"
    "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";

namespace {
namespace ssl = boost::asio::ssl;

// The oldest OpenSSL error of this thread, in words, and the queue cleared.
std::string openssl_reason(const boost::system::error_code& ec) {
    std::string reason = ec ? ec.message() : std::string();
    if (const unsigned long e = ERR_peek_error(); e != 0 && reason.empty()) {
        char buf[256];
        ERR_error_string_n(e, buf, sizeof buf);
        reason = buf;
    }
    ERR_clear_error();
    return reason.empty() ? "unknown OpenSSL error" : reason;
}

// The whole file, or an error naming its key.
Result<std::string> read_pem(const std::string& key, const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return Error::at(key, "cannot read '" + path + "'", ErrorKind::not_found);
    std::ostringstream text;
    text << in.rdbuf();
    if (text.str().find("-----BEGIN ") == std::string::npos)
        return Error::at(key, "'" + path + "' holds no PEM block");
    return text.str();
}

std::string subject_of(X509* cert) {
    BIO* bio = BIO_new(BIO_s_mem());
    if (bio == nullptr) return {};
    X509_NAME_print_ex(bio, X509_get_subject_name(cert), 0, XN_FLAG_RFC2253);
    char* data = nullptr;
    const long n = BIO_get_mem_data(bio, &data);
    std::string out = n > 0 ? std::string(data, static_cast<std::size_t>(n)) : std::string();
    BIO_free(bio);
    return out;
}

std::string serial_of(X509* cert) {
    BIGNUM* bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), nullptr);
    if (bn == nullptr) return {};
    char* hex = BN_bn2hex(bn);
    std::string out = hex != nullptr ? hex : "";
    OPENSSL_free(hex);
    BN_free(bn);
    return out;
}

// True when the PEM text holds a private key OpenSSL can read without a passphrase.
bool is_plain_private_key(const std::string& pem) {
    BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
    if (bio == nullptr) return false;
    EVP_PKEY* key = PEM_read_bio_PrivateKey(bio, nullptr, nullptr, const_cast<char*>(""));
    BIO_free(bio);
    ERR_clear_error();
    if (key == nullptr) return false;
    EVP_PKEY_free(key);
    return true;
}

TimePoint not_after_of(X509* cert) {
    std::tm tm{};
    if (ASN1_TIME_to_tm(X509_get0_notAfter(cert), &tm) != 1) return TimePoint{};
    return TimePoint{std::chrono::duration_cast<Millis>(std::chrono::seconds(::timegm(&tm)))};
}

// Protocols, ciphers and options: the same for every context this server builds.
void harden(ssl::context& ctx) {
    ctx.set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 | ssl::context::no_sslv3 |
                    ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1 | ssl::context::no_compression |
                    ssl::context::single_dh_use);
    SSL_CTX* native = ctx.native_handle();
    SSL_CTX_set_min_proto_version(native, TLS1_2_VERSION);
    SSL_CTX_set_options(native, SSL_OP_NO_RENEGOTIATION);
    SSL_CTX_set_cipher_list(native, kTls12Ciphers);
    // Sessions resume by ticket only (no server-side cache to bound); tickets rotate with the context.
    SSL_CTX_set_session_cache_mode(native, SSL_SESS_CACHE_OFF);
}

// What does not stop a load but needs the operator: an expired certificate, a key file anyone may read.
void warn_about(const TlsFiles& files, const TlsContext& loaded) {
    if (loaded.not_after != TimePoint{} && loaded.not_after < SystemClock{}.now())
        PVF_LOG(warn, "http",
                files.config_key << "/cert_file: '" << files.cert_file << "' expired at "
                                 << format_iso8601(loaded.not_after) << "; clients will refuse it");
    struct stat st {};
    if (::stat(files.key_file.c_str(), &st) == 0 && (st.st_mode & S_IROTH) != 0)
        PVF_LOG(warn, "http",
                files.config_key << "/key_file: '" << files.key_file
                                 << "' is readable by every user (chmod o-r it)");
}

}  // namespace

std::string TlsContext::describe() const {
    return subject + ", serial " + serial + ", valid until " + format_iso8601(not_after);
}

Result<TlsContext> load_tls_context(const TlsFiles& files) {
    const std::string cert_key = files.config_key + "/cert_file";
    const std::string key_key = files.config_key + "/key_file";
    const std::string chain_key = files.config_key + "/chain_file";
    auto cert_pem = read_pem(cert_key, files.cert_file);
    if (!cert_pem) return cert_pem.error();
    auto key_pem = read_pem(key_key, files.key_file);
    if (!key_pem) return key_pem.error();
    std::string chain_pem;
    if (!files.chain_file.empty()) {
        auto chain = read_pem(chain_key, files.chain_file);
        if (!chain) return chain.error();
        chain_pem = "\n" + *chain;
    }

    auto ctx = std::make_shared<ssl::context>(ssl::context::tls_server);
    harden(*ctx);
    boost::system::error_code ec;
    ERR_clear_error();
    ctx->use_certificate_chain(boost::asio::buffer(*cert_pem + chain_pem), ec);
    if (ec) {
        const std::string reason = openssl_reason(ec);
        // Which file is at fault: the certificate alone loads when the chain is the broken part.
        ssl::context probe(ssl::context::tls_server);
        boost::system::error_code alone;
        probe.use_certificate_chain(boost::asio::buffer(*cert_pem), alone);
        ERR_clear_error();
        if (!alone && !chain_pem.empty())
            return Error::at(chain_key, "'" + files.chain_file + "': not a PEM certificate chain (" + reason + ")");
        return Error::at(cert_key, "'" + files.cert_file + "': not a PEM certificate (" + reason + ")");
    }
    const auto mismatch = [&] {
        return Error::at(key_key, "'" + files.key_file + "' is not the key of the certificate in '" +
                                      files.cert_file + "'");
    };
    ctx->use_private_key(boost::asio::buffer(*key_pem), ssl::context::pem, ec);
    if (ec) {
        const std::string reason = openssl_reason(ec);
        if (is_plain_private_key(*key_pem)) return mismatch();
        return Error::at(key_key, "'" + files.key_file + "': not an unencrypted PEM private key (" + reason + ")");
    }
    if (SSL_CTX_check_private_key(ctx->native_handle()) != 1) {
        ERR_clear_error();
        return mismatch();
    }
    TlsContext out;
    X509* leaf = SSL_CTX_get0_certificate(ctx->native_handle());
    if (leaf != nullptr) {
        out.subject = subject_of(leaf);
        out.serial = serial_of(leaf);
        out.not_after = not_after_of(leaf);
    }
    out.context = std::move(ctx);
    warn_about(files, out);
    return out;
}

}  // namespace pvfleet::http
