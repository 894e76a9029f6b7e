// pvfleet-edge enroll: the gateway joins the fleet with an enrollment code (docs/fleet-enrollment.md). Its key is
// made here and never leaves it; the server signs a client certificate for the code's site. The key (0600), the
// certificate and the CA chain go to pki/ beside the site config; the site config gets the broker and those files
// (installed atomically, the previous one kept as SITE.json.prev), or, while the gateway has none yet,
// enrollment.json holds the server's initial config for the commissioning page to start from.
#include <cctype>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <optional>
#include <sstream>

#include "pvfleet/agent/config_install.hpp"
#include "pvfleet/enroll/enroll.hpp"
#include "pvfleet/enroll/renew.hpp"
#include "enroll_gateway.hpp"
#include "verbs.hpp"

namespace pvfleet::edge_app {
namespace {

constexpr const char* kEnrollUsage =
    "usage: pvfleet-edge enroll --server https://HOST[:PORT] --code CODE [--ca FILE] [--config SITE.json]\n"
    "                           [--timeout SECONDS]\n"
    "  --ca       the CA of the server's HTTPS certificate (default: the system's trusted CAs)\n"
    "  --config   the site config whose folder receives pki/ (default /etc/pvfleet/site.json)\n";

int enroll_fail(const std::string& why, int code = 1) {
    std::cerr << "pvfleet-edge enroll: " << why << "\n";
    return code;
}

// The code as typed, checked only for its shape (the server checks the rest and says why).
std::optional<std::string> code_shape(const std::string& typed) {
    std::string symbols;
    for (const char c : typed) {
        if (c == '-' || c == ' ') continue;
        if (!std::isalnum(static_cast<unsigned char>(c))) return std::nullopt;
        symbols.push_back(c);
    }
    if (symbols.size() != 16) return std::nullopt;
    return typed;
}

std::optional<nlohmann::ordered_json> read_existing_config(const std::filesystem::path& file, std::string& error) {
    std::error_code ec;
    if (!std::filesystem::exists(file, ec)) return std::nullopt;
    std::ifstream in(file, std::ios::binary);
    std::ostringstream text;
    text << in.rdbuf();
    auto doc = nlohmann::ordered_json::parse(text.str(), nullptr, false);
    if (!in || doc.is_discarded() || !doc.is_object()) error = file.string() + ": not a JSON object";
    return doc;
}

// The config after enrollment, installed (existing config) or kept as enrollment.json (none yet); the message says
// which and what comes next.
Result<std::string> store_config(const enroll::Layout& layout, const std::optional<nlohmann::ordered_json>& existing,
                                 const enroll::EnrollReply& reply) {
    const std::string text = enroll::site_config_after(existing, reply).dump(2) + "\n";
    if (!existing) {
        PVF_CHECK(enroll::write_file_atomically(layout.enrollment(), text, 0644));
        return "no site config yet: the server's initial config is in " + layout.enrollment().string() +
               "\nnext: add the devices on the gateway page's commissioning screen (it starts from this site)";
    }
    if (auto checked = agent::check_first_config(text, layout.config_file); !checked)
        return Error{"the credentials are stored in " + layout.pki().string() + ", but " + layout.config_file.string() +
                     " with them does not pass its check, so it was left unchanged:\n" + checked.error().message};
    PVF_CHECK(agent::install_config_file(layout.config_file, text));
    return layout.config_file.string() + " now names site " + reply.site_id + " and the broker (previous config kept as " +
           agent::previous_config_path(layout.config_file).string() +
           ")\nrestart the agent to connect: systemctl restart pvfleet-edge";
}

// Certificate and chain written, then the key moved into place: each file whole or not at all.
Status store_credentials(const enroll::Layout& layout, const std::filesystem::path& pending_key,
                         const enroll::EnrollReply& reply) {
    PVF_CHECK(enroll::write_file_atomically(layout.certificate(), reply.certificate_pem, 0644));
    PVF_CHECK(enroll::write_file_atomically(layout.ca(), reply.ca_chain_pem, 0644));
    if (::rename(pending_key.c_str(), layout.key().c_str()) != 0)
        return Error{"cannot move " + pending_key.string() + " to " + layout.key().string(), ErrorKind::io};
    return enroll::sync_directory(layout.pki());
}

}  // namespace

Result<EnrollSummary> enroll_gateway(const EnrollInput& in) {
    auto server = enroll::parse_server_url(in.server);
    if (!server) return server.error();
    if (!code_shape(in.code)) return Error::at("code", "expected 16 letters and digits, as XXXX-XXXX-XXXX-XXXX");
    const enroll::Layout layout{std::filesystem::absolute(in.config_file)};
    std::string config_error;
    const auto existing = read_existing_config(layout.config_file, config_error);
    if (!config_error.empty()) return Error{config_error + " (fix or remove it first; the code was not used)"};
    std::error_code ec;
    std::filesystem::create_directories(layout.pki(), ec);
    if (ec) return Error{"cannot create " + layout.pki().string() + ": " + ec.message() + " (the code was not used)"};

    // The key is written before the code is spent: a folder the agent cannot write fails here, not after.
    auto credentials = enroll::make_key_and_csr();
    if (!credentials) return credentials.error();
    std::filesystem::path pending_key = layout.key();
    pending_key += ".pending";
    if (auto s = enroll::write_file_atomically(pending_key, credentials->key_pem, 0600); !s)
        return Error{s.error().message + " (the code was not used)"};

    const nlohmann::json request = {{"code", in.code}, {"csr", credentials->csr_pem}};
    auto reply = enroll::post_json(*server, "/api/enroll", request.dump(), in.ca_file, in.timeout);
    Result<enroll::EnrollReply> enrolled = reply ? enroll::read_reply(*reply) : Result<enroll::EnrollReply>(reply.error());
    if (enrolled) {
        if (auto s = enroll::check_certificate_key(enrolled->certificate_pem, credentials->key_pem); !s)
            enrolled = s.error();
    }
    if (!enrolled) {
        std::filesystem::remove(pending_key, ec);
        return enrolled.error();
    }
    if (auto s = store_credentials(layout, pending_key, *enrolled); !s)
        return Error{s.error().message + " (the code is spent: ask the back office for a new one)"};
    EnrollSummary out;
    out.site_id = enrolled->site_id;
    out.serial = enrolled->serial;
    out.not_after = enrolled->not_after;
    out.broker_uri = enrolled->broker_uri;
    // Where renewal goes later (pvfleet-edge renew).
    std::string ca_file = in.ca_file;
    if (!ca_file.empty()) ca_file = std::filesystem::absolute(ca_file).string();
    if (auto s = enroll::write_enrolled_server(layout, {in.server, ca_file}); !s)
        out.warnings.push_back(s.error().message + " (renewal will need --server)");
    out.lines.push_back("enrolled as site " + out.site_id + ": certificate " + out.serial + " valid until " +
                        out.not_after + ", broker " + out.broker_uri);
    out.lines.push_back("key " + layout.key().string() + " (0600, made here, never sent), certificate " +
                        layout.certificate().string() + ", CA chain " + layout.ca().string());
    auto stored = store_config(layout, existing, *enrolled);
    if (!stored) return stored.error();
    out.config_installed = existing.has_value();
    out.lines.push_back(*stored);
    return out;
}

int cmd_enroll(const Args& args) {
    std::map<std::string, std::string> o{{"--config", "/etc/pvfleet/site.json"}, {"--timeout", "30"}};
    for (std::size_t i = 0; i < args.size(); i += 2) {
        if (args[i] == "--help" || args[i] == "-h") {
            std::cout << kEnrollUsage;
            return 0;
        }
        if (args[i] != "--server" && args[i] != "--code" && args[i] != "--ca" && args[i] != "--config" &&
            args[i] != "--timeout")
            return enroll_fail("unexpected argument '" + args[i] + "'\n" + kEnrollUsage, 2);
        if (i + 1 >= args.size()) return enroll_fail(args[i] + ": value missing", 2);
        o[args[i]] = args[i + 1];
    }
    if (o["--server"].empty() || o["--code"].empty()) return enroll_fail(std::string("--server and --code are required\n") + kEnrollUsage, 2);
    if (auto server = enroll::parse_server_url(o["--server"]); !server) return enroll_fail(server.error().message, 2);
    if (!code_shape(o["--code"]))
        return enroll_fail("--code: expected 16 letters and digits, as XXXX-XXXX-XXXX-XXXX", 2);
    const auto timeout = to_int(o["--timeout"]);
    if (!timeout || *timeout < 1 || *timeout > 600) return enroll_fail("--timeout: expected 1..600 seconds", 2);
    auto done = enroll_gateway({o["--server"], o["--code"], o["--ca"], o["--config"], std::chrono::seconds(*timeout)});
    if (!done) return enroll_fail(done.error().message);
    for (const auto& w : done->warnings) std::cerr << "pvfleet-edge enroll: " << w << "\n";
    for (const auto& line : done->lines) std::cout << line << "\n";
    return 0;
}

}  // namespace pvfleet::edge_app
