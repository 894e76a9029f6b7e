#pragma once
// Releases of the gateway package (docs/updates.md). An admin uploads a `.deb` and its signature (Ed25519 over
// the file's SHA-256, scripts/sign-release); the server checks the signature against its trusted keys
// (`releases.keys_dir`), reads package, version and architecture from the package's control file (dpkg-deb),
// and keeps the file under `releases.dir` named by its SHA-256 (content-addressed: the same file uploaded twice
// is one file). Table `releases`: one row per (package, version, architecture).
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "pvfleet/release/signature.hpp"
#include "pvfleet/storage/db.hpp"
#include "pvfleet/util/clock.hpp"
#include "pvfleet/util/result.hpp"

namespace pvfleet::releases {

struct Settings {
    std::filesystem::path dir;       // the files, <sha256>.deb
    std::filesystem::path keys_dir;  // trusted Ed25519 public keys (*.pem)
    std::string public_url;          // https://HOST[:PORT] the gateways download from
    std::size_t max_upload_bytes = 64 * 1024 * 1024;
    std::chrono::seconds link_lifetime{std::chrono::hours(72)};
    std::string package = "pvfleet-edge";  // the only package rolled out
};

struct Release {
    std::string sha256;  // hex, the file's name
    std::string package, version, architecture;
    std::int64_t size = 0;
    std::string signature;  // base64, as in FILE.sig
    std::string signed_by;  // the key file that verified it
    TimePoint uploaded_at{};
    std::string uploaded_by;
};

// What the caller says the file is; each given value must match the package's control file.
struct Claimed {
    std::optional<std::string> version, architecture;
};

// Package fields of a .deb (dpkg-deb --field), or the error dpkg-deb gave.
struct DebFields {
    std::string package, version, architecture;
};
Result<DebFields> read_deb_fields(const std::filesystem::path& deb);

// A version as Debian writes it (digits, letters, . + ~ -), 1-64 characters; an architecture name.
bool valid_version(std::string_view v);
bool valid_architecture(std::string_view a);
// dpkg's version order (epoch, upstream, revision; ~ before anything).
int compare_versions(std::string_view a, std::string_view b);

// Stores an uploaded file: the signature (base64) checked against `keys` first, then written to a temporary
// file in settings.dir, fsynced, its fields read and checked against `claimed`, renamed to <sha256>.deb, and the
// row inserted (audited). Refusals: invalid (bad signature text, fields that do not match, not a package named
// settings.package), rejected (no trusted key signed it), conflict (another file for that version and
// architecture). The same file again returns the stored row.
Result<Release> add_release(storage::Db& db, const Settings& settings, const std::vector<release::PublicKey>& keys,
                            std::string_view body, std::string_view signature_b64, const Claimed& claimed,
                            const std::string& actor, TimePoint now);
// The same for an upload the HTTP transport wrote to `file` (never held in memory): hashed in pieces, then
// moved (renamed; copied when on another filesystem) to the temporary file in settings.dir.
Result<Release> add_release_file(storage::Db& db, const Settings& settings,
                                 const std::vector<release::PublicKey>& keys, const std::filesystem::path& file,
                                 std::string_view signature_b64, const Claimed& claimed, const std::string& actor,
                                 TimePoint now);
Result<std::vector<Release>> list_releases(storage::Db& db);
Result<std::optional<Release>> get_release(storage::Db& db, const std::string& sha256);
Result<std::vector<Release>> releases_of_version(storage::Db& db, const std::string& package,
                                                 const std::string& version);
std::filesystem::path file_of(const Settings& settings, const Release& r);

// ---- download links ----
// A link for one site and one release, valid until `expires`: the token is HMAC-SHA256 over
// "<sha256>\n<site>\n<expires epoch s>" with the server's link key, in hex.
struct LinkKey {
    std::string bytes;  // 32 random bytes
};
// The key in `file` (made with mode 0600 when absent, so links survive a restart).
Result<LinkKey> load_or_make_link_key(const std::filesystem::path& file);
std::string link_token(const LinkKey& key, const std::string& sha256, const std::string& site, std::int64_t expires_s);
std::string download_url(const Settings& settings, const LinkKey& key, const Release& r, const std::string& site,
                         TimePoint now);
// Whether a link's parameters are genuine and unexpired (constant-time comparison).
bool link_valid(const LinkKey& key, const std::string& sha256, const std::string& site, std::string_view expires,
                std::string_view token, TimePoint now);

// One byte range of a Range header against a file of `size` bytes (RFC 9110 §14): "bytes=A-B", "bytes=A-",
// "bytes=-N". Several ranges are refused (`multiple`), as a gateway never asks for them.
struct ByteRange {
    std::uint64_t first = 0, last = 0;  // inclusive
};
enum class RangeOutcome { whole, partial, unsatisfiable, multiple, ignored };
struct RangeRequest {
    RangeOutcome outcome = RangeOutcome::whole;
    ByteRange range;
};
// `if_range`: when present and not `etag`, the whole file is sent (RFC 9110 §13.1.5).
RangeRequest parse_range(const std::optional<std::string>& range, const std::optional<std::string>& if_range,
                         const std::string& etag, std::uint64_t size);

}  // namespace pvfleet::releases
