// pvfleet-edge renew: the gateway's certificate renewed before it expires (docs/fleet-enrollment.md, "Renewal").
// Run daily by pvfleet-edge-renew.timer: nothing happens until the configured fraction of the certificate's
// lifetime has passed; then a new key (0600, never sent) and CSR, signed with the current key, go to the server it
// enrolled with; the new pair is installed atomically (the old one kept as .prev) and the agent reconnects with it
// (pvfleet-edge-credentials.path restarts it when pki/site.crt changes).
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>

#include "pvfleet/enroll/renew.hpp"
#include "pvfleet/util/time.hpp"
#include "verbs.hpp"

namespace pvfleet::edge_app {
namespace {

constexpr const char* kRenewUsage =
    "usage: pvfleet-edge renew [--config SITE.json] [--fraction 0.67] [--force] [--server https://HOST[:PORT]]\n"
    "                          [--ca FILE] [--timeout SECONDS]\n"
    "  --fraction  renew once this share of the certificate's lifetime has passed (0.1..0.95; default 0.67)\n"
    "  --force     renew now, whatever the fraction\n"
    "  --server, --ca  the server (default: where the gateway enrolled, pki/server.json)\n"
    "exit status: 0 renewed, 3 not due yet, 1 failed (the current certificate stays in place), 2 usage\n";

int renew_fail(const std::string& why, int code = 1) {
    std::cerr << "pvfleet-edge renew: " << why << "\n";
    return code;
}

std::optional<std::string> read_text(const std::filesystem::path& file) {
    std::ifstream in(file, std::ios::binary);
    if (!in) return std::nullopt;
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
}

std::optional<double> parse_fraction(const std::string& s) {
    try {
        std::size_t used = 0;
        const double v = std::stod(s, &used);
        if (used != s.size() || v < 0.1 || v > 0.95) return std::nullopt;
        return v;
    } catch (const std::exception&) {
        return std::nullopt;
    }
}

}  // namespace

int cmd_renew(const Args& args) {
    std::map<std::string, std::string> o{{"--config", "/etc/pvfleet/site.json"}, {"--timeout", "30"}, {"--fraction", "0.67"}};
    bool force = false;
    for (std::size_t i = 0; i < args.size(); ++i) {
        if (args[i] == "--help" || args[i] == "-h") {
            std::cout << kRenewUsage;
            return 0;
        }
        if (args[i] == "--force") {
            force = true;
            continue;
        }
        if (args[i] != "--config" && args[i] != "--fraction" && args[i] != "--server" && args[i] != "--ca" &&
            args[i] != "--timeout")
            return renew_fail("unexpected argument '" + args[i] + "'\n" + kRenewUsage, 2);
        if (i + 1 >= args.size()) return renew_fail(args[i] + ": value missing", 2);
        o[args[i]] = args[i + 1];
        ++i;
    }
    const auto fraction = parse_fraction(o["--fraction"]);
    if (!fraction) return renew_fail("--fraction: expected a number from 0.1 to 0.95", 2);
    const auto timeout = to_int(o["--timeout"]);
    if (!timeout || *timeout < 1 || *timeout > 600) return renew_fail("--timeout: expected 1..600 seconds", 2);
    const enroll::Layout layout{std::filesystem::absolute(o["--config"])};

    // A renewal cut short by a power loss is finished first.
    if (auto recovered = enroll::recover_renewal(layout); !recovered)
        return renew_fail(recovered.error().message);
    else if (*recovered)
        std::cout << "finished an interrupted renewal in " << layout.pki().string() << "\n";

    const auto cert_pem = read_text(layout.certificate());
    const auto key_pem = read_text(layout.key());
    if (!cert_pem || !key_pem)
        return renew_fail(layout.certificate().string() + " or " + layout.key().string() +
                          " missing: enroll first (pvfleet-edge enroll)");
    auto current = enroll::read_certificate(*cert_pem);
    if (!current) return renew_fail(layout.certificate().string() + ": " + current.error().message);
    const TimePoint now = SystemClock{}.now();
    if (!force && !enroll::renewal_due(*current, now, *fraction)) {
        std::cout << "certificate " << current->serial << " valid until " << format_iso8601(current->not_after)
                  << ": renewal due at " << format_iso8601(enroll::renewal_time(*current, *fraction)) << "\n";
        return 3;
    }
    if (now >= current->not_after)
        std::cerr << "pvfleet-edge renew: the certificate expired at " << format_iso8601(current->not_after)
                  << "; the server will refuse it: enroll again with a new code\n";

    enroll::EnrolledServer where;
    if (!o["--server"].empty()) {
        where.server = o["--server"];
        where.ca_file = o["--ca"];
    } else {
        auto recorded = enroll::read_enrolled_server(layout);
        if (!recorded) return renew_fail(recorded.error().message);
        where = *recorded;
        if (!o["--ca"].empty()) where.ca_file = o["--ca"];
    }
    auto server = enroll::parse_server_url(where.server);
    if (!server) return renew_fail(server.error().message, 2);

    auto fresh = enroll::make_key_and_csr();
    if (!fresh) return renew_fail(fresh.error().message);
    auto signature = enroll::sign_base64(*key_pem, fresh->csr_pem);
    if (!signature) return renew_fail(layout.key().string() + ": " + signature.error().message);
    const nlohmann::json request = {{"certificate", *cert_pem}, {"csr", fresh->csr_pem}, {"signature", *signature}};
    auto reply = enroll::post_json(*server, "/api/renew", request.dump(), where.ca_file, std::chrono::seconds(*timeout));
    auto renewed = reply ? enroll::read_renew_reply(*reply) : Result<enroll::RenewReply>(reply.error());
    if (renewed)
        if (auto s = enroll::check_certificate_key(renewed->certificate_pem, fresh->key_pem); !s) renewed = s.error();
    if (!renewed) return renew_fail(renewed.error().message + " (the current certificate stays in place)");
    if (auto s = enroll::install_renewed(layout, fresh->key_pem, *renewed); !s)
        return renew_fail(s.error().message + " (run pvfleet-edge renew again to finish)");
    std::cout << "renewed certificate " << renewed->renewed_from << " as " << renewed->serial << ", valid until "
              << renewed->not_after << " (previous pair kept as " << layout.certificate().string() << ".prev)\n";
    return 0;
}

}  // namespace pvfleet::edge_app
