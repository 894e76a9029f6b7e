#pragma once
// The web app's files, read into memory once at start and served by exact name only: no request path ever
// reaches the file system, so no encoding, dot segment or doubled slash can name another file.
//
// Loading walks the web root once: regular files only (and symlinks whose target stays inside the root), no
// hidden files, nothing under dev/ (the front-end's mock server and smoke test), bounded in count and bytes.
// Serving (the router's fallback for paths outside /api/): "/" and "/index.html" give the page, an exact name
// gives that file; any other path whose last segment has an extension is a 404, anything else the page again
// (client-side routes).
#include <cstddef>
#include <filesystem>
#include <map>
#include <string>
#include <string_view>

#include "pvfleet/http/http.hpp"
#include "pvfleet/util/result.hpp"

namespace pvfleet::api {

struct WebAssetLimits {
    std::size_t max_files = 1000;
    std::size_t max_bytes = 32 * 1024 * 1024;
};

class WebAssets {
public:
    struct File {
        std::string body;
        std::string content_type;
        std::string etag;  // a hash of the bytes, quoted
    };

    // Errors name the config key `web_root`: a missing folder or index.html, a limit exceeded, a file that
    // cannot be read.
    static Result<WebAssets> load(const std::filesystem::path& root, WebAssetLimits limits = {});

    // The file called `name` ("index.html", "js/app.js"), or nullptr.
    [[nodiscard]] const File* find(std::string_view name) const;
    [[nodiscard]] std::size_t file_count() const { return files_.size(); }
    [[nodiscard]] std::size_t total_bytes() const { return total_bytes_; }

    // GET/HEAD only (405 otherwise); If-None-Match with the current ETag gives 304.
    [[nodiscard]] http::Response serve(const http::Request& request) const;

private:
    std::map<std::string, File, std::less<>> files_;
    std::size_t total_bytes_ = 0;
};

}  // namespace pvfleet::api
