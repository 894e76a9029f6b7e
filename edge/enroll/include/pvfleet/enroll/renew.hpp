#pragma once
// Renewal of the gateway's certificate before it expires (`pvfleet-edge renew`, docs/fleet-enrollment.md,
// "Renewal"). At a configured fraction of the certificate's lifetime the gateway makes a new key and CSR, signs the
// CSR's PEM text with its current key (proof that it holds the certificate the server issued) and posts both with
// the current certificate to POST /api/renew on the server it enrolled with (pki/server.json). The new key and
// certificate are installed as a pair: both written as .next files, then renamed into place (key, then
// certificate), the old pair kept as .prev; an install cut short is finished by recover_renewal.
#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include "pvfleet/enroll/enroll.hpp"
#include "pvfleet/util/clock.hpp"
#include "pvfleet/util/result.hpp"

namespace pvfleet::enroll {

struct CertificateInfo {
    std::string serial;  // upper-case hex
    std::string common_name;
    TimePoint not_before{}, not_after{};
};
Result<CertificateInfo> read_certificate(std::string_view pem);

// True once `fraction` (0 < fraction < 1) of the lifetime has passed, or the certificate expired.
bool renewal_due(const CertificateInfo& cert, TimePoint now, double fraction);
// When renewal is due.
TimePoint renewal_time(const CertificateInfo& cert, double fraction);

// The base64 signature of `message` with the PEM key (SHA-256; pure Ed25519 for an Ed25519 key).
Result<std::string> sign_base64(const std::string& key_pem, std::string_view message);

// Where the gateway enrolled: written by `pvfleet-edge enroll` to pki/server.json.
struct EnrolledServer {
    std::string server;   // https://HOST[:PORT]
    std::string ca_file;  // the server's HTTPS CA (empty: the system's trusted CAs)
};
Result<EnrolledServer> read_enrolled_server(const Layout& layout);
Status write_enrolled_server(const Layout& layout, const EnrolledServer& server);
[[nodiscard]] inline std::filesystem::path server_record(const Layout& layout) { return layout.pki() / "server.json"; }

struct RenewReply {
    std::string certificate_pem, ca_chain_pem, serial, not_after, renewed_from;
};
// A 201 answer read; any other answer an Error carrying the server's reason and detail.
Result<RenewReply> read_renew_reply(const HttpReply& reply);

// Installs the new pair: site.key.next (0600) and site.crt.next written whole, the current pair copied to .prev,
// then key and certificate renamed into place, then the CA chain.
Status install_renewed(const Layout& layout, const std::string& key_pem, const RenewReply& reply);
// After a power cut during install_renewed: a .next pair left behind is finished (renamed into place) when it is
// whole and matches; a half pair is removed. Returns true when something was finished.
Result<bool> recover_renewal(const Layout& layout);

}  // namespace pvfleet::enroll
