#include "pvfleet/api/api.hpp"

#include <algorithm>

#include "common.hpp"

namespace pvfleet::api {

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
    detail::add_ticket_routes(router, ctx);
    detail::add_telemetry_routes(router, ctx);
    detail::add_enrollment_routes(router, ctx);
    detail::add_release_routes(router, ctx);  // over-the-air updates (routes_releases.cpp)
    detail::add_log_bundle_routes(router, ctx);  // remote diagnostics (routes_log_bundles.cpp)
    detail::add_webhook_routes(router, ctx);     // outbound webhooks (routes_webhooks.cpp)
    detail::add_lead_routes(router, ctx);  // CRM: leads (routes_leads.cpp, routes_public_leads.cpp)
    detail::add_project_routes(router, ctx);  // CRM: projects, board, conversion (routes_projects.cpp)
    detail::add_notification_routes(router, ctx);  // inbox, notification settings (routes_notifications.cpp)
    detail::add_contract_routes(router, ctx);  // CRM: contracts and payments (routes_contracts.cpp)
    detail::add_document_routes(router, ctx);  // CRM: documents and photos (routes_documents.cpp)
    router.add("GET", "/api/health", {"Liveness: 200 when the server answers", {}, "meta"}, [&ctx](Request&) {
        nlohmann::json j = {{"status", "ok"}, {"at", format_iso8601(ctx.clock->now())}};
        return json_response(200, j);
    });
    router.add("GET", "/api/openapi.json", {"This API's OpenAPI document", {}, "meta"},
               [&router](Request&) { return json_response(200, openapi_document(router)); });
    router.fallback = [assets = ctx.web_assets](Request& req) {
        return assets ? assets->serve(req) : problem(404, "Not Found", "no web app configured");
    };
}

}  // namespace pvfleet::api
