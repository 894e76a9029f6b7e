// libFuzzer target for the HTTP request path of shared/http: bytes → Beast's request_parser (the limits the
// server sets) → the pvfleet::http::Request the transport builds → parse_target → a Router with literal and
// {param} patterns, an auth hook and a fallback → a parse_body-style JSON check of the body. Properties:
//  - no crash, leak, hang or undefined behaviour on any bytes (sanitizers);
//  - the router never answers 500 (the handlers here do not throw: a 500 would be the router's own fault);
//  - a matched {param} is never empty and never spans a '/';
//  - parse_target on the raw bytes (as a target) either fails or yields a path no longer than the input.
#include <algorithm>
#include <boost/beast/core/error.hpp>
#include <boost/beast/http.hpp>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "pvfleet/http/http.hpp"

namespace bhttp = boost::beast::http;
using pvfleet::http::Request;
using pvfleet::http::Response;
using pvfleet::http::Route;
using pvfleet::http::Router;

namespace {
[[noreturn]] void fail(const char* what, const std::string& detail) {
    std::fprintf(stderr, "fuzz_http_request: %s: %s\n", what, detail.c_str());
    std::abort();
}

constexpr std::size_t kMaxDepth = 64;  // the depth the API accepts in a JSON body

// Depth of a parsed JSON value, without recursion (the value may be thousands of levels deep).
std::size_t depth_of(const nlohmann::json& root) {
    std::vector<std::pair<const nlohmann::json*, std::size_t>> stack{{&root, 1}};
    std::size_t deepest = 0;
    while (!stack.empty()) {
        auto [v, d] = stack.back();
        stack.pop_back();
        deepest = std::max(deepest, d);
        if (v->is_structured())
            for (const auto& child : *v) stack.emplace_back(&child, d + 1);
    }
    return deepest;
}

Response json_body_handler(Request& req) {
    const auto ct = req.header("content-type").value_or("");
    if (ct.rfind("application/json", 0) != 0) return pvfleet::http::problem(415, "Unsupported Media Type", "json");
    auto body = nlohmann::json::parse(req.body, nullptr, false);
    if (body.is_discarded()) return pvfleet::http::problem(400, "Bad Request", "not JSON");
    if (depth_of(body) > kMaxDepth) return pvfleet::http::problem(400, "Bad Request", "too deep");
    if (!body.is_object()) return pvfleet::http::problem(400, "Bad Request", "not an object");
    for (const auto& [key, value] : body.items())
        if (key != "note" && key != "state" && key != "name") return pvfleet::http::problem(400, "Bad Request", key);
    return pvfleet::http::json_response(200, {{"params", req.params}});
}

Response params_handler(Request& req) {
    for (const auto& [name, value] : req.params)
        if (value.empty() || value.find('/') != std::string::npos) fail("bad path parameter", name + "=" + value);
    return pvfleet::http::json_response(200, {{"params", req.params}});
}

const Router& router() {
    static const Router r = [] {
        Router out;
        out.add("GET", "/api/health", {"health", {}, "meta"}, [](Request&) { return Response{}; });
        out.add("GET", "/api/work-orders/{id}", {"one", {"admin"}, "wo"}, params_handler);
        out.add("PATCH", "/api/work-orders/{id}", {"change", {"admin"}, "wo"}, json_body_handler);
        out.add("POST", "/api/sites/{site_id}/tickets/{ticket_id}/acknowledge", {"ack", {"admin"}, "t"},
                json_body_handler);
        out.add("POST", "/api/customers", {"create", {"admin"}, "c"}, json_body_handler);
        out.add("GET", "/api/sites/{site_id}/devices/{device_id}", {"device", {}, "s"}, params_handler);
        out.before = [](Request& req, const Route& route) -> pvfleet::http::Checked<> {
            if (route.info.roles.empty()) return {};
            if (!req.header("authorization")) return pvfleet::http::problem(401, "Unauthorized", "log in");
            req.role = "admin";
            return {};
        };
        out.fallback = [](Request& req) {
            if (req.path.find('\0') != std::string::npos) return pvfleet::http::problem(404, "Not Found", "nul");
            return Response{};
        };
        return out;
    }();
    return r;
}

void route_request(bhttp::request<bhttp::string_body>& msg) {
    Request r;
    r.method = std::string(msg.method_string());
    r.target = std::string(msg.target());
    r.remote = "192.0.2.1";
    for (const auto& f : msg) {
        std::string name(f.name_string());
        for (auto& ch : name) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
        r.headers[name] = std::string(f.value());
    }
    r.body = std::move(msg.body());
    if (!pvfleet::http::parse_target(r.target, r.path, r.query)) return;
    const Response out = router().handle(r);
    if (out.status < 100 || out.status > 599) fail("status out of range", std::to_string(out.status));
    if (out.status == 500) fail("router answered 500", r.method + " " + r.target);
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view raw(reinterpret_cast<const char*>(data), size);
    {
        std::string path;
        std::map<std::string, std::string> query;
        if (pvfleet::http::parse_target(raw, path, query) && path.size() > raw.size())
            fail("parse_target made the path longer than the target", std::string(raw));
    }
    // The server's parser settings: 1 MiB bodies, Beast's header limit; pipelined requests one after another.
    std::size_t offset = 0;
    for (int round = 0; round < 4 && offset < size; ++round) {
        bhttp::request_parser<bhttp::string_body> parser;
        parser.body_limit(1024 * 1024);
        parser.eager(true);
        boost::beast::error_code ec;
        while (!parser.is_done() && offset < size) {
            const auto used = parser.put(boost::asio::buffer(data + offset, size - offset), ec);
            offset += used;
            if (ec || used == 0) break;
        }
        if (ec == bhttp::error::need_more && !parser.is_done()) {
            ec = {};
            parser.put_eof(ec);
        }
        if (ec || !parser.is_done()) break;
        auto msg = parser.release();
        route_request(msg);
    }
    return 0;
}
