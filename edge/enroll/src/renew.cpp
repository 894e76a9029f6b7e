// Renewal of the gateway's certificate: when it is due, the proof of possession, the server's answer, the pair
// installed (and an interrupted install finished).
#include "pvfleet/enroll/renew.hpp"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <ctime>
#include <fstream>
#include <memory>
#include <sstream>

namespace pvfleet::enroll {
namespace {

struct RnBioFree { void operator()(BIO* p) const { BIO_free(p); } };
struct RnPkeyFree { void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); } };
struct RnX509Free { void operator()(X509* p) const { X509_free(p); } };
struct RnMdFree { void operator()(EVP_MD_CTX* p) const { EVP_MD_CTX_free(p); } };

std::unique_ptr<BIO, RnBioFree> bio_of(std::string_view text) {
    return std::unique_ptr<BIO, RnBioFree>(BIO_new_mem_buf(text.data(), static_cast<int>(text.size())));
}

TimePoint time_of(const ASN1_TIME* t) {
    std::tm tm{};
    if (t == nullptr || ASN1_TIME_to_tm(t, &tm) != 1) return TimePoint{};
    return TimePoint{std::chrono::duration_cast<Millis>(std::chrono::seconds(::timegm(&tm)))};
}

std::optional<std::string> read_text(const std::filesystem::path& file) {
    std::ifstream in(file, std::ios::binary);
    if (!in) return std::nullopt;
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
}

std::filesystem::path with_suffix(std::filesystem::path p, const char* suffix) {
    p += suffix;
    return p;
}

Status rename_file(const std::filesystem::path& from, const std::filesystem::path& to) {
    std::error_code ec;
    std::filesystem::rename(from, to, ec);
    if (ec) return Error{"cannot move " + from.string() + " to " + to.string() + ": " + ec.message(), ErrorKind::io};
    return {};
}

}  // namespace

Result<CertificateInfo> read_certificate(std::string_view pem) {
    auto bio = bio_of(pem);
    std::unique_ptr<X509, RnX509Free> cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
    if (!cert) {
        ERR_clear_error();
        return Error{"not a PEM certificate"};
    }
    CertificateInfo out;
    const ASN1_INTEGER* serial = X509_get0_serialNumber(cert.get());
    static constexpr char kHex[] = "0123456789ABCDEF";
    for (int i = 0; i < serial->length; ++i) {
        out.serial.push_back(kHex[serial->data[i] >> 4]);
        out.serial.push_back(kHex[serial->data[i] & 0xf]);
    }
    char cn[256] = {};
    if (X509_NAME_get_text_by_NID(X509_get_subject_name(cert.get()), NID_commonName, cn, sizeof cn) > 0) out.common_name = cn;
    out.not_before = time_of(X509_get0_notBefore(cert.get()));
    out.not_after = time_of(X509_get0_notAfter(cert.get()));
    return out;
}

TimePoint renewal_time(const CertificateInfo& cert, double fraction) {
    const auto lifetime = cert.not_after - cert.not_before;
    return cert.not_before + std::chrono::duration_cast<Millis>(lifetime * fraction);
}

bool renewal_due(const CertificateInfo& cert, TimePoint now, double fraction) {
    return now >= renewal_time(cert, fraction);
}

Result<std::string> sign_base64(const std::string& key_pem, std::string_view message) {
    auto bio = bio_of(key_pem);
    std::unique_ptr<EVP_PKEY, RnPkeyFree> key(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
    if (!key) {
        ERR_clear_error();
        return Error{"the current key is not a readable PEM private key"};
    }
    std::unique_ptr<EVP_MD_CTX, RnMdFree> md(EVP_MD_CTX_new());
    const bool pure = EVP_PKEY_is_a(key.get(), "ED25519");
    std::size_t len = 0;
    const auto* data = reinterpret_cast<const unsigned char*>(message.data());
    if (!md || EVP_DigestSignInit(md.get(), nullptr, pure ? nullptr : EVP_sha256(), nullptr, key.get()) != 1 ||
        EVP_DigestSign(md.get(), nullptr, &len, data, message.size()) != 1) {
        ERR_clear_error();
        return Error{"cannot sign with the current key"};
    }
    std::string sig(len, '\0');
    if (EVP_DigestSign(md.get(), reinterpret_cast<unsigned char*>(sig.data()), &len, data, message.size()) != 1) {
        ERR_clear_error();
        return Error{"cannot sign with the current key"};
    }
    sig.resize(len);
    std::string out(4 * ((sig.size() + 2) / 3) + 1, '\0');
    const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                  reinterpret_cast<const unsigned char*>(sig.data()), static_cast<int>(sig.size()));
    out.resize(static_cast<std::size_t>(n));
    return out;
}

Result<EnrolledServer> read_enrolled_server(const Layout& layout) {
    const auto file = server_record(layout);
    const auto text = read_text(file);
    if (!text) return Error{file.string() + ": missing (enroll with pvfleet-edge enroll, or pass --server)", ErrorKind::not_found};
    const auto j = nlohmann::json::parse(*text, nullptr, false);
    if (!j.is_object() || !j.contains("server") || !j["server"].is_string())
        return Error{file.string() + ": expected {\"server\": \"https://…\", \"ca_file\": \"…\"}"};
    EnrolledServer out;
    out.server = j["server"].get<std::string>();
    if (j.contains("ca_file") && j["ca_file"].is_string()) out.ca_file = j["ca_file"].get<std::string>();
    return out;
}

Status write_enrolled_server(const Layout& layout, const EnrolledServer& server) {
    const nlohmann::json j = {{"server", server.server}, {"ca_file", server.ca_file}};
    return write_file_atomically(server_record(layout), j.dump(2) + "\n", 0644);
}

Result<RenewReply> read_renew_reply(const HttpReply& reply) {
    const auto body = nlohmann::json::parse(reply.body, nullptr, false);
    if (reply.status != 201) {
        std::string why = "HTTP " + std::to_string(reply.status);
        if (body.is_object() && body.contains("reason") && body["reason"].is_string()) why = body["reason"].get<std::string>();
        if (body.is_object() && body.contains("detail") && body["detail"].is_string())
            return Error{"refused by the server (" + why + "): " + body["detail"].get<std::string>(), ErrorKind::rejected};
        return Error{"refused by the server (" + why + ")", ErrorKind::rejected};
    }
    if (!body.is_object()) return Error{"the server's answer is not a JSON object"};
    RenewReply out;
    for (auto [key, field] : {std::pair{"certificate", &out.certificate_pem}, std::pair{"ca_chain", &out.ca_chain_pem},
                              std::pair{"serial", &out.serial}, std::pair{"not_after", &out.not_after},
                              std::pair{"renewed_from", &out.renewed_from}}) {
        if (!body.contains(key) || !body[key].is_string() || body[key].get<std::string>().empty())
            return Error{std::string("the server's answer has no ") + key};
        *field = body[key].get<std::string>();
    }
    if (out.certificate_pem.find("-----BEGIN CERTIFICATE-----") == std::string::npos ||
        out.ca_chain_pem.find("-----BEGIN CERTIFICATE-----") == std::string::npos)
        return Error{"the server's answer holds no PEM certificate"};
    return out;
}

Status install_renewed(const Layout& layout, const std::string& key_pem, const RenewReply& reply) {
    const auto key_next = with_suffix(layout.key(), ".next");
    const auto cert_next = with_suffix(layout.certificate(), ".next");
    PVF_CHECK(write_file_atomically(key_next, key_pem, 0600));
    PVF_CHECK(write_file_atomically(cert_next, reply.certificate_pem, 0644));
    // The pair in use stays at hand: .prev (an operator can go back while the old certificate is valid).
    if (const auto old_key = read_text(layout.key()))
        PVF_CHECK(write_file_atomically(with_suffix(layout.key(), ".prev"), *old_key, 0600));
    if (const auto old_cert = read_text(layout.certificate()))
        PVF_CHECK(write_file_atomically(with_suffix(layout.certificate(), ".prev"), *old_cert, 0644));
    PVF_CHECK(rename_file(key_next, layout.key()));
    PVF_CHECK(rename_file(cert_next, layout.certificate()));
    PVF_CHECK(sync_directory(layout.pki()));
    return write_file_atomically(layout.ca(), reply.ca_chain_pem, 0644);
}

Result<bool> recover_renewal(const Layout& layout) {
    const auto key_next = with_suffix(layout.key(), ".next");
    const auto cert_next = with_suffix(layout.certificate(), ".next");
    const auto cert_text = read_text(cert_next);
    const auto key_text = read_text(key_next);
    std::error_code ec;
    if (!cert_text) {
        if (key_text) std::filesystem::remove(key_next, ec);  // cut before the pair was whole: the old pair stands
        return false;
    }
    // The certificate's partner: the .next key, or (the key already moved) the key in place.
    const auto partner = key_text ? key_text : read_text(layout.key());
    if (!partner || !check_certificate_key(*cert_text, *partner)) {
        std::filesystem::remove(cert_next, ec);
        if (key_text) std::filesystem::remove(key_next, ec);
        return false;
    }
    if (key_text) PVF_CHECK(rename_file(key_next, layout.key()));
    PVF_CHECK(rename_file(cert_next, layout.certificate()));
    PVF_CHECK(sync_directory(layout.pki()));
    return true;
}

}  // namespace pvfleet::enroll
