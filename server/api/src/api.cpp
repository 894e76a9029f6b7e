#include "pvfleet/api/api.hpp"

#include <fstream>
#include <sstream>

#include "common.hpp"

namespace pvfleet::api {
namespace {

std::string content_type_for(const std::filesystem::path& p) {
    const auto ext = p.extension().string();
    if (ext == ".html") return "text/html; charset=utf-8";
    if (ext == ".js" || ext == ".mjs") return "text/javascript; charset=utf-8";
    if (ext == ".css") return "text/css; charset=utf-8";
    if (ext == ".json") return "application/json";
    if (ext == ".svg") return "image/svg+xml";
    if (ext == ".png") return "image/png";
    if (ext == ".ico") return "image/x-icon";
    return "application/octet-stream";
}

// Static files of the web app; unknown paths without an extension get index.html (client-side routes).
Response serve_static(const std::filesystem::path& root, const Request& req) {
    if (root.empty()) return problem(404, "Not Found", "no web app configured");
    if (req.method != "GET" && req.method != "HEAD")
        return problem(405, "Method Not Allowed", "static files are read-only");
    std::string rel = req.path == "/" ? "index.html" : req.path.substr(1);
    if (rel.find("..") != std::string::npos) return problem(400, "Bad Request", "path: '..' is not allowed");
    // dev/ holds the front-end's mock server and smoke test: sources, not part of the app.
    if (rel.rfind("dev/", 0) == 0) return problem(404, "Not Found", "no file " + req.path);
    std::filesystem::path file = root / rel;
    std::error_code ec;
    if (!std::filesystem::is_regular_file(file, ec)) {
        if (std::filesystem::path(rel).has_extension())
            return problem(404, "Not Found", "no file " + req.path);
        file = root / "index.html";
    }
    std::ifstream in(file, std::ios::binary);
    if (!in) return problem(404, "Not Found", "no file " + req.path);
    std::ostringstream ss;
    ss << in.rdbuf();
    Response r;
    r.content_type = content_type_for(file);
    r.body = ss.str();
    r.headers.emplace("Cache-Control", "no-cache");
    r.headers.emplace("X-Content-Type-Options", "nosniff");
    return r;
}

}  // namespace

nlohmann::json openapi_document(const Router& router) {
    using nlohmann::json;
    json paths = json::object();
    for (const auto& route : router.routes()) {
        json op = {{"summary", route.info.summary}, {"tags", json::array({route.info.tag})}};
        json params = json::array();
        for (std::size_t p = route.pattern.find('{'); p != std::string::npos;
             p = route.pattern.find('{', p + 1)) {
            const auto e = route.pattern.find('}', p);
            params.push_back({{"name", route.pattern.substr(p + 1, e - p - 1)},
                              {"in", "path"},
                              {"required", true},
                              {"schema", {{"type", "string"}}}});
        }
        if (!params.empty()) op["parameters"] = params;
        if (route.info.roles.empty())
            op["security"] = json::array();
        else
            op["x-roles"] = route.info.roles;
        json responses = {
            {"200", {{"description", "OK"}, {"content", {{"application/json", json::object()}}}}},
            {"default",
             {{"description", "error"},
              {"content",
               {{"application/problem+json", {{"schema", {{"$ref", "#/components/schemas/Problem"}}}}}}}}}};
        if (!route.info.roles.empty()) responses["401"] = {{"description", "not logged in"}};
        op["responses"] = responses;
        if (route.method == "POST" || route.method == "PATCH" || route.method == "PUT")
            op["requestBody"] = {{"content", {{"application/json", {{"schema", {{"type", "object"}}}}}}}};
        std::string method = route.method;
        std::transform(method.begin(), method.end(), method.begin(),
                       [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
        paths[route.pattern][method] = op;
    }
    return {{"openapi", "3.1.0"},
            {"info",
             {{"title", "pvfleet server API"},
              {"version", "1"},
              {"description", "Back office REST API; see docs/api.md"}}},
            {"servers", json::array({{{"url", "/"}}})},
            {"paths", paths},
            {"components",
             {{"securitySchemes",
               {{"bearer", {{"type", "http"}, {"scheme", "bearer"}}},
                {"cookie", {{"type", "apiKey"}, {"in", "cookie"}, {"name", "pvfleet_session"}}}}},
              {"schemas",
               {{"Problem",
                 {{"type", "object"},
                  {"properties",
                   {{"type", {{"type", "string"}}},
                    {"title", {{"type", "string"}}},
                    {"status", {{"type", "integer"}}},
                    {"detail", {{"type", "string"}}},
                    {"field", {{"type", "string"}}}}}}}}}}},
            {"security", json::array({{{"bearer", json::array()}}, {{"cookie", json::array()}}})}};
}

void add_routes(Router& router, ApiContext& ctx) {
    detail::add_auth_routes(router, ctx);
    detail::add_record_routes(router, ctx);
    detail::add_work_order_routes(router, ctx);
    detail::add_telemetry_routes(router, ctx);
    router.add("GET", "/api/health", {"Liveness: 200 when the server answers", {}, "meta"}, [&ctx](Request&) {
        nlohmann::json j = {{"status", "ok"}, {"at", format_iso8601(ctx.clock->now())}};
        return json_response(200, j);
    });
    router.add("GET", "/api/openapi.json", {"This API's OpenAPI document", {}, "meta"},
               [&router](Request&) { return json_response(200, openapi_document(router)); });
    router.fallback = [root = ctx.web_root](Request& req) { return serve_static(root, req); };
}

}  // namespace pvfleet::api
