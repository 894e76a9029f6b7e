#include "enroll_code.hpp"

#include <algorithm>
#include <iostream>
#include <map>

#include "pvfleet/enrollment/code.hpp"
#include "pvfleet/enrollment/repository.hpp"
#include "pvfleet/util/number.hpp"
#include "pvfleet/util/time.hpp"

namespace pvfleet::server_app {

const char* const kEnrollCodeUsage =
    "enroll-code create --config FILE --site SITE_ID [--ttl 72h]   a one-time enrollment code for a gateway\n"
    "enroll-code list --config FILE --site SITE_ID                 the site's codes (state, expiry; never the code)\n"
    "enroll-code revoke --config FILE --id ID                      revoke an unused code\n";

namespace {

namespace en = enrollment;

int usage(const std::string& why) {
    std::cerr << "pvfleet-server enroll-code: " << why << "\nusage:\n" << kEnrollCodeUsage;
    return 2;
}

// "--name value" pairs after the subcommand; an unknown option or a missing value is an error.
bool read_options(const std::vector<std::string>& rest, const std::vector<std::string>& known,
                  std::map<std::string, std::string>& out, std::string& why) {
    for (std::size_t i = 1; i < rest.size(); i += 2) {
        if (std::find(known.begin(), known.end(), rest[i]) == known.end()) {
            why = "unexpected argument '" + rest[i] + "'";
            return false;
        }
        if (i + 1 >= rest.size()) {
            why = rest[i] + ": value missing";
            return false;
        }
        out[rest[i]] = rest[i + 1];
    }
    return true;
}

int create(const std::map<std::string, std::string>& o, const ServerConfig& config, storage::Db& db,
           const Clock& clock) {
    const auto site = o.find("--site");
    if (site == o.end()) return usage("create: --site SITE_ID is required");
    const en::Settings settings = config.enrollment ? config.enrollment->settings : en::Settings{};
    std::chrono::seconds ttl = settings.code_ttl_default;
    if (const auto t = o.find("--ttl"); t != o.end()) {
        auto parsed = en::parse_ttl(t->second, settings.code_ttl_max);
        if (!parsed) return usage("--" + parsed.error().message);
        ttl = *parsed;
    }
    auto made = en::create_code(db, site->second, ttl, "cli", clock.now());
    if (!made) {
        std::cerr << "pvfleet-server enroll-code create: " << made.error().message << "\n";
        return 1;
    }
    std::cout << en::display_code(made->code) << "\n";
    std::cerr << "enrollment code " << made->record.id << " for site " << made->record.site_id << ", valid until "
              << format_iso8601(made->record.expires_at) << " (shown once: it is stored only as a hash)\n";
    if (!config.enrollment)
        std::cerr << "note: this server's config has no enrollment section, so it enrolls no gateway yet\n";
    return 0;
}

int list(const std::map<std::string, std::string>& o, storage::Db& db, const Clock& clock) {
    const auto site = o.find("--site");
    if (site == o.end()) return usage("list: --site SITE_ID is required");
    auto codes = en::list_codes(db, site->second);
    if (!codes) {
        std::cerr << "pvfleet-server enroll-code list: " << codes.error().message << "\n";
        return 1;
    }
    const TimePoint now = clock.now();
    for (const auto& c : *codes)
        std::cout << c.id << "  …" << c.hint << "  " << en::to_string(en::state_of(c, now)) << "  expires "
                  << format_iso8601(c.expires_at) << "  by " << c.created_by
                  << (c.certificate_serial ? "  certificate " + *c.certificate_serial : std::string()) << "\n";
    return 0;
}

int revoke(const std::map<std::string, std::string>& o, storage::Db& db, const Clock& clock) {
    const auto id_text = o.find("--id");
    if (id_text == o.end()) return usage("revoke: --id ID is required");
    const auto id = parse_number<std::int64_t>(id_text->second);
    if (!id) return usage("--id: expected a number, got '" + id_text->second + "'");
    auto revoked = en::revoke_code(db, *id, "cli", clock.now());
    if (!revoked) {
        std::cerr << "pvfleet-server enroll-code revoke: " << revoked.error().message << "\n";
        return 1;
    }
    std::cout << "enrollment code " << revoked->id << " (…" << revoked->hint << ") revoked\n";
    return 0;
}

}  // namespace

int run_enroll_code(const std::vector<std::string>& rest, const ServerConfig& config, storage::Db& db,
                    const Clock& clock) {
    if (rest.empty()) return usage("expected create, list or revoke");
    std::map<std::string, std::string> o;
    std::string why;
    if (!read_options(rest, {"--site", "--ttl", "--id"}, o, why)) return usage(why);
    if (rest[0] == "create") return create(o, config, db, clock);
    if (rest[0] == "list") return list(o, db, clock);
    if (rest[0] == "revoke") return revoke(o, db, clock);
    return usage("unknown subcommand '" + rest[0] + "' (expected create, list or revoke)");
}

}  // namespace pvfleet::server_app
