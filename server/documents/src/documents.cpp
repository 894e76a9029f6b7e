#include "pvfleet/documents/documents.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <fstream>
#include <nlohmann/json.hpp>

#include "pvfleet/documents/image.hpp"
#include "pvfleet/release/signature.hpp"
#include "pvfleet/storage/work_orders.hpp"
#include "pvfleet/util/file_io.hpp"

namespace pvfleet::documents {
namespace {

namespace fs = std::filesystem;

constexpr const char* kColumns =
    "id, owner_kind, owner_id, category, media_type, size_bytes, sha256, file_name, caption, uploaded_by, "
    "uploaded_at_ms, deleted_at_ms, deleted_by";

Document from_row(const storage::Row& r) {
    Document d;
    d.id = r.integer(0);
    d.owner_kind = enum_from_name(kOwnerKindNames, r.text(1)).value_or(OwnerKind::customer);
    d.owner_id = r.integer(2);
    d.category = enum_from_name(kCategoryNames, r.text(3)).value_or(Category::other);
    d.media_type = enum_from_name(kMediaTypeNames, r.text(4)).value_or(MediaType::pdf);
    d.size = static_cast<std::uint64_t>(r.integer(5));
    d.sha256 = r.text(6);
    d.file_name = r.text(7);
    d.caption = r.opt_text(8);
    d.uploaded_by = r.text(9);
    d.uploaded_at = from_epoch_ms(r.integer(10));
    if (auto t = r.opt_integer(11)) d.deleted_at = from_epoch_ms(*t);
    d.deleted_by = r.opt_text(12);
    return d;
}

bool valid_sha256(std::string_view h) {
    if (h.size() != 64) return false;
    for (char c : h)
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
    return true;
}

// A file of its own beside `dest` (two workers may write the same variant at once), renamed over it.
Status write_beside_and_rename(const fs::path& dest, std::string_view bytes) {
    static std::atomic<std::uint64_t> counter{0};
    fs::path tmp = dest;
    tmp += ".tmp-" + std::to_string(::getpid()) + "-" + std::to_string(counter.fetch_add(1) + 1);
    PVF_CHECK(util::write_file_synced(tmp, bytes));
    std::error_code ec;
    fs::rename(tmp, dest, ec);
    if (ec) {
        fs::remove(tmp, ec);
        return Error{"'" + dest.string() + "' cannot be written", ErrorKind::io};
    }
    return util::sync_directory(dest.parent_path());
}

bool fsync_file(const fs::path& file) {
    const int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return false;
    const bool ok = ::fsync(fd) == 0;
    ::close(fd);
    return ok;
}

Result<std::string> read_whole(const fs::path& file, std::uint64_t limit) {
    std::ifstream in(file, std::ios::binary);
    if (!in) return Error{"the upload cannot be read", ErrorKind::io};
    std::string out;
    std::error_code ec;
    const auto size = fs::file_size(file, ec);
    if (ec) return Error{"the upload cannot be read: " + ec.message(), ErrorKind::io};
    if (size > limit) return Error{"too large", ErrorKind::rejected, "body"};
    out.resize(static_cast<std::size_t>(size));
    if (!in.read(out.data(), static_cast<std::streamsize>(out.size())))
        return Error{"the upload cannot be read", ErrorKind::io};
    return out;
}

Error too_large(std::uint64_t size, std::uint64_t max) {
    return Error{"body: " + std::to_string(size) + " bytes, more than the " + std::to_string(max) +
                     " a document may have",
                 ErrorKind::rejected, "body"};
}

const char* owner_table(OwnerKind k) {
    switch (k) {
        case OwnerKind::customer:
            return "customers";
        case OwnerKind::project:
            return "projects";
        case OwnerKind::work_order:
            return "work_orders";
    }
    return "customers";
}

Result<bool> referenced(storage::Db& db, const std::string& sha256) {
    PVF_TRY(auto r,
            db.run("SELECT 1 FROM documents WHERE sha256 = $1 AND deleted_at_ms IS NULL LIMIT 1", {sha256}));
    return !r.rows.empty();
}

// The number of bytes of a valid UTF-8 sequence starting at s[i], 0 when it is not one.
std::size_t utf8_length(std::string_view s, std::size_t i) {
    const auto c = static_cast<unsigned char>(s[i]);
    std::size_t n = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
    if (n == 0 || i + n > s.size()) return 0;
    for (std::size_t k = 1; k < n; ++k)
        if ((static_cast<unsigned char>(s[i + k]) >> 6) != 2) return 0;
    if (n == 2 && c < 0xC2) return 0;  // overlong
    return n;
}

bool ends_with_ci(std::string_view s, std::string_view suffix) {
    if (s.size() < suffix.size()) return false;
    for (std::size_t i = 0; i < suffix.size(); ++i) {
        char a = s[s.size() - suffix.size() + i];
        if (a >= 'A' && a <= 'Z') a = static_cast<char>(a - 'A' + 'a');
        if (a != suffix[i]) return false;
    }
    return true;
}

}  // namespace

int long_side_of(Size s) {
    switch (s) {
        case Size::thumb:
            return 320;
        case Size::phone:
            return 1280;
        case Size::original:
            return 0;
    }
    return 0;
}

Result<std::unique_ptr<Library>> Library::open(Settings settings) {
    for (const char* sub : {"blobs", "variants", "incoming"}) {
        std::error_code ec;
        fs::create_directories(settings.dir / sub, ec);
        if (ec)
            return Error{
                "documents/dir: '" + (settings.dir / sub).string() + "' cannot be made: " + ec.message(),
                ErrorKind::io, "documents/dir"};
    }
    return std::unique_ptr<Library>(new Library(std::move(settings)));
}

fs::path Library::blob_path(const std::string& sha256) const {
    return settings_.dir / "blobs" / sha256.substr(0, 2) / sha256;
}

fs::path Library::variant_path(const std::string& sha256, Size size) const {
    return settings_.dir / "variants" / (sha256 + "-" + std::string(enum_name(kResizedNames, size)) + ".jpg");
}

void Library::begin_upload(const std::string& sha256) {
    std::lock_guard lock(mutex_);
    ++in_flight_[sha256];
}

void Library::end_upload(const std::string& sha256) {
    std::lock_guard lock(mutex_);
    if (auto it = in_flight_.find(sha256); it != in_flight_.end() && --it->second == 0) in_flight_.erase(it);
}

Status Library::remove_files(const std::string& sha256) {
    if (!valid_sha256(sha256)) return {};
    std::error_code ec;
    for (Size s : {Size::thumb, Size::phone}) fs::remove(variant_path(sha256, s), ec);
    fs::remove(blob_path(sha256), ec);
    if (ec)
        return Error{"'" + blob_path(sha256).string() + "' cannot be removed: " + ec.message(),
                     ErrorKind::io};
    return util::sync_directory(blob_path(sha256).parent_path());
}

std::size_t upload_body_limit(const Settings& settings, std::string_view method, std::string_view target) {
    if (method != "POST") return 0;
    std::string_view path = target.substr(0, target.find('?'));
    constexpr std::string_view kSuffix = "/documents";
    if (path.size() <= kSuffix.size() || path.substr(path.size() - kSuffix.size()) != kSuffix) return 0;
    path.remove_suffix(kSuffix.size());
    for (std::string_view prefix : {"/api/customers/", "/api/projects/", "/api/work-orders/"}) {
        if (path.substr(0, prefix.size()) != prefix) continue;
        const std::string_view id = path.substr(prefix.size());
        if (id.empty() || id.size() > 19) return 0;
        for (char c : id)
            if (c < '0' || c > '9') return 0;
        return static_cast<std::size_t>(settings.max_bytes);
    }
    return 0;
}

std::string sanitise_file_name(std::string_view name, MediaType type) {
    if (const auto slash = name.find_last_of("/\\"); slash != std::string_view::npos)
        name = name.substr(slash + 1);
    std::string out;
    for (std::size_t i = 0; i < name.size();) {
        const std::size_t n = utf8_length(name, i);
        if (n == 0) {
            ++i;
            continue;
        }
        const auto c = static_cast<unsigned char>(name[i]);
        const bool dropped =
            n == 1 && (c < 0x20 || c == 0x7F ||
                       std::string_view("\"'<>:*?|;").find(static_cast<char>(c)) != std::string_view::npos);
        if (!dropped && out.size() + n <= kMaxFileNameBytes) out.append(name.substr(i, n));
        i += n;
    }
    while (!out.empty() && (out.front() == '.' || out.front() == ' ')) out.erase(out.begin());
    while (!out.empty() && out.back() == ' ') out.pop_back();
    const std::string_view ext = extension_of(type);
    const bool has_ext = ends_with_ci(out, ext) || (type == MediaType::jpeg && ends_with_ci(out, ".jpeg"));
    if (out.empty() || out == std::string(ext)) return "document" + std::string(ext);
    if (!has_ext) out += ext;
    return out;
}

Result<Prepared> prepare_upload(const Library& lib, const fs::path& file, std::string_view body) {
    const std::uint64_t max = lib.settings().max_bytes;
    Prepared p;
    std::string read;
    std::string_view bytes = body;
    if (!file.empty()) {
        std::error_code ec;
        const auto size = fs::file_size(file, ec);
        if (ec) return Error{"the upload cannot be read: " + ec.message(), ErrorKind::io};
        if (size > max) return too_large(size, max);
        PVF_TRY(read, read_whole(file, max));
        bytes = read;
        p.file = file;
    } else {
        if (body.size() > max) return too_large(body.size(), max);
        p.body = std::string(body);
    }
    PVF_TRY(p.media_type, sniff(bytes.substr(0, kSniffBytes)));
    if (is_image(p.media_type)) {
        PVF_TRY(auto header, read_header(p.media_type, bytes));
        if (header.width < 1 || header.height < 1)
            return Error{"body: an image without pixels", ErrorKind::unsupported, "body"};
    }
    p.size = bytes.size();
    release::Sha256 sha;
    sha.update(bytes);
    p.sha256 = release::to_hex(sha.finish());
    return p;
}

Result<Document> store_prepared(storage::Db& db, Library& lib, const Upload& up, const Prepared& p,
                                TimePoint now) {
    if (up.caption && up.caption->size() > kMaxCaptionBytes)
        return Error::at("caption", "at most " + std::to_string(kMaxCaptionBytes) + " bytes");
    if (!valid_sha256(p.sha256))
        return Error{"a prepared upload without its hash", ErrorKind::invalid, "body"};
    PVF_TRY(auto owner, db.run(std::string("SELECT 1 FROM ") + owner_table(up.owner_kind) + " WHERE id = $1",
                               {up.owner_id}));
    if (owner.rows.empty())
        return Error{"no " + std::string(enum_name(kOwnerKindNames, up.owner_kind)) + " " +
                         std::to_string(up.owner_id),
                     ErrorKind::not_found};

    Document d;
    d.owner_kind = up.owner_kind;
    d.owner_id = up.owner_id;
    d.category = up.category;
    d.media_type = p.media_type;
    d.size = p.size;
    d.sha256 = p.sha256;
    d.file_name = sanitise_file_name(up.file_name, p.media_type);
    d.caption = up.caption;
    d.uploaded_by = up.actor;
    d.uploaded_at = now;

    // From here until the row is committed (or the attempt given up), a delete of another document with this
    // hash leaves the file alone.
    lib.begin_upload(p.sha256);
    auto stored = [&]() -> Result<std::int64_t> {
        const fs::path blob = lib.blob_path(p.sha256);
        std::error_code ec;
        if (!fs::exists(blob, ec)) {
            fs::create_directories(blob.parent_path(), ec);
            if (ec)
                return Error{"'" + blob.parent_path().string() + "' cannot be made: " + ec.message(),
                             ErrorKind::io};
            bool moved = false;
            if (!p.file.empty()) {
                // Renamed into place when on the same filesystem (its bytes fsynced first), else copied.
                if (fsync_file(p.file)) {
                    fs::rename(p.file, blob, ec);
                    moved = !ec;
                    if (moved)
                        fs::permissions(
                            blob, fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read, ec);
                }
            }
            if (moved) {
                PVF_CHECK(util::sync_directory(blob.parent_path()));
            } else {
                std::string bytes;
                if (!p.file.empty()) {
                    PVF_TRY(bytes, read_whole(p.file, lib.settings().max_bytes));
                }
                PVF_CHECK(write_beside_and_rename(
                    blob, p.file.empty() ? std::string_view(p.body) : std::string_view(bytes)));
            }
        }
        return storage::in_transaction(db, [&]() -> Result<std::int64_t> {
            PVF_TRY(
                auto r,
                db.run(
                    "INSERT INTO documents (owner_kind, owner_id, category, media_type, size_bytes, sha256, "
                    "file_name, caption, uploaded_by, uploaded_at_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, "
                    "$8, $9, $10) RETURNING id",
                    {std::string(enum_name(kOwnerKindNames, d.owner_kind)), d.owner_id,
                     std::string(enum_name(kCategoryNames, d.category)),
                     std::string(enum_name(kMediaTypeNames, d.media_type)), static_cast<std::int64_t>(d.size),
                     d.sha256, d.file_name, d.caption ? storage::Value(*d.caption) : storage::Value(nullptr),
                     d.uploaded_by, std::int64_t{to_epoch_ms(now)}}));
            if (r.rows.empty()) return Error{"documents: no id returned", ErrorKind::io};
            const std::int64_t id = r.rows[0].integer(0);
            const nlohmann::json after = {{"owner_kind", enum_name(kOwnerKindNames, d.owner_kind)},
                                          {"owner_id", d.owner_id},
                                          {"category", enum_name(kCategoryNames, d.category)},
                                          {"media_type", enum_name(kMediaTypeNames, d.media_type)},
                                          {"size", d.size},
                                          {"sha256", d.sha256},
                                          {"file_name", d.file_name}};
            PVF_CHECK(storage::append_audit(db, now, up.actor, "document uploaded", "document",
                                            std::to_string(id), std::nullopt, after.dump()));
            return id;
        });
    }();
    lib.end_upload(p.sha256);
    if (!stored) {
        // Nothing left behind: the file goes unless another live row (or upload) has the same bytes.
        (void)lib.release_if_unreferenced(p.sha256, [&] { return referenced(db, p.sha256); });
        return stored.error();
    }
    d.id = *stored;
    return d;
}

Result<Document> store_upload(storage::Db& db, Library& lib, const Upload& upload, const fs::path& file,
                              std::string_view body, TimePoint now) {
    PVF_TRY(auto prepared, prepare_upload(lib, file, body));
    return store_prepared(db, lib, upload, prepared, now);
}

Result<bool> owner_exists(storage::Db& db, OwnerKind kind, std::int64_t owner_id) {
    PVF_TRY(auto r, db.run(std::string("SELECT 1 FROM ") + owner_table(kind) + " WHERE id = $1", {owner_id}));
    return !r.rows.empty();
}

Result<std::vector<Document>> list_documents(storage::Db& db, OwnerKind kind, std::int64_t owner_id) {
    PVF_TRY(auto r,
            db.run(std::string("SELECT ") + kColumns +
                       " FROM documents WHERE owner_kind = $1 AND owner_id = $2 AND deleted_at_ms IS NULL "
                       "ORDER BY uploaded_at_ms DESC, id DESC LIMIT 500",
                   {std::string(enum_name(kOwnerKindNames, kind)), owner_id}));
    std::vector<Document> out;
    out.reserve(r.rows.size());
    for (const auto& row : r.rows) out.push_back(from_row(row));
    return out;
}

Result<std::optional<Document>> get_document(storage::Db& db, std::int64_t id) {
    PVF_TRY(auto r, db.run(std::string("SELECT ") + kColumns + " FROM documents WHERE id = $1", {id}));
    if (r.rows.empty()) return std::optional<Document>{};
    return std::optional<Document>{from_row(r.rows[0])};
}

Result<Document> delete_document(storage::Db& db, Library& lib, std::int64_t id, const std::string& actor,
                                 TimePoint now) {
    auto deleted = storage::in_transaction(db, [&]() -> Result<Document> {
        PVF_TRY(auto found, get_document(db, id));
        if (!found || found->deleted_at)
            return Error{"no document " + std::to_string(id), ErrorKind::not_found};
        PVF_TRY(
            auto r,
            db.run("UPDATE documents SET deleted_at_ms = $2, deleted_by = $3 WHERE id = $1 AND deleted_at_ms "
                   "IS NULL",
                   {id, std::int64_t{to_epoch_ms(now)}, actor}));
        if (r.affected != 1) return Error{"no document " + std::to_string(id), ErrorKind::not_found};
        const nlohmann::json before = {{"owner_kind", enum_name(kOwnerKindNames, found->owner_kind)},
                                       {"owner_id", found->owner_id},
                                       {"sha256", found->sha256},
                                       {"file_name", found->file_name}};
        PVF_CHECK(storage::append_audit(db, now, actor, "document deleted", "document", std::to_string(id),
                                        before.dump(), std::nullopt));
        found->deleted_at = now;
        found->deleted_by = actor;
        return *found;
    });
    if (!deleted) return deleted.error();
    // The row is gone for readers; the file follows once no live row and no upload under way names the hash.
    PVF_CHECK(lib.release_if_unreferenced(deleted->sha256, [&] { return referenced(db, deleted->sha256); }));
    return deleted;
}

Result<fs::path> file_for(const Library& lib, const Document& doc, Size size) {
    if (!valid_sha256(doc.sha256))
        return Error{"document " + std::to_string(doc.id) + " has no valid hash", ErrorKind::io};
    const fs::path blob = lib.blob_path(doc.sha256);
    if (size == Size::original) return blob;
    if (!is_image(doc.media_type))
        return Error{"size: only images have resized forms (this is a PDF)", ErrorKind::unsupported, "size"};
    const fs::path variant = lib.variant_path(doc.sha256, size);
    std::error_code ec;
    if (fs::exists(variant, ec)) return variant;
    PVF_TRY(auto bytes, read_whole(blob, lib.settings().max_bytes * 2 + 1));
    PVF_TRY(auto jpeg, resized_jpeg(doc.media_type, bytes, long_side_of(size), lib.settings().max_pixels));
    PVF_CHECK(write_beside_and_rename(variant, jpeg));
    // The last document of these bytes deleted while this was being made: the variant goes with its file.
    if (!fs::exists(blob, ec)) {
        fs::remove(variant, ec);
        return Error{"document " + std::to_string(doc.id) + ": its file is gone", ErrorKind::not_found};
    }
    return variant;
}

std::string download_name(const Document& doc, Size size) {
    std::string out;
    for (char c : doc.file_name) {
        if ((static_cast<unsigned char>(c) & 0xC0) == 0x80) continue;  // one '_' per UTF-8 character
        const bool plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                           c == '.' || c == '-' || c == '_' || c == ' ' || c == '(' || c == ')';
        out += plain ? c : '_';
    }
    if (out.empty()) out = "document" + std::string(extension_of(doc.media_type));
    if (size != Size::original) {
        if (const auto dot = out.rfind('.'); dot != std::string::npos && dot > 0) out.erase(dot);
        out += "-" + std::string(enum_name(kResizedNames, size)) + ".jpg";
    }
    return out;
}

}  // namespace pvfleet::documents
