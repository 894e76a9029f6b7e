#pragma once
// The gateway's side of enrollment (`pvfleet-edge enroll`, docs/fleet-enrollment.md). The private key is made
// here and never leaves the gateway; the server gets a CSR and the enrollment code and answers with a client
// certificate, the CA chain, the broker's URI and the site's initial config.
#include <chrono>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "pvfleet/util/result.hpp"

namespace pvfleet::enroll {

struct KeyAndCsr {
    std::string key_pem;  // PKCS#8, unencrypted: written mode 0600, never sent
    std::string csr_pem;
};
// A new EC P-256 key and a CSR over it (subject CN=pvfleet-gateway: the server names the certificate).
Result<KeyAndCsr> make_key_and_csr();

// The certificate the server signed is over `key_pem`'s key (a mix-up would leave the gateway unable to connect).
Status check_certificate_key(const std::string& certificate_pem, const std::string& key_pem);

// The code as typed (lower case, I/L for 1, O for 0, hyphens and blanks anywhere) read into XXXX-XXXX-XXXX-XXXX;
// an Error at "code" for a character that is no symbol, a wrong count, or a check symbol that does not match.
Result<std::string> read_typed_code(std::string_view typed);

// https://HOST[:PORT] (IPv6 in brackets), no path, query or user; errors name --server.
struct ServerUrl {
    std::string host;
    std::string port = "443";
};
Result<ServerUrl> parse_server_url(std::string_view url);

struct HttpReply {
    int status = 0;
    std::string body;
};
// POSTs a JSON body over HTTPS. The server's certificate is verified — against `ca_file` when given, else the
// system's trust store — and must name `host`; the answer's body is bounded (64 kB). Errors say what failed
// (connect, the certificate check, a timeout).
Result<HttpReply> post_json(const ServerUrl& server, const std::string& target, const std::string& body,
                            const std::string& ca_file, std::chrono::seconds timeout);

struct EnrollReply {
    std::string site_id, certificate_pem, ca_chain_pem, broker_uri, serial, not_after;
    nlohmann::json config;  // the site's initial config
};
// A 201 answer read into its parts; any other answer becomes an Error carrying the server's reason and detail
// ("refused by the server (used_code): this enrollment code was used at …").
Result<EnrollReply> read_reply(const HttpReply& reply);

// Where enrollment writes, beside the site config: pki/site.key (0600), pki/site.crt, pki/ca.crt, and, while the
// gateway has no site config yet, enrollment.json (the commissioning page starts from it).
struct Layout {
    std::filesystem::path config_file;
    [[nodiscard]] std::filesystem::path dir() const { return config_file.parent_path(); }
    [[nodiscard]] std::filesystem::path pki() const { return dir() / "pki"; }
    [[nodiscard]] std::filesystem::path key() const { return pki() / "site.key"; }
    [[nodiscard]] std::filesystem::path certificate() const { return pki() / "site.crt"; }
    [[nodiscard]] std::filesystem::path ca() const { return pki() / "ca.crt"; }
    [[nodiscard]] std::filesystem::path enrollment() const { return dir() / "enrollment.json"; }
};

// Writes FILE.tmp with `mode` (created with it, never wider), fsyncs it, renames it over FILE and fsyncs the
// folder: a power cut leaves the old file or the new one.
Status write_file_atomically(const std::filesystem::path& file, std::string_view text, unsigned mode);
Status sync_directory(const std::filesystem::path& dir);

// The site config after enrollment: `existing` (the gateway's config, when it has one) or the server's initial
// config, with the enrolled site id and an `mqtt` section for the broker and the new files (paths relative to
// the config's folder).
nlohmann::ordered_json site_config_after(const std::optional<nlohmann::ordered_json>& existing,
                                         const EnrollReply& reply);

}  // namespace pvfleet::enroll
