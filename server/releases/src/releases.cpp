#include "pvfleet/releases/releases.hpp"

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cctype>
#include <cstring>
#include <algorithm>
#include <optional>
#include <vector>
#include <nlohmann/json.hpp>

#include "pvfleet/storage/work_orders.hpp"
#include "pvfleet/util/file_io.hpp"

extern char** environ;

namespace pvfleet::releases {
namespace {

namespace fs = std::filesystem;

Release row_to_release(const storage::Row& r) {
    Release out;
    out.sha256 = r.text(0);
    out.package = r.text(1);
    out.version = r.text(2);
    out.architecture = r.text(3);
    out.size = r.integer(4);
    out.signature = r.text(5);
    out.signed_by = r.text(6);
    out.uploaded_at = from_epoch_ms(r.integer(7));
    out.uploaded_by = r.text(8);
    return out;
}

constexpr const char* kSelect =
    "SELECT sha256, package, version, architecture, size_bytes, signature, signed_by, uploaded_at_ms, uploaded_by "
    "FROM releases";

// Runs argv (no shell) and returns its stdout; stderr goes into the error.
Result<std::string> run_capture(const std::vector<std::string>& argv) {
    int out_pipe[2];
    if (::pipe2(out_pipe, O_CLOEXEC) != 0) return Error{"pipe failed", ErrorKind::io};
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, out_pipe[1], 1);
    posix_spawn_file_actions_adddup2(&actions, out_pipe[1], 2);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    pid_t pid = 0;
    const int rc = ::posix_spawnp(&pid, args[0], &actions, nullptr, args.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    ::close(out_pipe[1]);
    if (rc != 0) {
        ::close(out_pipe[0]);
        return Error{argv[0] + " cannot be run: " + std::strerror(rc), ErrorKind::unsupported};
    }
    std::string text;
    char buf[4096];
    for (ssize_t n; (n = ::read(out_pipe[0], buf, sizeof buf)) > 0 && text.size() < 65536;)
        text.append(buf, static_cast<std::size_t>(n));
    ::close(out_pipe[0]);
    int status = 0;
    ::waitpid(pid, &status, 0);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) text.pop_back();
        return Error{text.empty() ? argv[0] + " failed" : text};
    }
    return text;
}

Status fsync_file(const fs::path& p) {
    const int fd = ::open(p.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return Error{"'" + p.string() + "' cannot be opened", ErrorKind::io};
    const int rc = ::fsync(fd);
    ::close(fd);
    if (rc != 0) return Error{"'" + p.string() + "': fsync failed", ErrorKind::io};
    return {};
}

// dpkg's order of the characters of a non-digit part: ~ first, then the end, letters, then the rest.
int order(char c) {
    if (std::isdigit(static_cast<unsigned char>(c))) return 0;
    if (std::isalpha(static_cast<unsigned char>(c))) return c;
    if (c == '~') return -1;
    if (c != 0) return c + 256;
    return 0;
}

int compare_part(std::string_view a, std::string_view b) {
    std::size_t i = 0, j = 0;
    while (i < a.size() || j < b.size()) {
        int first_diff = 0;
        while ((i < a.size() && !std::isdigit(static_cast<unsigned char>(a[i]))) ||
               (j < b.size() && !std::isdigit(static_cast<unsigned char>(b[j])))) {
            const int ac = i < a.size() ? order(a[i]) : 0;
            const int bc = j < b.size() ? order(b[j]) : 0;
            if (ac != bc) return ac - bc;
            ++i;
            ++j;
        }
        while (i < a.size() && a[i] == '0') ++i;
        while (j < b.size() && b[j] == '0') ++j;
        while (i < a.size() && std::isdigit(static_cast<unsigned char>(a[i])) && j < b.size() &&
               std::isdigit(static_cast<unsigned char>(b[j]))) {
            if (first_diff == 0) first_diff = a[i] - b[j];
            ++i;
            ++j;
        }
        if (i < a.size() && std::isdigit(static_cast<unsigned char>(a[i]))) return 1;
        if (j < b.size() && std::isdigit(static_cast<unsigned char>(b[j]))) return -1;
        if (first_diff != 0) return first_diff;
    }
    return 0;
}

struct Parts {
    long epoch = 0;
    std::string_view upstream, revision;
};
Parts split(std::string_view v) {
    Parts p;
    if (const auto colon = v.find(':'); colon != std::string_view::npos) {
        for (const char c : v.substr(0, colon)) p.epoch = p.epoch * 10 + (c - '0');
        v.remove_prefix(colon + 1);
    }
    if (const auto dash = v.rfind('-'); dash != std::string_view::npos) {
        p.revision = v.substr(dash + 1);
        v = v.substr(0, dash);
    }
    p.upstream = v;
    return p;
}

}  // namespace

bool valid_version(std::string_view v) {
    if (v.empty() || v.size() > 64 || !std::isdigit(static_cast<unsigned char>(v.front()))) return false;
    return std::all_of(v.begin(), v.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '+' || c == '~' || c == '-' || c == ':';
    });
}

bool valid_architecture(std::string_view a) {
    return !a.empty() && a.size() <= 32 && std::all_of(a.begin(), a.end(), [](char c) {
        return std::islower(static_cast<unsigned char>(c)) || std::isdigit(static_cast<unsigned char>(c)) || c == '-';
    });
}

int compare_versions(std::string_view a, std::string_view b) {
    const Parts pa = split(a), pb = split(b);
    if (pa.epoch != pb.epoch) return pa.epoch < pb.epoch ? -1 : 1;
    if (const int c = compare_part(pa.upstream, pb.upstream); c != 0) return c < 0 ? -1 : 1;
    const int c = compare_part(pa.revision, pb.revision);
    return c < 0 ? -1 : (c > 0 ? 1 : 0);
}

Result<DebFields> read_deb_fields(const fs::path& deb) {
    auto out = run_capture({"dpkg-deb", "--field", deb.string(), "Package", "Version", "Architecture"});
    if (!out) return Error{"not a Debian package: " + out.error().message, out.error().kind};
    DebFields f;
    std::size_t pos = 0;
    const std::string& text = *out;
    while (pos < text.size()) {
        const auto end = text.find('\n', pos);
        const std::string line = text.substr(pos, end == std::string::npos ? std::string::npos : end - pos);
        pos = end == std::string::npos ? text.size() : end + 1;
        const auto colon = line.find(": ");
        if (colon == std::string::npos) continue;
        const std::string key = line.substr(0, colon), value = line.substr(colon + 2);
        if (key == "Package") f.package = value;
        if (key == "Version") f.version = value;
        if (key == "Architecture") f.architecture = value;
    }
    if (f.package.empty() || f.version.empty() || f.architecture.empty())
        return Error{"the package's control file lacks Package, Version or Architecture"};
    return f;
}

fs::path file_of(const Settings& settings, const Release& r) {
    return settings.dir / (r.sha256 + ".deb");
}

Result<std::optional<Release>> get_release(storage::Db& db, const std::string& sha256) {
    auto r = db.run(std::string(kSelect) + " WHERE sha256 = $1", {sha256});
    if (!r) return r.error();
    if (r->rows.empty()) return std::optional<Release>();
    return std::optional<Release>(row_to_release(r->rows[0]));
}

Result<std::vector<Release>> list_releases(storage::Db& db) {
    auto r = db.run(std::string(kSelect) + " ORDER BY uploaded_at_ms DESC, sha256 LIMIT 500");
    if (!r) return r.error();
    std::vector<Release> out;
    for (const auto& row : r->rows) out.push_back(row_to_release(row));
    return out;
}

Result<std::vector<Release>> releases_of_version(storage::Db& db, const std::string& package,
                                                 const std::string& version) {
    auto r = db.run(std::string(kSelect) + " WHERE package = $1 AND version = $2 ORDER BY architecture",
                    {package, version});
    if (!r) return r.error();
    std::vector<Release> out;
    for (const auto& row : r->rows) out.push_back(row_to_release(row));
    return out;
}

namespace {

// The rest of an upload once its bytes are in `tmp` (settings.dir/<sha256>.deb.upload, fsynced): the package's
// fields read and checked against `claimed`, the file renamed to <sha256>.deb, the row inserted (audited).
Result<Release> finish_upload(storage::Db& db, const Settings& settings, const fs::path& tmp, const std::string& sha,
                              std::int64_t size, const std::string& signature, const std::string& signed_by,
                              const Claimed& claimed, const std::string& actor, TimePoint now) {
    std::error_code ec;
    const fs::path final_path = settings.dir / (sha + ".deb");
    auto cleanup = [&] { fs::remove(tmp, ec); };
    auto fields = read_deb_fields(tmp);
    if (!fields) {
        cleanup();
        return Error::at("body", fields.error().message);
    }
    auto mismatch = [&](const char* what, const std::string& given, const std::string& read) -> Error {
        cleanup();
        return Error::at(what, "'" + given + "' given, but the package says '" + read + "'");
    };
    if (fields->package != settings.package) {
        cleanup();
        return Error::at("body", "package '" + fields->package + "', expected '" + settings.package + "'");
    }
    if (claimed.version && *claimed.version != fields->version) return mismatch("version", *claimed.version, fields->version);
    if (claimed.architecture && *claimed.architecture != fields->architecture)
        return mismatch("architecture", *claimed.architecture, fields->architecture);
    if (!valid_version(fields->version) || !valid_architecture(fields->architecture)) {
        cleanup();
        return Error::at("body", "unusable version '" + fields->version + "' or architecture '" + fields->architecture + "'");
    }
    Release rel{sha, fields->package, fields->version, fields->architecture, size,
                release::base64_encode(signature), signed_by, now, actor};
    // The file is in place before its row: a row never names a missing file.
    fs::rename(tmp, final_path, ec);
    if (ec) {
        cleanup();
        return Error{"releases: '" + final_path.string() + "': " + ec.message(), ErrorKind::io};
    }
    (void)fsync_file(settings.dir);
    auto stored = storage::in_transaction(db, [&]() -> Status {
        auto taken = db.run("SELECT sha256 FROM releases WHERE package = $1 AND version = $2 AND architecture = $3",
                            {rel.package, rel.version, rel.architecture});
        if (!taken) return taken.error();
        if (!taken->rows.empty())
            return Error{"version " + rel.version + " for " + rel.architecture + " was uploaded already as another file (" +
                             taken->rows[0].text(0) + ")",
                         ErrorKind::conflict, "version"};
        PVF_CHECK(db.run("INSERT INTO releases (sha256, package, version, architecture, size_bytes, signature, signed_by, "
                         "uploaded_at_ms, uploaded_by) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                         {rel.sha256, rel.package, rel.version, rel.architecture, rel.size, rel.signature, rel.signed_by,
                          std::int64_t{to_epoch_ms(now)}, actor}));
        const nlohmann::json after{{"package", rel.package}, {"version", rel.version}, {"architecture", rel.architecture},
                                   {"size", rel.size}, {"signed_by", rel.signed_by}};
        return storage::append_audit(db, now, actor, "release uploaded", "release", rel.sha256, std::nullopt, after.dump());
    });
    if (!stored) {
        fs::remove(final_path, ec);
        return stored.error();
    }
    return rel;
}

// What both uploads check before any byte is stored: the signature over the file's digest by a trusted key, and
// whether that file is stored already (`existing`).
struct Signed {
    std::string sha;
    std::string signature;
    std::string signed_by;
    std::optional<Release> existing;
};

Result<Signed> check_signed(storage::Db& db, const std::vector<release::PublicKey>& keys,
                            const release::Digest& digest, std::string_view signature_b64) {
    Signed out;
    PVF_TRY(out.signature, release::parse_signature(signature_b64, "signature"));
    PVF_TRY(out.signed_by, release::verify_digest(digest, out.signature, keys));
    out.sha = release::to_hex(digest);
    PVF_TRY(out.existing, get_release(db, out.sha));
    return out;
}

}  // namespace

Result<Release> add_release(storage::Db& db, const Settings& settings, const std::vector<release::PublicKey>& keys,
                            std::string_view body, std::string_view signature_b64, const Claimed& claimed,
                            const std::string& actor, TimePoint now) {
    if (body.empty()) return Error::at("body", "empty: send the .deb as the request body");
    release::Sha256 hash;
    hash.update(body);
    PVF_TRY(auto checked, check_signed(db, keys, hash.finish(), signature_b64));
    if (checked.existing) return std::move(*checked.existing);
    std::error_code ec;
    fs::create_directories(settings.dir, ec);
    const fs::path tmp = settings.dir / (checked.sha + ".deb.upload");
    PVF_CHECK(util::write_file_synced(tmp, body));
    return finish_upload(db, settings, tmp, checked.sha, static_cast<std::int64_t>(body.size()), checked.signature,
                         checked.signed_by, claimed, actor, now);
}

Result<Release> add_release_file(storage::Db& db, const Settings& settings,
                                 const std::vector<release::PublicKey>& keys, const fs::path& file,
                                 std::string_view signature_b64, const Claimed& claimed, const std::string& actor,
                                 TimePoint now) {
    std::error_code ec;
    const auto size = fs::file_size(file, ec);
    if (ec) return Error{"releases: the upload '" + file.string() + "' cannot be read", ErrorKind::io};
    if (size == 0) return Error::at("body", "empty: send the .deb as the request body");
    PVF_TRY(const auto digest, release::sha256_file(file));
    PVF_TRY(auto checked, check_signed(db, keys, digest, signature_b64));
    if (checked.existing) return std::move(*checked.existing);
    fs::create_directories(settings.dir, ec);
    const fs::path tmp = settings.dir / (checked.sha + ".deb.upload");
    // Moved when the upload lies on the same filesystem (the server spools into settings.dir/incoming), else copied.
    fs::rename(file, tmp, ec);
    if (ec) {
        fs::copy_file(file, tmp, fs::copy_options::overwrite_existing, ec);
        if (ec) {
            fs::remove(tmp, ec);
            return Error{"releases: '" + tmp.string() + "' cannot be written (disk full?)", ErrorKind::io};
        }
    }
    fs::permissions(tmp, fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read, ec);
    if (auto synced = fsync_file(tmp); !synced) {
        fs::remove(tmp, ec);
        return synced.error();
    }
    return finish_upload(db, settings, tmp, checked.sha, static_cast<std::int64_t>(size), checked.signature,
                         checked.signed_by, claimed, actor, now);
}

}  // namespace pvfleet::releases
