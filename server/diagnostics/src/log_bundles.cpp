#include "pvfleet/diagnostics/log_bundles.hpp"

#include <fcntl.h>
#include <openssl/rand.h>
#include <unistd.h>

#include <cstdio>
#include <ctime>
#include <nlohmann/json.hpp>

#include "pvfleet/storage/work_orders.hpp"
#include "pvfleet/util/file_io.hpp"
#include "pvfleet/util/number.hpp"

namespace pvfleet::diagnostics {
namespace {

namespace fs = std::filesystem;
constexpr std::string_view kIdPrefix = "lb-";
constexpr std::size_t kIdHexDigits = 16;
constexpr const char* kSelect =
    "SELECT b.id, b.site_id, b.state, b.hours, b.max_bytes, b.size_bytes, b.detail, b.requested_by, "
    "b.requested_at_ms, b.expires_at_ms, b.received_at_ms, c.status, c.detail "
    "FROM log_bundles b LEFT JOIN commands c ON c.command_id = b.id";

// What the link's token is over: the bundle and its size limit in the releases' "sha256" place (a bundle id
// has a
// '/' where a SHA-256 never has one, so a release link is never a bundle link, besides the separate keys).
std::string link_subject(const std::string& id, std::string_view max_bytes) {
    return "log-bundle/" + id + "/" + std::string(max_bytes);
}

// A bundle as stored, with its state as of `now`: a requested one is failed when its gateway said so or when
// its link expired without an upload.
LogBundle from_row(const storage::Row& r, TimePoint now) {
    LogBundle b;
    b.id = r.text(0);
    b.site_id = r.text(1);
    const std::string state = r.text(2);
    b.state = state == "received" ? BundleState::received
              : state == "failed" ? BundleState::failed
                                  : BundleState::requested;
    b.hours = static_cast<std::uint32_t>(r.integer(3));
    b.max_bytes = static_cast<std::uint64_t>(r.integer(4));
    if (auto s = r.opt_integer(5)) b.size = static_cast<std::uint64_t>(*s);
    b.detail = r.text(6);
    b.requested_by = r.text(7);
    b.requested_at = from_epoch_ms(r.integer(8));
    b.expires_at = from_epoch_ms(r.integer(9));
    if (auto t = r.opt_integer(10)) b.received_at = from_epoch_ms(*t);
    const std::string ack = r.text(11), ack_detail = r.text(12);
    if (b.state == BundleState::requested) {
        if (ack == "failed" || ack == "rejected" || ack == "stale") {
            b.state = BundleState::failed;
            b.detail = ack + ": " + ack_detail;
        } else if (b.expires_at < now) {
            b.state = BundleState::failed;
            b.detail =
                "no upload before the link expired" + (ack_detail.empty() ? "" : " (" + ack_detail + ")");
        } else if (!ack_detail.empty()) {
            b.detail = ack_detail;  // "collecting …", or "uploaded …" just before the upload is stored
        }
    }
    return b;
}

std::string random_id() {
    unsigned char bytes[kIdHexDigits / 2];
    if (RAND_bytes(bytes, sizeof bytes) != 1) return {};
    static constexpr char kHex[] = "0123456789abcdef";
    std::string id(kIdPrefix);
    for (unsigned char c : bytes) {
        id += kHex[c >> 4];
        id += kHex[c & 15];
    }
    return id;
}

Status fsync_path(const fs::path& p) {
    const int fd = ::open(p.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return Error{"'" + p.string() + "' cannot be opened", ErrorKind::io};
    const int rc = ::fsync(fd);
    ::close(fd);
    if (rc != 0) return Error{"'" + p.string() + "': fsync failed", ErrorKind::io};
    return {};
}

// The spooled `from` to `to`: renamed, or copied when on another filesystem; fsynced.
Status move_file(const fs::path& from, const fs::path& to) {
    std::error_code ec;
    fs::rename(from, to, ec);
    if (ec) {
        ec.clear();
        fs::copy_file(from, to, fs::copy_options::overwrite_existing, ec);
        if (ec) return Error{"'" + to.string() + "': " + ec.message(), ErrorKind::io};
        fs::remove(from, ec);
    }
    return fsync_path(to);
}

std::string compact_time(TimePoint t) {
    const std::time_t s = static_cast<std::time_t>(to_epoch_ms(t) / 1000);
    std::tm tm{};
    gmtime_r(&s, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y%m%dT%H%M%SZ", &tm);
    return buf;
}

}  // namespace

std::string_view to_string(BundleState s) {
    switch (s) {
        case BundleState::requested:
            return "requested";
        case BundleState::received:
            return "received";
        case BundleState::failed:
            return "failed";
    }
    return "requested";
}

bool valid_bundle_id(std::string_view id) {
    if (id.size() != kIdPrefix.size() + kIdHexDigits || id.substr(0, kIdPrefix.size()) != kIdPrefix)
        return false;
    for (char c : id.substr(kIdPrefix.size()))
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
    return true;
}

Result<std::shared_ptr<Runtime>> load_runtime(Settings settings) {
    std::error_code ec;
    fs::create_directories(settings.dir, ec);
    if (ec)
        return Error{"diagnostics: '" + settings.dir.string() + "' cannot be made: " + ec.message(),
                     ErrorKind::io};
    auto rt = std::make_shared<Runtime>();
    PVF_TRY(rt->link_key, releases::load_or_make_link_key(settings.dir / "link.key"));
    rt->settings = std::move(settings);
    return rt;
}

std::string upload_url(const Runtime& rt, const std::string& id, const std::string& site,
                       std::uint64_t max_bytes, TimePoint expires) {
    const auto expires_s = to_epoch_ms(expires) / 1000;
    const std::string max = std::to_string(max_bytes);
    std::string base = rt.settings.public_url;
    while (!base.empty() && base.back() == '/') base.pop_back();
    return base + "/api/log-bundles/" + id + "/upload?site=" + site + "&max=" + max +
           "&expires=" + std::to_string(expires_s) +
           "&token=" + releases::link_token(rt.link_key, link_subject(id, max), site, expires_s);
}

bool upload_link_valid(const Runtime& rt, const std::string& id, std::string_view site,
                       std::string_view max_bytes, std::string_view expires, std::string_view token,
                       TimePoint now) {
    if (!valid_bundle_id(id) || !parse_number<std::uint64_t>(max_bytes)) return false;
    return releases::link_valid(rt.link_key, link_subject(id, max_bytes), std::string(site), expires, token,
                                now);
}

std::size_t upload_body_limit(const Runtime& rt, TimePoint now, std::string_view method,
                              std::string_view target) {
    if (method != "PUT" && method != "POST") return 0;
    constexpr std::string_view kPrefix = "/api/log-bundles/", kSuffix = "/upload";
    const auto q = target.find('?');
    const std::string_view path = target.substr(0, q);
    if (q == std::string_view::npos || path.size() <= kPrefix.size() + kSuffix.size() ||
        path.substr(0, kPrefix.size()) != kPrefix || path.substr(path.size() - kSuffix.size()) != kSuffix)
        return 0;
    const std::string id(path.substr(kPrefix.size(), path.size() - kPrefix.size() - kSuffix.size()));
    std::string_view site, max, expires, token;
    for (std::string_view rest = target.substr(q + 1); !rest.empty();) {
        const auto amp = rest.find('&');
        const std::string_view pair = rest.substr(0, amp);
        rest = amp == std::string_view::npos ? std::string_view{} : rest.substr(amp + 1);
        const auto eq = pair.find('=');
        if (eq == std::string_view::npos) continue;
        const std::string_view k = pair.substr(0, eq), v = pair.substr(eq + 1);
        if (k == "site")
            site = v;
        else if (k == "max")
            max = v;
        else if (k == "expires")
            expires = v;
        else if (k == "token")
            token = v;
    }
    if (!upload_link_valid(rt, id, site, max, expires, token, now)) return 0;
    return static_cast<std::size_t>(
        std::min<std::uint64_t>(*parse_number<std::uint64_t>(max), protocol::LogBundleCommand::kMaxBytes));
}

Result<Requested> request_bundle(storage::Db& db, const Runtime& rt, const std::string& site,
                                 std::uint32_t hours, std::uint64_t max_bytes, const std::string& actor,
                                 TimePoint now) {
    if (hours < protocol::LogBundleCommand::kMinHours || hours > protocol::LogBundleCommand::kMaxHours)
        return Error::at("hours", "expected 1..168");
    if (max_bytes < protocol::LogBundleCommand::kMinBytes ||
        max_bytes > protocol::LogBundleCommand::kMaxBytes)
        return Error::at("max_bytes", "expected 65536..16777216");
    PVF_TRY(auto known, db.run("SELECT 1 FROM sites WHERE site_id = $1", {site}));
    if (known.rows.empty()) return Error{"no site " + site, ErrorKind::not_found};
    Requested out;
    LogBundle& b = out.bundle;
    b.id = random_id();
    if (b.id.empty()) return Error{"no random bytes for a bundle id", ErrorKind::io};
    b.site_id = site;
    b.hours = hours;
    b.max_bytes = max_bytes;
    b.requested_by = actor;
    b.requested_at = now;
    b.expires_at = now + rt.settings.link_lifetime;
    const Status written = storage::in_transaction(db, [&]() -> Status {
        PVF_CHECK(db.run(
            "INSERT INTO log_bundles (id, site_id, state, hours, max_bytes, requested_by, requested_at_ms, "
            "expires_at_ms) VALUES ($1, $2, 'requested', $3, $4, $5, $6, $7)",
            {b.id, site, std::int64_t{hours}, static_cast<std::int64_t>(max_bytes), actor,
             std::int64_t{to_epoch_ms(now)}, std::int64_t{to_epoch_ms(b.expires_at)}}));
        const nlohmann::json after = {{"site_id", site}, {"hours", hours}, {"max_bytes", max_bytes}};
        return storage::append_audit(db, now, actor, "log bundle requested", "log_bundle", b.id, std::nullopt,
                                     after.dump());
    });
    PVF_CHECK(written);
    protocol::Command& c = out.command;
    c.site_id = site;
    c.command_id = b.id;
    c.issued_at = now;
    c.expires_at = b.expires_at;  // a gateway that comes back later cannot upload anyway
    c.body =
        protocol::LogBundleCommand{hours, max_bytes, upload_url(rt, b.id, site, max_bytes, b.expires_at)};
    return out;
}

Status mark_unsent(storage::Db& db, const std::string& id, const std::string& reason) {
    PVF_CHECK(
        db.run("UPDATE log_bundles SET state = 'failed', detail = $2 WHERE id = $1 AND state = 'requested'",
               {id, "not sent: " + reason}));
    return {};
}

Result<LogBundle> store_upload(storage::Db& db, const Runtime& rt, const std::string& id,
                               const std::string& site, const fs::path& file, std::string_view body,
                               TimePoint now) {
    if (!valid_bundle_id(id)) return Error{"no such bundle", ErrorKind::not_found};
    PVF_TRY(auto found, get_bundle(db, id, now));
    if (!found || found->site_id != site) return Error{"no such bundle", ErrorKind::not_found};
    if (found->state != BundleState::requested)
        return Error{"bundle " + id + " is " + std::string(to_string(found->state)) + " already",
                     ErrorKind::conflict};
    std::error_code ec;
    const std::uint64_t size = file.empty() ? body.size() : fs::file_size(file, ec);
    if (ec) return Error{"the upload cannot be read: " + ec.message(), ErrorKind::io};
    if (size > found->max_bytes)
        return Error{
            std::to_string(size) + " bytes, more than the bundle's " + std::to_string(found->max_bytes),
            ErrorKind::rejected};
    // Named by the stored id alone. A file left by a crash between the move and the row is replaced.
    const fs::path dest = file_of(rt.settings, *found);
    if (auto moved = file.empty() ? util::write_file_synced(dest, body) : move_file(file, dest); !moved) {
        fs::remove(dest, ec);
        return moved.error();
    }
    (void)fsync_path(rt.settings.dir);
    auto stored = storage::in_transaction(db, [&]() -> Status {
        PVF_TRY(auto r,
                db.run("UPDATE log_bundles SET state = 'received', size_bytes = $2, received_at_ms = $3 "
                       "WHERE id = $1 AND state = 'requested'",
                       {id, static_cast<std::int64_t>(size), std::int64_t{to_epoch_ms(now)}}));
        if (r.affected != 1) return Error{"bundle " + id + " was taken meanwhile", ErrorKind::conflict};
        const nlohmann::json after = {{"site_id", site}, {"size", size}};
        return storage::append_audit(db, now, "gateway " + site, "log bundle received", "log_bundle", id,
                                     std::nullopt, after.dump());
    });
    if (!stored) {
        fs::remove(dest, ec);
        return stored.error();
    }
    found->state = BundleState::received;
    found->size = size;
    found->received_at = now;
    return *found;
}

Result<std::vector<LogBundle>> list_bundles(storage::Db& db, const std::string& site, TimePoint now) {
    PVF_TRY(auto r, db.run(std::string(kSelect) +
                               " WHERE b.site_id = $1 ORDER BY b.requested_at_ms DESC, b.id LIMIT 100",
                           {site}));
    std::vector<LogBundle> out;
    for (const auto& row : r.rows) out.push_back(from_row(row, now));
    return out;
}

Result<std::optional<LogBundle>> get_bundle(storage::Db& db, const std::string& id, TimePoint now) {
    PVF_TRY(auto r, db.run(std::string(kSelect) + " WHERE b.id = $1", {id}));
    if (r.rows.empty()) return std::optional<LogBundle>{};
    return std::optional<LogBundle>{from_row(r.rows[0], now)};
}

fs::path file_of(const Settings& settings, const LogBundle& b) {
    return settings.dir / (b.id + ".json");
}

std::string download_name(const LogBundle& b) {
    return "pvfleet-log-bundle-" + b.site_id + "-" + compact_time(b.requested_at) + ".json";
}

Result<int> purge_expired(storage::Db& db, const Settings& settings, TimePoint now) {
    const std::int64_t before = to_epoch_ms(now - settings.retention);
    PVF_TRY(auto old, db.run("SELECT id FROM log_bundles WHERE requested_at_ms < $1", {before}));
    int removed = 0;
    for (const auto& row : old.rows) {
        const std::string id = row.text(0);
        if (!valid_bundle_id(id)) continue;
        std::error_code ec;
        fs::remove(settings.dir / (id + ".json"), ec);
        if (ec)
            return Error{"'" + (settings.dir / (id + ".json")).string() + "': " + ec.message(),
                         ErrorKind::io};
        PVF_CHECK(db.run("DELETE FROM log_bundles WHERE id = $1", {id}));
        ++removed;
    }
    return removed;
}

}  // namespace pvfleet::diagnostics
