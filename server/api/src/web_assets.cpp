#include "pvfleet/api/web_assets.hpp"

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <iterator>

namespace pvfleet::api {
namespace {

namespace fs = std::filesystem;

std::string content_type_for(const fs::path& p) {
    const auto ext = p.extension().string();
    if (ext == ".html") return "text/html; charset=utf-8";
    if (ext == ".js" || ext == ".mjs") return "text/javascript; charset=utf-8";
    if (ext == ".css") return "text/css; charset=utf-8";
    if (ext == ".json" || ext == ".map") return "application/json";
    if (ext == ".webmanifest") return "application/manifest+json";
    if (ext == ".svg") return "image/svg+xml";
    if (ext == ".png") return "image/png";
    if (ext == ".jpg" || ext == ".jpeg") return "image/jpeg";
    if (ext == ".ico") return "image/x-icon";
    if (ext == ".woff2") return "font/woff2";
    if (ext == ".txt") return "text/plain; charset=utf-8";
    return "application/octet-stream";
}

// FNV-1a 64: stable across restarts, so a browser's cached copy stays valid while the file does not change.
std::string etag_for(std::string_view bytes) {
    std::uint64_t h = 14695981039346656037ULL;
    for (const unsigned char c : bytes) {
        h ^= c;
        h *= 1099511628211ULL;
    }
    char out[24];
    std::snprintf(out, sizeof out, "\"%016llx\"", static_cast<unsigned long long>(h));
    return out;
}

bool inside(const fs::path& canonical_root, const fs::path& canonical_path) {
    const auto rel = canonical_path.lexically_relative(canonical_root);
    return !rel.empty() && *rel.begin() != ".." && rel.is_relative();
}

bool last_segment_has_extension(std::string_view path) {
    const auto slash = path.find_last_of("/\\");
    const auto last = slash == std::string_view::npos ? path : path.substr(slash + 1);
    return last.find('.', 1) != std::string_view::npos;
}

}  // namespace

Result<WebAssets> WebAssets::load(const fs::path& root, WebAssetLimits limits) {
    std::error_code ec;
    const fs::path base = fs::canonical(root, ec);
    if (ec || !fs::is_directory(base, ec))
        return Error::at("web_root", "'" + root.string() + "' is not a readable folder");
    WebAssets assets;
    fs::recursive_directory_iterator it(base, fs::directory_options::none, ec);
    if (ec) return Error::at("web_root", "cannot list '" + root.string() + "': " + ec.message());
    for (; it != fs::recursive_directory_iterator(); it.increment(ec)) {
        if (ec) return Error::at("web_root", "cannot list '" + root.string() + "': " + ec.message());
        const fs::path rel = it->path().lexically_relative(base);
        const std::string name = rel.generic_string();
        const std::string leaf = rel.filename().string();
        // Hidden files are editor and VCS leftovers; dev/ holds sources, not part of the app.
        if (leaf.starts_with(".") || (it.depth() == 0 && leaf == "dev")) {
            if (it->is_directory(ec)) it.disable_recursion_pending();
            continue;
        }
        if (it->is_symlink(ec)) {
            // A symlinked folder is not entered (directory_options::none); a symlinked file counts only
            // when its target stays inside the root.
            const fs::path target = fs::canonical(it->path(), ec);
            if (ec || !inside(base, target) || !fs::is_regular_file(target, ec)) continue;
        } else if (!it->is_regular_file(ec)) {
            continue;
        }
        if (assets.files_.size() >= limits.max_files)
            return Error::at("web_root", "more than " + std::to_string(limits.max_files) + " files in '" +
                                             root.string() + "'");
        const std::size_t budget = limits.max_bytes - assets.total_bytes_;
        const auto size = fs::file_size(it->path(), ec);
        std::ifstream in(it->path(), std::ios::binary);
        if (ec || !in) return Error::at("web_root", "cannot read '" + it->path().string() + "'");
        File file;
        // One byte more than the size read, so a file that grew since is caught too.
        file.body.resize(static_cast<std::size_t>(std::min<std::uintmax_t>(size, budget) + 1));
        in.read(file.body.data(), static_cast<std::streamsize>(file.body.size()));
        file.body.resize(static_cast<std::size_t>(in.gcount()));
        if (size > budget || file.body.size() > budget)
            return Error::at("web_root", "more than " + std::to_string(limits.max_bytes) + " bytes in '" +
                                             root.string() + "'");
        file.content_type = content_type_for(rel);
        file.etag = etag_for(file.body);
        assets.total_bytes_ += file.body.size();
        assets.files_.emplace(name, std::move(file));
    }
    if (!assets.find("index.html"))
        return Error::at("web_root", "'" + root.string() + "' has no index.html (is it the web app's folder?)");
    return assets;
}

const WebAssets::File* WebAssets::find(std::string_view name) const {
    const auto it = files_.find(name);
    return it == files_.end() ? nullptr : &it->second;
}

http::Response WebAssets::serve(const http::Request& request) const {
    if (request.method != "GET" && request.method != "HEAD")
        return http::problem(405, "Method Not Allowed", "the web app's files are read-only");
    const std::string_view path = request.path;
    const File* file = path == "/"                ? find("index.html")
                       : path.starts_with('/') ? find(path.substr(1))
                                               : nullptr;
    if (!file) {
        if (last_segment_has_extension(path)) return http::problem(404, "Not Found", "no file " + request.path);
        file = find("index.html");
    }
    http::Response r;
    r.content_type = file->content_type;
    r.headers.emplace("Cache-Control", "no-cache");
    r.headers.emplace("ETag", file->etag);
    if (request.header("if-none-match") == file->etag) {
        r.status = 304;
        return r;
    }
    r.body = file->body;
    return r;
}

}  // namespace pvfleet::api
