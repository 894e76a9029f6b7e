// Documents through the real HTTP transport (a socket on port 0, bodies over 1 MiB spooled to disk, the
// transport's limit from documents::upload_body_limit) and the real auth hook, on SQLite and PostgreSQL:
// uploads to a customer, a project and a work order, lists, metadata, the original byte for byte with its
// ETag and 304, resized forms (upright, 320 and 1280 px), dedup by hash, the file removed only with its last
// live reference (and not while an upload of the same bytes is under way), refusals (415, 413, 400) leaving
// nothing on disk, the role matrix on lists, metadata AND content, and the contract's signed PDF.
#include <doctest/doctest.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/write.hpp>
#include <boost/asio/post.hpp>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <thread>

#include "pvfleet/api/api.hpp"
#include "pvfleet/documents/documents.hpp"
#include "pvfleet/documents/image.hpp"
#include "pvfleet/http/server.hpp"
#include "pvfleet/projects/repository.hpp"
#include "pvfleet/records/customers.hpp"
#include "pvfleet/records/users.hpp"
#include "pvfleet/storage/store.hpp"
#include "pvfleet/storage/work_orders.hpp"
#include "support/http_client.hpp"
#include "support/paths.hpp"
#include "support/server_backends.hpp"

using namespace pvfleet;
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

const TimePoint kT0 = from_epoch_ms(1782864000000);  // 2026-07-01T00:00:00Z

const bool kFastKdf = [] {
    ::setenv("PVFLEET_KDF_ITERATIONS", "1000", 1);
    return true;
}();

documents::RgbImage quartered(int w, int h) {
    documents::RgbImage im;
    im.width = w;
    im.height = h;
    im.pixels.resize(static_cast<std::size_t>(w * h * 3));
    for (int y = 0; y < h; ++y)
        for (int x = 0; x < w; ++x) {
            auto* p = im.pixels.data() + static_cast<std::size_t>(y * w + x) * 3;
            const bool red = x < w / 2 && y < h / 2;
            p[0] = red ? 230 : 20;
            p[1] = 20;
            p[2] = red ? 20 : 230;
        }
    return im;
}

// Regular files under a folder, recursively (none when it does not exist).
std::vector<std::string> files_under(const fs::path& dir) {
    std::vector<std::string> out;
    std::error_code ec;
    for (auto it = fs::recursive_directory_iterator(dir, ec); !ec && it != fs::recursive_directory_iterator();
         it.increment(ec))
        if (it->is_regular_file()) out.push_back(fs::relative(it->path(), dir).string());
    std::sort(out.begin(), out.end());
    return out;
}

json parse(const test::HttpResponse& r) {
    return json::parse(r.body, nullptr, false);
}

std::string describe(const test::HttpResponse& r) {
    return std::to_string(r.status) + " " + r.body.substr(0, 300);
}

// Sends only the head of a request announcing a body of `announced` bytes and returns the status line the
// server answers with before any of the body came ("" when it answers nothing within 5 s: it waits for the body).
std::string answer_to_head_alone(int port, const std::string& target, std::size_t announced,
                                 const std::string& extra_headers = {}) {
    namespace asio = boost::asio;
    asio::io_context io;
    asio::ip::tcp::socket socket(io);
    socket.connect({asio::ip::make_address("127.0.0.1"), static_cast<unsigned short>(port)});
    const timeval five{5, 0};
    ::setsockopt(socket.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &five, sizeof five);
    const std::string head = "POST " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                             "Content-Type: application/octet-stream\r\nContent-Length: " +
                             std::to_string(announced) + "\r\n" + extra_headers + "\r\n";
    asio::write(socket, asio::buffer(head));
    std::string got;
    boost::system::error_code ec;
    asio::read_until(socket, asio::dynamic_buffer(got), "\r\n", ec);
    return got.substr(0, got.find("\r\n"));
}

struct Server {
    boost::asio::io_context ioc;
    std::unique_ptr<http::HttpServer> server;
    std::thread thread;
    int port = 0;
    Server(http::Router& router, const documents::Library& lib) {
        http::HttpServerOptions options;
        options.address = "127.0.0.1";
        options.port = 0;
        const documents::Settings settings = lib.settings();
        options.body_limit_for = [settings](std::string_view method, std::string_view target) {
            return documents::upload_body_limit(settings, method, target);
        };
        options.spool_dir = lib.incoming_dir().string();
        // As the server wires it: a large body is read only for a session the route allows.
        options.admit_large_body = [&router](http::Request& head) { return router.refuse_head(head); };
        auto made = http::HttpServer::create(ioc.get_executor(), options,
                                             [&router](http::Request& r) { return router.handle_async(r); });
        REQUIRE_MESSAGE(made, made.error().message);
        server = std::move(*made);
        server->start();
        port = server->port();
        thread = std::thread([this] { ioc.run(); });
    }
    ~Server() {
        boost::asio::post(ioc, [this] { server->stop(); });
        thread.join();
    }
};

}  // namespace

TEST_CASE(
    "documents api: upload, list, download, resize, dedup, delete and the role matrix — on both engines") {
    test::TempDir dir;
    for (const auto& be : test::fresh_backends(dir, "documents")) {
        CAPTURE(be.name);
        ManualClock clock{kT0};
        storage::Store store(be.open(), clock);
        REQUIRE(store.migrate());
        auto& db = store.db();
        const auto cipher = test::test_cipher();

        std::map<std::string, std::string> token;
        for (const auto& [name, role] :
             std::vector<std::pair<std::string, records::Role>>{{"admin", records::Role::admin},
                                                                {"office", records::Role::back_office},
                                                                {"boss", records::Role::manager},
                                                                {"anna", records::Role::sales},
                                                                {"ben", records::Role::sales},
                                                                {"pm", records::Role::project_manager},
                                                                {"pm2", records::Role::project_manager},
                                                                {"tech", records::Role::technician},
                                                                {"tech2", records::Role::technician}}) {
            auto u = records::create_user(db, name, name, role, "a long password", "setup", kT0);
            REQUIRE_MESSAGE(u, u.error().message);
            auto s = records::create_session(db, *u, kT0);
            REQUIRE(s);
            token[name] = s->token;
        }
        auto customer = [&](const std::string& name) {
            auto c = records::create_customer(
                db, cipher, records::Customer{0, name, "", "", "", "", {}, {}, 1}, "setup", kT0);
            REQUIRE(c);
            return c->id;
        };
        const std::int64_t c1 = customer("Anna Schmidt"), c2 = customer("Wang Fang");
        auto project = [&](const std::string& name, std::int64_t cust, const std::string& manager,
                           const std::string& rep) {
            projects::NewProject n;
            n.name = name;
            n.customer_id = cust;
            n.manager = manager;
            n.sales_rep = rep;
            n.started_on = "2026-07-01";
            auto p = projects::create_project(db, projects::default_project_settings(), n, "setup", kT0);
            REQUIRE_MESSAGE(p, p.error().message);
            return p->id;
        };
        const std::int64_t p1 = project("Schmidt roof", c1, "pm", "anna");
        const std::int64_t p2 = project("Wang factory", c2, "pm2", "ben");
        REQUIRE(db.run("INSERT INTO sites (site_id, created_at_ms, updated_at_ms) VALUES ('s1', 0, 0)"));
        auto order = [&](domain::FaultKind kind, workorders::WorkOrderState state, const std::string& tech) {
            workorders::WorkOrder w;
            w.site_id = "s1";
            w.device_id = "inv1";
            w.kind = kind;
            w.state = state;
            w.assignee = tech;
            w.created_at = w.updated_at = kT0;
            w.due_at = kT0 + std::chrono::hours(48);
            if (!workorders::is_open(state)) w.closed_at = kT0;
            auto saved = storage::save_work_order(db, w, std::nullopt, "setup", "create", kT0);
            REQUIRE_MESSAGE(saved, saved.error().message);
            return saved->id;
        };
        const std::int64_t wo1 =
            order(domain::FaultKind::inverter_fault, workorders::WorkOrderState::assigned, "tech");
        const std::int64_t wo_closed =
            order(domain::FaultKind::not_producing, workorders::WorkOrderState::closed, "tech");
        const std::int64_t wo3 =
            order(domain::FaultKind::comm_lost, workorders::WorkOrderState::assigned, "tech2");

        documents::Settings settings;
        settings.dir = dir / (be.name + "-documents");
        settings.max_bytes = 2 * 1024 * 1024;
        auto lib = documents::Library::open(settings);
        REQUIRE(lib);
        api::ApiContext ctx;
        ctx.db = &db;
        ctx.cipher = &cipher;
        ctx.clock = &clock;
        ctx.documents = std::move(*lib);
        http::Router router;
        api::add_routes(router, ctx);
        const fs::path blobs = settings.dir / "blobs";

        Server served(router, *ctx.documents);
        auto call = [&](const std::string& user, const std::string& method, const std::string& target,
                        const std::string& body = {}, std::map<std::string, std::string> headers = {}) {
            headers["Authorization"] = "Bearer " + token.at(user);
            if (method != "GET" && !headers.count("Content-Type"))
                headers["Content-Type"] = method == "POST" && target.find("/documents") != std::string::npos
                                              ? "application/octet-stream"
                                              : "application/json";
            return test::http_request("127.0.0.1", served.port, method, target, body, headers);
        };
        const std::string wo1_docs = "/api/work-orders/" + std::to_string(wo1) + "/documents";
        const std::string c1_docs = "/api/customers/" + std::to_string(c1) + "/documents";
        const std::string p1_docs = "/api/projects/" + std::to_string(p1) + "/documents";

        // A phone photo stored sideways (EXIF orientation 6), uploaded by the technician to their order.
        auto photo = documents::encode_jpeg(quartered(2000, 1000), 85, 6);
        REQUIRE(photo);
        auto up =
            call("tech", "POST",
                 wo1_docs + "?category=serial_plate&caption=Inverter%20plate&name=..%2FIMG_1.jpg", *photo);
        REQUIRE_MESSAGE(up.status == 201, describe(up));
        const json doc = parse(up);
        CHECK(doc["media_type"] == "image/jpeg");
        CHECK(doc["size"] == photo->size());
        CHECK(doc["file_name"] == "IMG_1.jpg");
        CHECK(doc["caption"] == "Inverter plate");
        CHECK(doc["owner_kind"] == "work_order");
        const std::string sha = doc["sha256"];
        const std::string doc_url = "/api/documents/" + std::to_string(doc["id"].get<std::int64_t>());
        CHECK(up.header("location") == doc_url);
        CHECK(files_under(blobs) == std::vector<std::string>{sha.substr(0, 2) + "/" + sha});

        // The original, byte for byte; its ETag is the hash, and a revalidation is a 304.
        auto original = call("tech", "GET", doc_url + "/content");
        REQUIRE_MESSAGE(original.status == 200, describe(original));
        CHECK(original.body == *photo);
        CHECK(original.header("content-type") == "image/jpeg");
        CHECK(original.header("etag") == "\"" + sha + "\"");
        CHECK(original.header("x-content-type-options") == "nosniff");
        CHECK(original.header("content-disposition").rfind("inline; filename=\"IMG_1.jpg\"", 0) == 0);
        auto again = call("tech", "GET", doc_url + "/content", {}, {{"If-None-Match", "\"" + sha + "\""}});
        CHECK(again.status == 304);
        CHECK(again.body.empty());
        // Resized, upright (portrait now), JPEG, cached on disk.
        for (const auto& [size, w, h] : {std::tuple{"thumb", 160, 320}, std::tuple{"phone", 640, 1280}}) {
            CAPTURE(size);
            auto r = call("tech", "GET", doc_url + "/content?size=" + size);
            REQUIRE_MESSAGE(r.status == 200, describe(r));
            CHECK(r.header("content-type") == "image/jpeg");
            CHECK(r.header("etag") == "\"" + sha + "-" + size + "\"");
            auto header = documents::read_header(documents::MediaType::jpeg, r.body);
            REQUIRE(header);
            CHECK(header->width == w);
            CHECK(header->height == h);
            auto pixels = documents::decode_scaled(documents::MediaType::jpeg, r.body, 4000, 100'000'000);
            REQUIRE(pixels);
            CHECK(pixels->at(w - 3, 2)[0] > 150);  // the stored top left (red) is now top right
            CHECK(pixels->at(2, 2)[2] > 150);
            CHECK(fs::exists(settings.dir / "variants" / (sha + "-" + size + ".jpg")));
        }
        CHECK(call("tech", "GET", doc_url + "/content?size=huge").status == 400);

        // The same bytes on a customer: one file for both.
        auto dup = call("anna", "POST", c1_docs + "?category=survey_photo", *photo);
        REQUIRE_MESSAGE(dup.status == 201, describe(dup));
        CHECK(parse(dup)["sha256"] == sha);
        const std::string dup_url = "/api/documents/" + std::to_string(parse(dup)["id"].get<std::int64_t>());
        CHECK(files_under(blobs).size() == 1);

        // A PNG on the project (the PM's), and a PDF over the transport's 1 MiB default (spooled) from the
        // office.
        auto png = documents::encode_png(quartered(300, 200));
        REQUIRE(png);
        auto png_up = call("pm", "POST", p1_docs + "?category=roof", *png);
        REQUIRE_MESSAGE(png_up.status == 201, describe(png_up));
        CHECK(parse(png_up)["media_type"] == "image/png");
        const std::int64_t png_id = parse(png_up)["id"];
        std::string pdf = "%PDF-1.7\n";
        pdf.resize(1536 * 1024, 'x');
        auto pdf_up =
            call("office", "POST", p1_docs + "?category=signed_contract&name=Vertrag%20M%C3%BCller.pdf", pdf);
        REQUIRE_MESSAGE(pdf_up.status == 201, describe(pdf_up));
        const std::int64_t pdf_id = parse(pdf_up)["id"];
        CHECK(parse(pdf_up)["file_name"] == "Vertrag Müller.pdf");
        auto pdf_get = call("pm", "GET", "/api/documents/" + std::to_string(pdf_id) + "/content");
        REQUIRE(pdf_get.status == 200);
        CHECK(pdf_get.body == pdf);
        CHECK(pdf_get.header("content-type") == "application/pdf");
        CHECK(pdf_get.header("content-disposition") ==
              "attachment; filename=\"Vertrag M_ller.pdf\"; filename*=UTF-8''Vertrag%20M%C3%BCller.pdf");
        CHECK(pdf_get.header("content-security-policy") == "default-src 'none'; sandbox");
        auto pdf_thumb =
            call("pm", "GET", "/api/documents/" + std::to_string(pdf_id) + "/content?size=thumb");
        CHECK(pdf_thumb.status == 400);
        CHECK(parse(pdf_thumb)["field"] == "size");
        auto listed = call("pm", "GET", p1_docs);
        REQUIRE(listed.status == 200);
        REQUIRE(parse(listed)["items"].size() == 2);
        CHECK(parse(listed)["items"][0]["id"] == pdf_id);  // newest first
        CHECK(parse(listed)["items"][1].contains("thumb_url"));
        CHECK_FALSE(parse(listed)["items"][0].contains("thumb_url"));

        // Refusals leave nothing on disk: a type that is none of ours, a forged JPEG, a body over the limit
        // (the transport stops it), a missing category, a caption too long.
        const auto before = files_under(settings.dir);
        auto html =
            call("anna", "POST", c1_docs + "?category=other", "<html><script>alert(1)</script></html>");
        CHECK(html.status == 415);
        CHECK(parse(html)["field"] == "body");
        CHECK(parse(html)["detail"] == "body: not a JPEG, PNG or PDF (starts with 3c 68 74 6d 6c 3e 3c 73)");
        auto forged =
            call("anna", "POST", c1_docs + "?category=other", std::string("\xFF\xD8\xFF\xE0<html>"));
        CHECK(forged.status == 415);
        std::string big = "%PDF-1.7\n";
        big.resize(settings.max_bytes + 1, 'x');
        auto too_big = call("office", "POST", p1_docs + "?category=other", big);
        CHECK(too_big.status == 413);
        // A large body without a session (or with a false one) is refused from its head, before any of it is read:
        // nobody streams to the server's disk before logging in.
        CHECK(answer_to_head_alone(served.port, p1_docs + "?category=other", 3 * 1024 * 1024 / 2)
                  .starts_with("HTTP/1.1 401"));
        CHECK(answer_to_head_alone(served.port, p1_docs + "?category=other", 3 * 1024 * 1024 / 2,
                                   "Authorization: Bearer nope\r\n")
                  .starts_with("HTTP/1.1 401"));
        // The whole request sent anyway: the refusal still arrives (the body is read and dropped meanwhile).
        std::string spooled_size = "%PDF-1.7\n";
        spooled_size.resize(3 * 1024 * 1024 / 2, 'x');  // over the transport's 1 MiB: it would be spooled
        auto anonymous = test::http_request("127.0.0.1", served.port, "POST", p1_docs + "?category=other",
                                            spooled_size, {{"Content-Type", "application/octet-stream"}});
        CHECK(anonymous.status == 401);
        auto forged_session =
            test::http_request("127.0.0.1", served.port, "POST", p1_docs + "?category=other", spooled_size,
                               {{"Content-Type", "application/octet-stream"}, {"Authorization", "Bearer nope"}});
        CHECK(forged_session.status == 401);
        auto no_category = call("anna", "POST", c1_docs, *png);
        CHECK(no_category.status == 400);
        CHECK(parse(no_category)["field"] == "category");
        auto long_caption =
            call("anna", "POST", c1_docs + "?category=other&caption=" + std::string(501, 'c'), *png);
        CHECK(long_caption.status == 400);
        CHECK(files_under(settings.dir) == before);

        // The role matrix: others' documents are 404 on metadata, content and lists alike.
        const std::string wo_doc = doc_url, c1_doc = dup_url,
                          p1_png = "/api/documents/" + std::to_string(png_id);
        struct Expect {
            std::string user, url;
            int status;
        };
        for (const auto& e : std::vector<Expect>{{"tech", wo_doc, 200},
                                                 {"tech2", wo_doc, 404},
                                                 {"anna", wo_doc, 404},
                                                 {"pm", wo_doc, 404},
                                                 {"boss", wo_doc, 200},
                                                 {"office", wo_doc, 200},
                                                 {"admin", wo_doc, 200},
                                                 {"anna", c1_doc, 200},
                                                 {"ben", c1_doc, 404},
                                                 {"pm", c1_doc, 200},
                                                 {"pm2", c1_doc, 404},
                                                 {"tech", c1_doc, 404},
                                                 {"boss", c1_doc, 200},
                                                 {"anna", p1_png, 200},
                                                 {"ben", p1_png, 404},
                                                 {"pm2", p1_png, 404},
                                                 {"tech", p1_png, 404}}) {
            CAPTURE(e.user);
            CAPTURE(e.url);
            CHECK(call(e.user, "GET", e.url).status == e.status);
            CHECK(call(e.user, "GET", e.url + "/content").status == e.status);
            CHECK(call(e.user, "GET", e.url + "/content?size=thumb").status == e.status);
        }
        CHECK(call("tech2", "GET", wo1_docs).status == 404);
        CHECK(call("ben", "GET", c1_docs).status == 404);
        CHECK(call("pm2", "GET", p1_docs).status == 404);
        CHECK(call("ben", "GET", "/api/customers/" + std::to_string(c2) + "/documents").status == 200);
        CHECK(call("pm2", "GET", "/api/projects/" + std::to_string(p2) + "/documents").status == 200);
        const auto before_writes = files_under(settings.dir);  // with the thumbnails just made
        // Writes: the manager only reads (the route table says so); a technician adds to open orders of
        // theirs.
        CHECK(call("boss", "DELETE", wo_doc).status == 403);
        CHECK(call("boss", "POST", c1_docs + "?category=other", *png).status == 403);
        CHECK(call("tech", "POST",
                   "/api/work-orders/" + std::to_string(wo_closed) + "/documents?category=other", *png)
                  .status == 403);
        CHECK(call("tech", "POST", "/api/work-orders/" + std::to_string(wo3) + "/documents?category=other",
                   *png)
                  .status == 404);
        CHECK(call("ben", "DELETE", c1_doc).status == 404);
        CHECK(files_under(settings.dir) == before_writes);

        // The contract's signed PDF: a PDF of category signed_contract of this project, nothing else.
        auto contract = call("office", "POST", "/api/projects/" + std::to_string(p1) + "/contract",
                             R"({"number": "C-1", "amount": 1200000, "currency": "EUR"})");
        REQUIRE_MESSAGE(contract.status == 201, describe(contract));
        const std::string contract_url = "/api/projects/" + std::to_string(p1) + "/contract";
        auto wrong = call("office", "PATCH", contract_url, json{{"signed_document_id", png_id}}.dump(),
                          {{"If-Match", contract.header("etag")}});
        CHECK(wrong.status == 400);
        CHECK(parse(wrong)["field"] == "signed_document_id");
        auto signed_pdf = call("office", "PATCH", contract_url, json{{"signed_document_id", pdf_id}}.dump(),
                               {{"If-Match", contract.header("etag")}});
        REQUIRE_MESSAGE(signed_pdf.status == 200, describe(signed_pdf));
        CHECK(parse(signed_pdf)["signed_document_id"] == pdf_id);

        // Deleting: the file stays while another live document has the same bytes, and goes with the last.
        auto gone = call("tech", "DELETE", wo_doc);
        REQUIRE_MESSAGE(gone.status == 200, describe(gone));
        CHECK(parse(gone)["deleted_by"] == "tech");
        CHECK(call("tech", "GET", wo_doc + "/content").status == 404);
        CHECK(call("office", "GET", wo_doc).status == 404);
        CHECK(call("tech", "DELETE", wo_doc).status == 404);
        CHECK(fs::exists(blobs / sha.substr(0, 2) / sha));
        REQUIRE(call("anna", "DELETE", c1_doc).status == 200);
        CHECK_FALSE(fs::exists(blobs / sha.substr(0, 2) / sha));
        CHECK_FALSE(fs::exists(settings.dir / "variants" / (sha + "-thumb.jpg")));
        CHECK(files_under(settings.dir / "incoming").empty());
    }
}

TEST_CASE("documents: a delete never removes a file an upload of the same bytes is about to reference") {
    test::TempDir dir;
    for (const auto& be : test::fresh_backends(dir, "documents_race")) {
        CAPTURE(be.name);
        ManualClock clock{kT0};
        storage::Store store(be.open(), clock);
        REQUIRE(store.migrate());
        auto& db = store.db();
        const auto cipher = test::test_cipher();
        auto c = records::create_customer(db, cipher, records::Customer{0, "A", "", "", "", "", {}, {}, 1},
                                          "setup", kT0);
        REQUIRE(c);
        documents::Settings settings;
        settings.dir = dir / (be.name + "-race");
        auto lib = documents::Library::open(settings);
        REQUIRE(lib);
        documents::Upload up;
        up.owner_id = c->id;
        up.actor = "office";
        const std::string bytes = "%PDF-1.4\nthe same bytes";
        auto first = documents::store_upload(db, **lib, up, {}, bytes, kT0);
        REQUIRE_MESSAGE(first, first.error().message);
        const fs::path blob = (*lib)->blob_path(first->sha256);
        // A second upload of these bytes has found the file there and not yet written its row...
        auto prepared = documents::prepare_upload(**lib, {}, bytes);
        REQUIRE(prepared);
        (*lib)->begin_upload(prepared->sha256);
        REQUIRE(documents::delete_document(db, **lib, first->id, "office", kT0));
        CHECK(fs::exists(blob));  // ... so the delete of the last live row leaves the file
        auto second = documents::store_prepared(db, **lib, up, *prepared, kT0);
        (*lib)->end_upload(prepared->sha256);
        REQUIRE(second);
        CHECK(fs::exists(blob));
        REQUIRE(documents::delete_document(db, **lib, second->id, "office", kT0));
        CHECK_FALSE(fs::exists(blob));
        // An upload to an owner that does not exist leaves nothing.
        up.owner_id = 999;
        CHECK(documents::store_upload(db, **lib, up, {}, bytes, kT0).error().kind == ErrorKind::not_found);
        CHECK_FALSE(fs::exists(blob));
    }
}
