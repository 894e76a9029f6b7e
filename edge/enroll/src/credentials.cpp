// The gateway's key and CSR (OpenSSL 3), and the server's answer read.
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <memory>

#include "pvfleet/enroll/enroll.hpp"

namespace pvfleet::enroll {
namespace {

struct BioFree { void operator()(BIO* p) const { BIO_free(p); } };
struct PkeyFree { void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); } };
struct ReqFree { void operator()(X509_REQ* p) const { X509_REQ_free(p); } };

std::string openssl_error() {
    const unsigned long e = ERR_peek_error();
    std::string out = "OpenSSL error";
    if (e != 0) {
        char buf[256];
        ERR_error_string_n(e, buf, sizeof buf);
        out = buf;
    }
    ERR_clear_error();
    return out;
}

std::string text_of(BIO* bio) {
    char* data = nullptr;
    const long n = BIO_get_mem_data(bio, &data);
    return n > 0 ? std::string(data, static_cast<std::size_t>(n)) : std::string();
}

}  // namespace

Result<KeyAndCsr> make_key_and_csr() {
    std::unique_ptr<EVP_PKEY, PkeyFree> key(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
    if (!key) return Error{"key generation failed: " + openssl_error()};
    std::unique_ptr<X509_REQ, ReqFree> req(X509_REQ_new());
    if (!req) return Error{"CSR: " + openssl_error()};
    X509_NAME* name = X509_REQ_get_subject_name(req.get());
    const auto* cn = reinterpret_cast<const unsigned char*>("pvfleet-gateway");
    if (X509_REQ_set_version(req.get(), 0) != 1 ||
        X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, cn, -1, -1, 0) != 1 ||
        X509_REQ_set_pubkey(req.get(), key.get()) != 1 || X509_REQ_sign(req.get(), key.get(), EVP_sha256()) <= 0)
        return Error{"CSR: " + openssl_error()};
    KeyAndCsr out;
    std::unique_ptr<BIO, BioFree> key_bio(BIO_new(BIO_s_mem()));
    std::unique_ptr<BIO, BioFree> csr_bio(BIO_new(BIO_s_mem()));
    if (!key_bio || !csr_bio ||
        PEM_write_bio_PrivateKey(key_bio.get(), key.get(), nullptr, nullptr, 0, nullptr, nullptr) != 1 ||
        PEM_write_bio_X509_REQ(csr_bio.get(), req.get()) != 1)
        return Error{"PEM: " + openssl_error()};
    out.key_pem = text_of(key_bio.get());
    out.csr_pem = text_of(csr_bio.get());
    return out;
}

Status check_certificate_key(const std::string& certificate_pem, const std::string& key_pem) {
    std::unique_ptr<BIO, BioFree> cert_bio(BIO_new_mem_buf(certificate_pem.data(), static_cast<int>(certificate_pem.size())));
    std::unique_ptr<BIO, BioFree> key_bio(BIO_new_mem_buf(key_pem.data(), static_cast<int>(key_pem.size())));
    if (!cert_bio || !key_bio) return Error{"out of memory"};
    X509* cert = PEM_read_bio_X509(cert_bio.get(), nullptr, nullptr, nullptr);
    std::unique_ptr<EVP_PKEY, PkeyFree> key(PEM_read_bio_PrivateKey(key_bio.get(), nullptr, nullptr, nullptr));
    const bool ok = cert != nullptr && key && X509_check_private_key(cert, key.get()) == 1;
    X509_free(cert);
    ERR_clear_error();
    if (!ok) return Error{"the certificate the server sent is not for this gateway's key"};
    return {};
}

Result<EnrollReply> read_reply(const HttpReply& reply) {
    const auto body = nlohmann::json::parse(reply.body, nullptr, false);
    if (reply.status != 201) {
        std::string why = "HTTP " + std::to_string(reply.status);
        if (body.is_object()) {
            if (body.contains("reason") && body["reason"].is_string()) why = body["reason"].get<std::string>();
            if (body.contains("detail") && body["detail"].is_string())
                return Error{"refused by the server (" + why + "): " + body["detail"].get<std::string>(),
                             ErrorKind::rejected};
        }
        return Error{"refused by the server (" + why + ")", ErrorKind::rejected};
    }
    if (!body.is_object()) return Error{"the server's answer is not a JSON object"};
    EnrollReply out;
    for (auto [key, field] : {std::pair{"site_id", &out.site_id}, std::pair{"certificate", &out.certificate_pem},
                              std::pair{"ca_chain", &out.ca_chain_pem}, std::pair{"broker_uri", &out.broker_uri},
                              std::pair{"serial", &out.serial}, std::pair{"not_after", &out.not_after}}) {
        if (!body.contains(key) || !body[key].is_string() || body[key].get<std::string>().empty())
            return Error{std::string("the server's answer has no ") + key};
        *field = body[key].get<std::string>();
    }
    if (!body.contains("config") || !body["config"].is_object())
        return Error{"the server's answer has no config object"};
    out.config = body["config"];
    // The site id becomes a topic and a file's content: only what a site id may hold.
    for (const char c : out.site_id)
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'))
            return Error{"the server's answer names an invalid site id '" + out.site_id + "'"};
    if (out.certificate_pem.find("-----BEGIN CERTIFICATE-----") == std::string::npos ||
        out.ca_chain_pem.find("-----BEGIN CERTIFICATE-----") == std::string::npos)
        return Error{"the server's answer holds no PEM certificate"};
    return out;
}

}  // namespace pvfleet::enroll
