// Documents and photos (docs/documents.md): uploads to a customer, a project or a work order, their lists, a
// document's metadata, its content (the original, or an image resized for phones) and its soft delete. Access
// is checked on every route through the owner, downloads included: admin, back office and managers see every
// document (managers only read); sales reps and project managers those of their own projects and of those
// projects' customers; technicians those of the work orders assigned to them (and add to them while open).
// Others' documents answer 404, as others' projects and orders do. Without a documents folder: 503.
#include <filesystem>
#include <nlohmann/json.hpp>

#include "common.hpp"
#include "offload.hpp"
#include "pvfleet/documents/documents.hpp"
#include "pvfleet/projects/repository.hpp"
#include "pvfleet/storage/work_orders.hpp"
#include "pvfleet/util/log.hpp"
#include "pvfleet/util/number.hpp"
#include "pvfleet/workorders/work_order.hpp"

namespace pvfleet::api::detail {
// A namespace of its own: the API is a unity build, and other route files have their own id_param,
// load_visible…
namespace document_routes {

namespace docs = documents;
using docs::OwnerKind;

const std::vector<std::string> kCrmDocumentReaders{"admin", "back_office", "manager", "project_manager",
                                                   "sales"};
const std::vector<std::string> kCrmDocumentWriters{"admin", "back_office", "project_manager", "sales"};
const std::vector<std::string> kOrderDocumentReaders{"admin", "back_office", "manager", "technician"};
const std::vector<std::string> kOrderDocumentWriters{"admin", "back_office", "technician"};
const std::vector<std::string> kDocumentReaders{"admin",           "back_office", "manager",
                                                "project_manager", "sales",       "technician"};
const std::vector<std::string> kDocumentWriters{"admin", "back_office", "project_manager", "sales",
                                                "technician"};

enum class Access { read, write };

json document_json(const docs::Document& d) {
    const std::string self = "/api/documents/" + std::to_string(d.id);
    json j = {{"id", d.id},
              {"owner_kind", enum_name(docs::kOwnerKindNames, d.owner_kind)},
              {"owner_id", d.owner_id},
              {"category", enum_name(docs::kCategoryNames, d.category)},
              {"media_type", enum_name(docs::kMediaTypeNames, d.media_type)},
              {"size", d.size},
              {"sha256", d.sha256},
              {"file_name", d.file_name},
              {"caption", opt_json(d.caption)},
              {"uploaded_by", d.uploaded_by},
              {"uploaded_at", format_iso8601(d.uploaded_at)},
              {"content_url", self + "/content"}};
    if (docs::is_image(d.media_type)) {
        j["thumb_url"] = self + "/content?size=thumb";
        j["phone_url"] = self + "/content?size=phone";
    }
    return j;
}

Response documents_off() {
    return problem(503, "Service Unavailable",
                   "this server keeps no documents (documents/dir cannot be used)");
}

std::string owner_words(OwnerKind kind, std::int64_t id) {
    const std::string_view name =
        kind == OwnerKind::work_order ? "work order" : enum_name(docs::kOwnerKindNames, kind);
    return std::string(name) + " " + std::to_string(id);
}

// Whether the caller may read (or add to, or delete from) the documents of this owner. 404 for a missing
// owner and for one that is not theirs (its existence is not confirmed); 403 for a manager's write and a
// technician's write on an order that is not open.
Checked<> check_owner(ApiContext& ctx, const Request& req, OwnerKind kind, std::int64_t id, Access access) {
    const auto none = [&] {
        const bool own_only =
            req.role == "sales" || req.role == "project_manager" || req.role == "technician";
        return problem(404, "Not Found", "no " + owner_words(kind, id) + (own_only ? " of yours" : ""));
    };
    if (req.role == "admin" || req.role == "back_office" || req.role == "manager") {
        auto exists = docs::owner_exists(*ctx.db, kind, id);
        if (!exists) return from_error(exists.error());
        if (!*exists) return none();
        if (access == Access::write && req.role == "manager")
            return problem(403, "Forbidden", "managers read documents; they do not change them");
        return {};
    }
    if (req.role == "sales" || req.role == "project_manager") {
        const bool rep = req.role == "sales";
        if (kind == OwnerKind::project) {
            auto p = projects::get_project(*ctx.db, id);
            if (!p) return from_error(p.error());
            if (!*p || (rep ? (*p)->sales_rep : (*p)->manager) != req.user) return none();
            return {};
        }
        if (kind == OwnerKind::customer) {
            // A customer is theirs through a project of theirs (cancelled ones too: the papers stay theirs).
            projects::ProjectQuery q;
            q.customer_id = id;
            q.include_cancelled = true;
            q.limit = 1;
            (rep ? q.sales_rep : q.manager) = req.user;
            auto mine = projects::list_projects(*ctx.db, q);
            if (!mine) return from_error(mine.error());
            if (mine->empty()) return none();
            return {};
        }
        return none();
    }
    if (req.role == "technician" && kind == OwnerKind::work_order) {
        auto wo = storage::load_versioned_work_order(*ctx.db, id);
        if (!wo) return from_error(wo.error());
        if (!*wo || (*wo)->order.assignee != req.user) return none();
        if (access == Access::write && !workorders::is_open((*wo)->order.state))
            return problem(
                403, "Forbidden",
                "work order " + std::to_string(id) + ": technicians add documents to open orders only");
        return {};
    }
    return none();
}

Checked<std::int64_t> id_param(const Request& req, const char* what) {
    const auto n = parse_number<std::int64_t>(req.params.at("id"));
    if (!n || *n < 1)
        return problem(400, "Bad Request", std::string("id: expected a ") + what + " number", "id");
    return *n;
}

// A document the caller may see (deleted ones are gone): 404 otherwise, as for its owner.
Checked<docs::Document> load_visible(ApiContext& ctx, const Request& req, Access access) {
    auto id = id_param(req, "document");
    if (!id) return id.refusal();
    const auto none = problem(404, "Not Found", "no document " + std::to_string(*id));
    auto found = docs::get_document(*ctx.db, *id);
    if (!found) return from_error(found.error());
    if (!*found || (*found)->deleted_at) return none;
    if (auto ok = check_owner(ctx, req, (*found)->owner_kind, (*found)->owner_id, access); !ok) {
        if (ok.refusal().status == 404) return none;
        return ok.refusal();
    }
    return **found;
}

Response refusal_of(const Error& e) {
    if (e.kind == ErrorKind::unsupported) return problem(415, "Unsupported Media Type", e.message, e.path);
    if (e.kind == ErrorKind::rejected && e.path == "body")
        return problem(413, "Content Too Large", e.message, "body");
    if (e.kind == ErrorKind::rejected) return problem(422, "Unprocessable Content", e.message, e.path);
    return from_error(e);
}

boost::asio::awaitable<Response> upload(ApiContext& ctx, Request& req, OwnerKind kind) {
    if (!ctx.documents) co_return documents_off();
    auto id = id_param(req, kind == OwnerKind::work_order ? "work order"
                            : kind == OwnerKind::project  ? "project"
                                                          : "customer");
    if (!id) co_return id.refusal();
    if (auto ok = check_owner(ctx, req, kind, *id, Access::write); !ok) co_return ok.refusal();
    docs::Upload up;
    up.owner_kind = kind;
    up.owner_id = *id;
    up.actor = req.user;
    const std::string category = req.query_param("category").value_or("");
    const auto cat = enum_from_name(docs::kCategoryNames, category);
    if (!cat)
        co_return problem(
            400, "Bad Request",
            "category: " + (category.empty() ? std::string("required") : "unknown '" + category + "'") +
                " (expected " + enum_names_list(docs::kCategoryNames) + ")",
            "category");
    up.category = *cat;
    if (auto caption = req.query_param("caption"); caption && !caption->empty()) {
        if (caption->size() > docs::kMaxCaptionBytes)
            co_return problem(400, "Bad Request",
                              "caption: at most " + std::to_string(docs::kMaxCaptionBytes) + " bytes",
                              "caption");
        up.caption = *caption;
    }
    up.file_name = req.query_param("name").value_or("");
    if (up.file_name.size() > 1000) co_return problem(400, "Bad Request", "name: at most 1000 bytes", "name");
    // Reading, sniffing and hashing up to max_bytes is a worker's job; the database stays on this thread.
    auto prepare = [lib = ctx.documents, file = std::filesystem::path(req.body_file),
                    body = std::move(req.body)] { return docs::prepare_upload(*lib, file, body); };
    auto prepared = co_await offload(ctx, std::move(prepare));
    if (!prepared) co_return busy(prepared.error());
    if (!*prepared) co_return refusal_of(prepared->error());
    auto stored = docs::store_prepared(*ctx.db, *ctx.documents, up, **prepared, ctx.clock->now());
    if (!stored) {
        if (stored.error().kind == ErrorKind::io)
            PVF_LOG(error, "documents",
                    "upload to " << owner_words(kind, *id) << ": " << stored.error().message);
        co_return refusal_of(stored.error());
    }
    PVF_LOG(info, "documents",
            "document " << stored->id << " (" << enum_name(docs::kMediaTypeNames, stored->media_type) << ", "
                        << stored->size << " bytes) added to " << owner_words(kind, *id) << " by "
                        << req.user);
    Response r = json_response(201, document_json(*stored));
    r.headers.emplace("Location", "/api/documents/" + std::to_string(stored->id));
    co_return r;
}

Response list(ApiContext& ctx, Request& req, OwnerKind kind) {
    auto id = id_param(req, kind == OwnerKind::work_order ? "work order"
                            : kind == OwnerKind::project  ? "project"
                                                          : "customer");
    if (!id) return id.refusal();
    if (auto ok = check_owner(ctx, req, kind, *id, Access::read); !ok) return ok.refusal();
    auto docs_of = docs::list_documents(*ctx.db, kind, *id);
    if (!docs_of) return from_error(docs_of.error());
    json items = json::array();
    for (const auto& d : *docs_of) items.push_back(document_json(d));
    return json_response(200, {{"items", items}, {"enabled", ctx.documents != nullptr}});
}

// RFC 6266: an ASCII fallback and the UTF-8 name percent-encoded.
std::string content_disposition(const docs::Document& d, docs::Size size, bool attachment) {
    std::string encoded;
    static constexpr char kHex[] = "0123456789ABCDEF";
    std::string utf8 = d.file_name;
    if (size != docs::Size::original) utf8 = docs::download_name(d, size);
    for (unsigned char c : utf8) {
        const bool plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                           c == '.' || c == '-' || c == '_';
        if (plain) {
            encoded += static_cast<char>(c);
        } else {
            encoded += '%';
            encoded += kHex[c >> 4];
            encoded += kHex[c & 15];
        }
    }
    return std::string(attachment ? "attachment" : "inline") + "; filename=\"" +
           docs::download_name(d, size) + "\"; filename*=UTF-8''" + encoded;
}

boost::asio::awaitable<Response> content(ApiContext& ctx, Request& req) {
    if (!ctx.documents) co_return documents_off();
    auto doc = load_visible(ctx, req, Access::read);
    if (!doc) co_return doc.refusal();
    docs::Size size = docs::Size::original;
    if (auto s = req.query_param("size"); s && !s->empty()) {
        const auto named = enum_from_name(docs::kResizedNames, *s);
        if (!named)
            co_return problem(400, "Bad Request", "size: unknown '" + *s + "' (expected thumb, phone)",
                              "size");
        if (!docs::is_image(doc->media_type))
            co_return problem(400, "Bad Request", "size: only images have resized forms (this is a PDF)",
                              "size");
        size = *named;
    }
    // The bytes never change under a hash: the ETag is the hash (and the form).
    const std::string etag =
        "\"" + doc->sha256 +
        (size == docs::Size::original ? "" : "-" + std::string(enum_name(docs::kResizedNames, size))) + "\"";
    Response out;
    out.headers["ETag"] = etag;
    // Kept by the browser, but asked again each time (a 304 when unchanged), so a revoked access is noticed.
    out.headers["Cache-Control"] = "private, no-cache";
    // Whatever a file holds, it never runs in our origin: no script, no plugin, a sandbox.
    out.headers["Content-Security-Policy"] = "default-src 'none'; sandbox";
    out.content_type = size == docs::Size::original
                           ? std::string(enum_name(docs::kMediaTypeNames, doc->media_type))
                           : "image/jpeg";
    if (req.header("if-none-match") == etag) {
        out.status = 304;
        co_return out;
    }
    std::filesystem::path path;
    if (size == docs::Size::original) {
        path = ctx.documents->blob_path(doc->sha256);
    } else {
        // A named lambda: GCC 12 destroys the captures of a lambda made inside a co_await expression twice.
        auto resize = [lib = ctx.documents, d = *doc, size] { return docs::file_for(*lib, d, size); };
        auto made = co_await offload(ctx, std::move(resize));
        if (!made) co_return busy(made.error());
        if (!*made) {
            const Error& e = made->error();
            if (e.kind == ErrorKind::io || e.kind == ErrorKind::not_found)
                PVF_LOG(error, "documents", "document " << doc->id << ": " << e.message);
            co_return e.kind == ErrorKind::rejected ? problem(422, "Unprocessable Content", e.message, "size")
                                                    : refusal_of(e);
        }
        path = **made;
    }
    std::error_code ec;
    const auto bytes = std::filesystem::file_size(path, ec);
    if (ec) {
        PVF_LOG(error, "documents",
                "document " << doc->id << ": '" << path.string() << "' cannot be read: " << ec.message());
        co_return problem(500, "Internal Server Error", "the document's file cannot be read");
    }
    // A PDF is downloaded, never shown in our origin; images are shown.
    out.headers["Content-Disposition"] = content_disposition(*doc, size, !docs::is_image(doc->media_type));
    out.file = http::FileSlice{path.string(), 0, bytes};
    co_return out;
}

}  // namespace document_routes

void add_document_routes(Router& router, ApiContext& ctx) {
    using namespace document_routes;
    const std::string kBody = "application/octet-stream";
    const std::string kQuery =
        " (body: the file's bytes as application/octet-stream; query: category, caption, name)";
    for (auto [kind, base, readers, writers] :
         {std::tuple{OwnerKind::customer, "/api/customers/{id}/documents", &kCrmDocumentReaders,
                     &kCrmDocumentWriters},
          std::tuple{OwnerKind::project, "/api/projects/{id}/documents", &kCrmDocumentReaders,
                     &kCrmDocumentWriters},
          std::tuple{OwnerKind::work_order, "/api/work-orders/{id}/documents", &kOrderDocumentReaders,
                     &kOrderDocumentWriters}}) {
        const std::string owner(kind == OwnerKind::work_order ? "work order"
                                                              : enum_name(docs::kOwnerKindNames, kind));
        router.add_async(
            "POST", base,
            {"Add a document or photo to the " + owner + kQuery + "; JPEG, PNG or PDF sniffed from its bytes",
             *writers, "documents"},
            [&ctx, kind = kind](Request& req) { return upload(ctx, req, kind); });
        router.set_body_type(kBody);
        router.add("GET", base, {"The " + owner + "'s documents, newest first", *readers, "documents"},
                   [&ctx, kind = kind](Request& req) { return list(ctx, req, kind); });
    }
    router.add("GET", "/api/documents/{id}", {"A document's metadata", kDocumentReaders, "documents"},
               [&ctx](Request& req) {
                   auto doc = load_visible(ctx, req, Access::read);
                   if (!doc) return doc.refusal();
                   return json_response(200, document_json(*doc));
               });
    router.add_async(
        "GET", "/api/documents/{id}/content",
        {"A document's bytes (size=thumb|phone: an image resized to 320 or 1280 px, JPEG; ETag: the hash)",
         kDocumentReaders, "documents"},
        [&ctx](Request& req) { return content(ctx, req); });
    router.add("DELETE", "/api/documents/{id}",
               {"Delete a document (soft; its file goes when no other document has the same bytes)",
                kDocumentWriters, "documents"},
               [&ctx](Request& req) {
                   if (!ctx.documents) return documents_off();
                   auto doc = load_visible(ctx, req, Access::write);
                   if (!doc) return doc.refusal();
                   auto gone =
                       docs::delete_document(*ctx.db, *ctx.documents, doc->id, req.user, ctx.clock->now());
                   if (!gone) return from_error(gone.error());
                   PVF_LOG(info, "documents", "document " << doc->id << " deleted by " << req.user);
                   json j = document_json(*gone);
                   j["deleted_at"] = time_json(gone->deleted_at);
                   j["deleted_by"] = opt_json(gone->deleted_by);
                   return json_response(200, j);
               });
}

}  // namespace pvfleet::api::detail
