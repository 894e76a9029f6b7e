// The webhook sender's HTTP client over libcurl (sender.hpp, make_curl_poster).
#include <curl/curl.h>

#include <chrono>
#include <memory>
#include <mutex>

#include "pvfleet/webhooks/sender.hpp"

namespace pvfleet::webhooks {
namespace {

// Keeps the first `excerpt_bytes` of the response and stops reading after `max_bytes`.
struct ResponseSink {
    std::size_t max_bytes = 0;
    std::size_t excerpt_bytes = 0;
    std::size_t seen = 0;
    bool cut = false;
    std::string excerpt;
};

std::size_t on_body(char* data, std::size_t size, std::size_t count, void* user) {
    auto& sink = *static_cast<ResponseSink*>(user);
    const std::size_t n = size * count;
    if (sink.excerpt.size() < sink.excerpt_bytes)
        sink.excerpt.append(data, std::min(n, sink.excerpt_bytes - sink.excerpt.size()));
    sink.seen += n;
    if (sink.seen > sink.max_bytes) {
        sink.cut = true;
        return 0;  // libcurl ends the transfer with CURLE_WRITE_ERROR
    }
    return n;
}

class CurlPoster final : public Poster {
public:
    CurlPoster() {
        static std::once_flag once;
        std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
    }

    PostOutcome post(const PostRequest& req) override {
        PostOutcome out;
        const auto started = std::chrono::steady_clock::now();
        std::unique_ptr<CURL, decltype(&curl_easy_cleanup)> h(curl_easy_init(), &curl_easy_cleanup);
        if (!h) {
            out.error = "libcurl: cannot make a handle";
            return out;
        }
        std::unique_ptr<curl_slist, decltype(&curl_slist_free_all)> headers(nullptr, &curl_slist_free_all);
        for (const auto& [name, value] : req.headers) {
            curl_slist* next = curl_slist_append(headers.get(), (name + ": " + value).c_str());
            if (next == nullptr) {
                out.error = "libcurl: out of memory";
                return out;
            }
            (void)headers.release();
            headers.reset(next);
        }
        // No "Expect: 100-continue" round trip before the body.
        if (curl_slist* next = curl_slist_append(headers.get(), "Expect:")) {
            (void)headers.release();
            headers.reset(next);
        }
        // The address the policy checked, and no other: DNS is not asked again.
        const bool v6 = req.address.find(':') != std::string::npos;
        const std::string pin =
            req.host + ":" + std::to_string(req.port) + ":" + (v6 ? "[" + req.address + "]" : req.address);
        std::unique_ptr<curl_slist, decltype(&curl_slist_free_all)> resolve(
            curl_slist_append(nullptr, pin.c_str()), &curl_slist_free_all);
        ResponseSink sink{req.max_response_bytes, req.excerpt_bytes, 0, false, {}};
        char errors[CURL_ERROR_SIZE] = {};
        CURL* c = h.get();
        curl_easy_setopt(c, CURLOPT_URL, req.url.c_str());
        curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
        curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
        curl_easy_setopt(c, CURLOPT_PROXY,
                         "");  // never a proxy from the environment: it would resolve the host
        curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(c, CURLOPT_RESOLVE, resolve.get());
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers.get());
        curl_easy_setopt(c, CURLOPT_POST, 1L);
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, req.body.data());
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(req.body.size()));
        curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(req.connect_timeout.count()));
        curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, static_cast<long>(req.total_timeout.count()));
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, &on_body);
        curl_easy_setopt(c, CURLOPT_WRITEDATA, &sink);
        curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errors);
        curl_easy_setopt(c, CURLOPT_FORBID_REUSE, 1L);
        const CURLcode rc = curl_easy_perform(c);
        out.duration = std::chrono::duration_cast<Millis>(std::chrono::steady_clock::now() - started);
        long status = 0;
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
        if (status > 0) out.http_status = static_cast<int>(status);
        out.excerpt = std::move(sink.excerpt);
        if (rc == CURLE_WRITE_ERROR && sink.cut) {
            out.error = "response cut after " + std::to_string(req.max_response_bytes) + " bytes";
        } else if (rc != CURLE_OK) {
            out.error = curl_easy_strerror(rc);
            if (errors[0] != '\0') out.error += std::string(": ") + errors;
        }
        return out;
    }
};

}  // namespace

std::unique_ptr<Poster> make_curl_poster() {
    return std::make_unique<CurlPoster>();
}

}  // namespace pvfleet::webhooks
