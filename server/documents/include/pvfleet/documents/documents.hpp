#pragma once
// Documents and photos of the CRM (docs/documents.md): files uploaded to a customer, a project or a work
// order — survey photos, roof, wiring, serial plates, signed contracts, grid approvals. The type is sniffed
// from the first bytes (sniff.hpp); the file is stored once by its SHA-256 as <dir>/blobs/<first two
// hex>/<sha256>, whatever its name, and a row in `documents` says who it belongs to. Deleting is soft
// (deleted_at, audited); the file goes when no live row names its hash any more and no upload of that hash is
// under way. Images have resized JPEG forms for phones (image.hpp), made on demand and kept as
// <dir>/variants/<sha256>-<size>.jpg.
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "pvfleet/documents/sniff.hpp"
#include "pvfleet/storage/db.hpp"
#include "pvfleet/util/clock.hpp"
#include "pvfleet/util/enum_names.hpp"
#include "pvfleet/util/result.hpp"

namespace pvfleet::documents {

enum class OwnerKind { customer, project, work_order };
inline constexpr EnumNames<OwnerKind, 3> kOwnerKindNames{{{OwnerKind::customer, "customer"},
                                                          {OwnerKind::project, "project"},
                                                          {OwnerKind::work_order, "work_order"}}};

enum class Category { survey_photo, roof, wiring, serial_plate, signed_contract, grid_approval, other };
inline constexpr EnumNames<Category, 7> kCategoryNames{{{Category::survey_photo, "survey_photo"},
                                                        {Category::roof, "roof"},
                                                        {Category::wiring, "wiring"},
                                                        {Category::serial_plate, "serial_plate"},
                                                        {Category::signed_contract, "signed_contract"},
                                                        {Category::grid_approval, "grid_approval"},
                                                        {Category::other, "other"}}};

// The forms a document is served in: as uploaded, or an image resized to a long side of 320 or 1280 pixels.
enum class Size { original, thumb, phone };
inline constexpr EnumNames<Size, 2> kResizedNames{{{Size::thumb, "thumb"}, {Size::phone, "phone"}}};
int long_side_of(Size s);  // 320, 1280; 0 for the original

struct Settings {
    std::filesystem::path dir;                      // blobs/, variants/, incoming/ (spooled uploads)
    std::uint64_t max_bytes = 25ULL * 1024 * 1024;  // per upload; the transport refuses more (413)
    std::uint64_t max_pixels = 50'000'000;          // width × height an image may have to be resized
};

inline constexpr std::size_t kMaxCaptionBytes = 500;
inline constexpr std::size_t kMaxFileNameBytes = 200;

struct Document {
    std::int64_t id = 0;
    OwnerKind owner_kind = OwnerKind::customer;
    std::int64_t owner_id = 0;
    Category category = Category::other;
    MediaType media_type = MediaType::jpeg;
    std::uint64_t size = 0;
    std::string sha256;     // 64 lower-case hex digits
    std::string file_name;  // sanitised, for display and the download's name only: never a path
    std::optional<std::string> caption;
    std::string uploaded_by;
    TimePoint uploaded_at{};
    std::optional<TimePoint> deleted_at;
    std::optional<std::string> deleted_by;
};

// The blob store's folder and the hashes being uploaded right now (so a delete never removes a file an
// upload is about to reference). One per server; thread-safe.
class Library {
public:
    static Result<std::unique_ptr<Library>> open(Settings settings);
    [[nodiscard]] const Settings& settings() const { return settings_; }
    [[nodiscard]] std::filesystem::path blob_path(const std::string& sha256) const;
    [[nodiscard]] std::filesystem::path variant_path(const std::string& sha256, Size size) const;
    [[nodiscard]] std::filesystem::path incoming_dir() const { return settings_.dir / "incoming"; }

    // Internal to the repository (public for its free functions and their tests).
    void begin_upload(const std::string& sha256);
    void end_upload(const std::string& sha256);
    // Removes the blob and its variants when `still_referenced` (asked under the lock) says no and no upload
    // of the hash is under way.
    template <class F>
    Status release_if_unreferenced(const std::string& sha256, F&& still_referenced) {
        std::lock_guard lock(mutex_);
        if (in_flight_.count(sha256) != 0) return {};
        auto referenced = still_referenced();
        if (!referenced) return referenced.error();
        if (*referenced) return {};
        return remove_files(sha256);
    }

private:
    explicit Library(Settings s) : settings_(std::move(s)) {}
    Status remove_files(const std::string& sha256);
    Settings settings_;
    std::mutex mutex_;
    std::map<std::string, int> in_flight_;
};

// The HTTP transport's body limit for a request line (HttpServerOptions::body_limit_for): max_bytes for
// POST /api/{customers,projects,work-orders}/{id}/documents, 0 (the transport's default) for anything else.
std::size_t upload_body_limit(const Settings& settings, std::string_view method, std::string_view target);

// A file name for display: its last path component, control characters, quotes, slashes and backslashes
// dropped, at most kMaxFileNameBytes bytes of valid UTF-8, with the type's extension; "document.<ext>" when
// nothing is left.
std::string sanitise_file_name(std::string_view name, MediaType type);

struct Upload {
    OwnerKind owner_kind = OwnerKind::customer;
    std::int64_t owner_id = 0;
    Category category = Category::other;
    std::string file_name;  // as the client named it (sanitised here)
    std::optional<std::string> caption;
    std::string actor;
};

// An upload's bytes checked and hashed — CPU work and file reads only, no database (run it off the request's
// thread): the size against max_bytes (rejected at `body`), the type sniffed (unsupported at `body`), an
// image's header read, the SHA-256. `file` is a spooled body (kept where it is), else `body` is the upload.
struct Prepared {
    MediaType media_type = MediaType::jpeg;
    std::uint64_t size = 0;
    std::string sha256;
    std::filesystem::path file;  // the spooled body, or empty: `body` below
    std::string body;
};
Result<Prepared> prepare_upload(const Library& lib, const std::filesystem::path& file, std::string_view body);

// The prepared upload stored: the blob moved (or written) into place unless that hash is there already, the
// row written and audited. Refusals leave nothing behind: not_found (no such owner), invalid (caption too
// long).
Result<Document> store_prepared(storage::Db& db, Library& lib, const Upload& upload, const Prepared& prepared,
                                TimePoint now);

// prepare_upload then store_prepared. Stores an upload: `file` (a body the transport spooled: moved into
// place or removed) or `body`. Refusals leave nothing behind: not_found (no such owner), rejected at `body`
// (over max_bytes), unsupported at `body` (not a JPEG, PNG or PDF, or an image whose header cannot be read),
// invalid (caption too long). The same bytes uploaded twice share one file.
Result<Document> store_upload(storage::Db& db, Library& lib, const Upload& upload,
                              const std::filesystem::path& file, std::string_view body, TimePoint now);

// Whether the customer, project or work order exists.
Result<bool> owner_exists(storage::Db& db, OwnerKind kind, std::int64_t owner_id);

// An owner's live documents, newest first (at most 500).
Result<std::vector<Document>> list_documents(storage::Db& db, OwnerKind kind, std::int64_t owner_id);
// One document, deleted ones included (the caller decides what a deleted one answers).
Result<std::optional<Document>> get_document(storage::Db& db, std::int64_t id);

// Soft delete, audited; the file goes when it was the last live reference. not_found: no live document `id`.
Result<Document> delete_document(storage::Db& db, Library& lib, std::int64_t id, const std::string& actor,
                                 TimePoint now);

// The file to serve: the blob for the original; for thumb and phone the resized JPEG, made and cached on
// first use (CPU work: run it off the request's thread). unsupported at `size` for a PDF; rejected for an
// image over max_pixels.
Result<std::filesystem::path> file_for(const Library& lib, const Document& doc, Size size);

// The name a download is offered as: the sanitised name (ASCII only; others become '_'), with the resized
// forms' ".jpg".
std::string download_name(const Document& doc, Size size);

}  // namespace pvfleet::documents
