#include "pvfleet/enrollment/issuing_ca.hpp"

#include <openssl/bn.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include <fstream>
#include <sstream>

#include "openssl_util.hpp"
#include "pvfleet/protocol/topics.hpp"

namespace pvfleet::enrollment {

using namespace detail;

struct IssuingCa::Impl {
    X509Ptr cert;
    PkeyPtr key;
    std::string chain;  // the CA's certificate PEM, then the chain file's
    TimePoint not_after{};
};

namespace {

Result<std::string> read_file(const std::string& key, const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return Error::at(key, "cannot read '" + path + "'", ErrorKind::not_found);
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
}

std::string name_text(const X509_NAME* name) {
    BioPtr bio(BIO_new(BIO_s_mem()));
    if (!bio) return {};
    X509_NAME_print_ex(bio.get(), name, 0, XN_FLAG_RFC2253);
    return bio_text(bio.get());
}

std::string pem_of(X509* cert) {
    BioPtr bio(BIO_new(BIO_s_mem()));
    if (!bio || PEM_write_bio_X509(bio.get(), cert) != 1) return {};
    return bio_text(bio.get());
}

Status add_extension(X509* cert, X509V3_CTX& ctx, int nid, const char* value) {
    X509_EXTENSION* ext = X509V3_EXT_nconf_nid(nullptr, &ctx, nid, value);
    if (ext == nullptr) return Error{"certificate extension: " + openssl_error("refused")};
    const int ok = X509_add_ext(cert, ext, -1);
    X509_EXTENSION_free(ext);
    if (ok != 1) return Error{"certificate extension: " + openssl_error("not added")};
    return {};
}

// 16 random bytes, the top bit clear (a positive INTEGER) and the top byte non-zero (always 16 bytes long).
Status set_random_serial(X509* cert) {
    unsigned char bytes[16];
    if (RAND_bytes(bytes, sizeof bytes) != 1) return Error{"random serial: " + openssl_error("RAND_bytes failed")};
    bytes[0] = static_cast<unsigned char>((bytes[0] & 0x7f) | 0x01);
    BIGNUM* bn = BN_bin2bn(bytes, sizeof bytes, nullptr);
    const bool ok = bn != nullptr && BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert)) != nullptr;
    BN_free(bn);
    if (!ok) return Error{"random serial: " + openssl_error("not set")};
    return {};
}

std::string serial_of(X509* cert) {
    const ASN1_INTEGER* s = X509_get0_serialNumber(cert);
    return hex(s->data, static_cast<std::size_t>(s->length), true);
}

Status set_subject(X509* cert, const std::string& site_id) {
    X509_NAME* name = X509_get_subject_name(cert);
    const auto* org = reinterpret_cast<const unsigned char*>("pvfleet");
    const auto* cn = reinterpret_cast<const unsigned char*>(site_id.c_str());
    if (X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC, org, -1, -1, 0) != 1 ||
        X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, cn, -1, -1, 0) != 1)
        return Error{"certificate subject: " + openssl_error("not set")};
    return {};
}

}  // namespace

IssuingCa::IssuingCa(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
IssuingCa::~IssuingCa() = default;

Result<std::shared_ptr<const IssuingCa>> IssuingCa::load(const CaFiles& files, TimePoint now) {
    const std::string cert_key = files.config_key + "/ca_cert_file";
    const std::string key_key = files.config_key + "/ca_key_file";
    PVF_TRY(auto cert_pem, read_file(cert_key, files.cert_file));
    PVF_TRY(auto key_pem, read_file(key_key, files.key_file));
    std::string chain;
    if (!files.chain_file.empty()) {
        PVF_TRY(chain, read_file(files.config_key + "/ca_chain_file", files.chain_file));
        if (chain.find("-----BEGIN CERTIFICATE-----") == std::string::npos)
            return Error::at(files.config_key + "/ca_chain_file", "'" + files.chain_file + "' holds no PEM certificate");
    }
    auto ca = from_pem(cert_pem, key_pem, chain, now);
    if (!ca) {
        // from_pem names the part at fault in the error's path: the key or the certificate.
        const bool about_key = ca.error().path == "key";
        return Error::at(about_key ? key_key : cert_key,
                         "'" + (about_key ? files.key_file : files.cert_file) + "': " + ca.error().message);
    }
    return ca;
}

Result<std::shared_ptr<const IssuingCa>> IssuingCa::from_pem(std::string_view cert_pem, std::string_view key_pem,
                                                             std::string chain_pem, TimePoint now) {
    auto impl = std::make_unique<Impl>();
    {
        auto bio = memory_bio(cert_pem);
        impl->cert.reset(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
    }
    if (!impl->cert) return Error{"not a PEM certificate (" + openssl_error("unreadable") + ")"};
    {
        auto bio = memory_bio(key_pem);
        impl->key.reset(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, const_cast<char*>("")));
    }
    if (!impl->key) return Error{"not an unencrypted PEM private key (" + openssl_error("unreadable") + ")", ErrorKind::invalid, "key"};
    if (X509_check_private_key(impl->cert.get(), impl->key.get()) != 1) {
        ERR_clear_error();
        return Error{"the private key is not the key of the CA certificate", ErrorKind::invalid, "key"};
    }
    if (X509_check_ca(impl->cert.get()) < 1 ||
        ((X509_get_extension_flags(impl->cert.get()) & EXFLAG_KUSAGE) != 0 &&
         (X509_get_key_usage(impl->cert.get()) & KU_KEY_CERT_SIGN) == 0))
        return Error{"the certificate is not a CA certificate that may sign certificates (basicConstraints CA:TRUE, "
                     "keyUsage keyCertSign)"};
    impl->not_after = time_of(X509_get0_notAfter(impl->cert.get()));
    if (impl->not_after <= now) return Error{"the CA certificate has expired"};
    if (time_of(X509_get0_notBefore(impl->cert.get())) > now) return Error{"the CA certificate is not valid yet"};
    impl->chain = pem_of(impl->cert.get());
    if (!chain_pem.empty()) impl->chain += (chain_pem.back() == '\n' ? chain_pem : chain_pem + "\n");
    return std::shared_ptr<const IssuingCa>(new IssuingCa(std::move(impl)));
}

Result<IssuedCertificate> IssuingCa::sign(std::string_view csr_pem, const std::string& site_id,
                                          std::chrono::seconds lifetime, TimePoint now) const {
    // The broker takes the CN as the user name: a reserved name (pvfleet-server, broker, …) would get their rights.
    if (!protocol::is_valid_site_id(site_id))
        return Error::at("site_id", "'" + site_id + "' is not a site id a gateway may hold (malformed or reserved)");
    auto bio = memory_bio(csr_pem);
    ReqPtr req(PEM_read_bio_X509_REQ(bio.get(), nullptr, nullptr, nullptr));
    if (!req) return Error::at("csr", "unreadable (" + openssl_error("bad encoding") + ")");
    X509Ptr cert(X509_new());
    if (!cert || X509_set_version(cert.get(), 2) != 1) return Error{"certificate: " + openssl_error("out of memory")};
    PVF_CHECK(set_random_serial(cert.get()));
    PVF_CHECK(set_subject(cert.get(), site_id));
    X509_set_issuer_name(cert.get(), X509_get_subject_name(impl_->cert.get()));
    if (X509_set_pubkey(cert.get(), X509_REQ_get0_pubkey(req.get())) != 1)
        return Error{"certificate key: " + openssl_error("not set")};
    // Five minutes back: a broker whose clock is a little behind still accepts it at once.
    const TimePoint not_before = now - std::chrono::minutes(5);
    const TimePoint not_after = std::min(now + std::chrono::duration_cast<Millis>(lifetime), impl_->not_after);
    ASN1_TIME_set(X509_getm_notBefore(cert.get()), seconds_of(not_before));
    ASN1_TIME_set(X509_getm_notAfter(cert.get()), seconds_of(not_after));
    X509V3_CTX ctx;
    X509V3_set_ctx(&ctx, impl_->cert.get(), cert.get(), nullptr, nullptr, 0);
    PVF_CHECK(add_extension(cert.get(), ctx, NID_basic_constraints, "critical,CA:FALSE"));
    PVF_CHECK(add_extension(cert.get(), ctx, NID_key_usage, "critical,digitalSignature"));
    PVF_CHECK(add_extension(cert.get(), ctx, NID_ext_key_usage, "clientAuth"));
    PVF_CHECK(add_extension(cert.get(), ctx, NID_subject_key_identifier, "hash"));
    PVF_CHECK(add_extension(cert.get(), ctx, NID_authority_key_identifier, "keyid:always"));
    // Ed25519/Ed448 keys sign without a separate digest.
    const bool pure = EVP_PKEY_is_a(impl_->key.get(), "ED25519") || EVP_PKEY_is_a(impl_->key.get(), "ED448");
    if (X509_sign(cert.get(), impl_->key.get(), pure ? nullptr : EVP_sha256()) <= 0)
        return Error{"signing: " + openssl_error("failed")};
    IssuedCertificate out;
    out.pem = pem_of(cert.get());
    out.serial = serial_of(cert.get());
    out.subject = name_text(X509_get_subject_name(cert.get()));
    out.public_key_sha256 = public_key_sha256(X509_REQ_get0_pubkey(req.get()));
    out.not_before = time_of(X509_get0_notBefore(cert.get()));
    out.not_after = time_of(X509_get0_notAfter(cert.get()));
    return out;
}

namespace {

struct CrlFree { void operator()(X509_CRL* p) const { X509_CRL_free(p); } };
struct RevokedFree { void operator()(X509_REVOKED* p) const { X509_REVOKED_free(p); } };
struct TimeFree { void operator()(ASN1_TIME* p) const { ASN1_TIME_free(p); } };
struct IntFree { void operator()(ASN1_INTEGER* p) const { ASN1_INTEGER_free(p); } };
struct EnumFree { void operator()(ASN1_ENUMERATED* p) const { ASN1_ENUMERATED_free(p); } };

// One revoked entry: serial, date, reason code (left out when unspecified, as RFC 5280 recommends).
Status add_revoked(X509_CRL* crl, const CrlEntry& e) {
    std::unique_ptr<X509_REVOKED, RevokedFree> rev(X509_REVOKED_new());
    BIGNUM* bn = nullptr;
    if (!rev || BN_hex2bn(&bn, e.serial.c_str()) == 0) return Error{"CRL entry " + e.serial + ": not a hex serial"};
    std::unique_ptr<ASN1_INTEGER, IntFree> serial(BN_to_ASN1_INTEGER(bn, nullptr));
    BN_free(bn);
    std::unique_ptr<ASN1_TIME, TimeFree> when(ASN1_TIME_set(nullptr, seconds_of(e.revoked_at)));
    if (!serial || !when || X509_REVOKED_set_serialNumber(rev.get(), serial.get()) != 1 ||
        X509_REVOKED_set_revocationDate(rev.get(), when.get()) != 1)
        return Error{"CRL entry " + e.serial + ": " + openssl_error("not set")};
    if (e.reason_code != 0) {
        std::unique_ptr<ASN1_ENUMERATED, EnumFree> code(ASN1_ENUMERATED_new());
        if (!code || ASN1_ENUMERATED_set(code.get(), e.reason_code) != 1 ||
            X509_REVOKED_add1_ext_i2d(rev.get(), NID_crl_reason, code.get(), 0, 0) != 1)
            return Error{"CRL entry " + e.serial + ": " + openssl_error("reason not set")};
    }
    if (X509_CRL_add0_revoked(crl, rev.get()) != 1) return Error{"CRL entry: " + openssl_error("not added")};
    rev.release();  // the CRL owns it now
    return {};
}

}  // namespace

Result<std::string> IssuingCa::sign_crl(const std::vector<CrlEntry>& entries, TimePoint now,
                                        std::chrono::seconds validity, std::int64_t number) const {
    std::unique_ptr<X509_CRL, CrlFree> crl(X509_CRL_new());
    if (!crl || X509_CRL_set_version(crl.get(), 1) != 1 ||
        X509_CRL_set_issuer_name(crl.get(), X509_get_subject_name(impl_->cert.get())) != 1)
        return Error{"CRL: " + openssl_error("out of memory")};
    const TimePoint next = std::min(now + std::chrono::duration_cast<Millis>(validity), impl_->not_after);
    std::unique_ptr<ASN1_TIME, TimeFree> last_update(ASN1_TIME_set(nullptr, seconds_of(now)));
    std::unique_ptr<ASN1_TIME, TimeFree> next_update(ASN1_TIME_set(nullptr, seconds_of(next)));
    if (!last_update || !next_update || X509_CRL_set1_lastUpdate(crl.get(), last_update.get()) != 1 ||
        X509_CRL_set1_nextUpdate(crl.get(), next_update.get()) != 1)
        return Error{"CRL dates: " + openssl_error("not set")};
    for (const auto& e : entries) PVF_CHECK(add_revoked(crl.get(), e));
    X509V3_CTX ctx;
    X509V3_set_ctx(&ctx, impl_->cert.get(), nullptr, nullptr, crl.get(), 0);
    X509_EXTENSION* aki = X509V3_EXT_nconf_nid(nullptr, &ctx, NID_authority_key_identifier, "keyid:always");
    const bool aki_ok = aki != nullptr && X509_CRL_add_ext(crl.get(), aki, -1) == 1;
    X509_EXTENSION_free(aki);
    std::unique_ptr<ASN1_INTEGER, IntFree> crl_number(ASN1_INTEGER_new());
    if (!aki_ok || !crl_number || ASN1_INTEGER_set_int64(crl_number.get(), number) != 1 ||
        X509_CRL_add1_ext_i2d(crl.get(), NID_crl_number, crl_number.get(), 0, 0) != 1)
        return Error{"CRL extensions: " + openssl_error("not set")};
    X509_CRL_sort(crl.get());
    const bool pure = EVP_PKEY_is_a(impl_->key.get(), "ED25519") || EVP_PKEY_is_a(impl_->key.get(), "ED448");
    if (X509_CRL_sign(crl.get(), impl_->key.get(), pure ? nullptr : EVP_sha256()) <= 0)
        return Error{"CRL signing: " + openssl_error("failed")};
    BioPtr bio(BIO_new(BIO_s_mem()));
    if (!bio || PEM_write_bio_X509_CRL(bio.get(), crl.get()) != 1) return Error{"CRL: " + openssl_error("not written")};
    return bio_text(bio.get());
}

Result<IssuingCa::Verified> IssuingCa::verify_issued(std::string_view certificate_pem) const {
    auto bio = memory_bio(certificate_pem);
    X509Ptr cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
    if (!cert) return Error::at("certificate", "not a PEM certificate (" + openssl_error("unreadable") + ")");
    EVP_PKEY* ca_key = X509_get0_pubkey(impl_->cert.get());
    if (X509_NAME_cmp(X509_get_issuer_name(cert.get()), X509_get_subject_name(impl_->cert.get())) != 0 ||
        ca_key == nullptr || X509_verify(cert.get(), ca_key) != 1) {
        ERR_clear_error();
        return Error::at("certificate", "not issued by this server's issuing CA");
    }
    Verified out;
    out.serial = serial_of(cert.get());
    const int i = X509_NAME_get_index_by_NID(X509_get_subject_name(cert.get()), NID_commonName, -1);
    if (i >= 0) {
        const ASN1_STRING* cn = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(X509_get_subject_name(cert.get()), i));
        out.common_name.assign(reinterpret_cast<const char*>(ASN1_STRING_get0_data(cn)),
                               static_cast<std::size_t>(ASN1_STRING_length(cn)));
    }
    out.not_before = time_of(X509_get0_notBefore(cert.get()));
    out.not_after = time_of(X509_get0_notAfter(cert.get()));
    return out;
}

const std::string& IssuingCa::chain_pem() const { return impl_->chain; }
std::string IssuingCa::subject() const { return name_text(X509_get_subject_name(impl_->cert.get())); }
TimePoint IssuingCa::not_after() const { return impl_->not_after; }

}  // namespace pvfleet::enrollment
