#include "pvfleet/http/server.hpp"

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <atomic>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <chrono>
#include <type_traits>
#include <list>
#include <sstream>

#include "pvfleet/util/log.hpp"

namespace pvfleet::http {
namespace {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
using tcp = asio::ip::tcp;
using TlsStream = beast::ssl_stream<beast::tcp_stream>;
using namespace std::chrono_literals;
template <class Stream>
constexpr bool kIsTls = std::is_same_v<Stream, TlsStream>;
constexpr auto kIdleTimeout = 30s;    // a kept-alive connection waiting for its next request; a body
constexpr auto kHeaderTimeout = 10s;  // the request head, from accept or from its first byte
constexpr auto kWriteTimeout = 30s;   // a response to a client that does not read it
constexpr auto kLingerTimeout = 2s;   // after refusing a head whose body is still coming: reading and dropping it
constexpr std::size_t kLingerBytes = 64 * 1024 * 1024;  // ... up to this much
constexpr auto kTlsCloseTimeout = 2s; // the peer's close_notify; then the socket is closed regardless
constexpr std::size_t kHeaderLimit = 16 * 1024;
constexpr std::size_t kTargetLimit = 8 * 1024;
constexpr std::size_t kReadChunk = 4096;
constexpr auto kMinBackoff = 50ms;
constexpr auto kMaxBackoff = 1000ms;
constexpr auto kAcceptLogInterval = 10s;
constexpr std::size_t kReservedFiles = 32;  // descriptors kept for everything but HTTP connections
constexpr const char* kLog = "http";

std::string lower(std::string_view s) {
    std::string out(s);
    std::transform(out.begin(), out.end(), out.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return out;
}

// What the bytes received so far say about the request head, before Beast parses it.
enum class Head { incomplete, complete, target_too_long, too_large, obs_fold };

Head scan_head(std::string_view buf) {
    const auto crlf = buf.find("\r\n\r\n");
    const auto lf = buf.find("\n\n");  // bare LF: complete enough for the parser to reject it
    std::size_t end = std::string_view::npos;
    if (crlf != std::string_view::npos) end = crlf + 4;
    if (lf != std::string_view::npos) end = std::min(end, lf + 2);
    const std::string_view head = buf.substr(0, end);
    const auto line_end = head.find('\n');
    const std::string_view line = head.substr(0, line_end);
    const auto target_start = line.find(' ');
    if (target_start != std::string_view::npos) {
        // While the request line is still arriving, all of its rest counts as target.
        const auto target_end = line_end == std::string_view::npos ? line.size() : line.rfind(' ');
        if (target_end > target_start && target_end - target_start - 1 > kTargetLimit)
            return Head::target_too_long;
    }
    if (end == std::string_view::npos) return buf.size() > kHeaderLimit ? Head::too_large : Head::incomplete;
    if (end > kHeaderLimit) return Head::too_large;
    // obs-fold (a field line starting with SP or HT) is obsolete; proxies may read it differently.
    for (auto pos = line_end + 1; pos < head.size();) {
        if (head[pos] == ' ' || head[pos] == '\t') return Head::obs_fold;
        const auto next = head.find('\n', pos);
        if (next == std::string_view::npos) break;
        pos = next + 1;
    }
    return Head::complete;
}

// Errors that concern one connection only (accept again at once); anything else — above all running out of
// descriptors or memory — would fail again immediately.
bool per_connection_error(const beast::error_code& ec) {
    return ec == asio::error::connection_aborted || ec == asio::error::connection_reset ||
           ec == asio::error::would_block || ec == asio::error::try_again || ec == asio::error::interrupted ||
           ec == asio::error::no_permission;
}

// One line per interval; the lines held back in between are counted.
class RateLimitedLog {
public:
    explicit RateLimitedLog(std::chrono::steady_clock::duration interval) : interval_(interval) {}
    // True when a line may be written now; `suppressed` is then how many were held back since the last one.
    bool allow(std::size_t& suppressed) {
        const auto now = std::chrono::steady_clock::now();
        if (logged_ && now - last_ < interval_) {
            ++held_;
            return false;
        }
        logged_ = true;
        last_ = now;
        suppressed = held_;
        held_ = 0;
        return true;
    }

private:
    std::chrono::steady_clock::duration interval_;
    std::chrono::steady_clock::time_point last_{};
    bool logged_ = false;
    std::size_t held_ = 0;
};

std::string suppressed_note(std::size_t n) {
    return n == 0 ? std::string() : " (" + std::to_string(n) + " more since the last such line)";
}

}  // namespace

struct HttpServer::Impl : std::enable_shared_from_this<Impl> {
    Impl(asio::any_io_executor ex, HttpServerOptions o, AsyncRequestHandler h)
        : executor(ex), options(std::move(o)), handler(std::move(h)), acceptor(ex), backoff_timer(ex) {}
    asio::any_io_executor executor;
    HttpServerOptions options;
    AsyncRequestHandler handler;
    tcp::acceptor acceptor;
    asio::steady_timer backoff_timer;
    bool stopped = false;
    std::atomic<std::size_t> active{0};
    std::list<std::weak_ptr<beast::tcp_stream>> connections;
    RateLimitedLog accept_log{kAcceptLogInterval};
    RateLimitedLog busy_log{kAcceptLogInterval};
    std::string busy_response;
    std::optional<TlsContext> tls;  // the context new connections get; each connection keeps its own
    std::atomic<std::uint64_t> spool_counter{0};

    // Holds one of max_connections for as long as a session runs.
    struct Slot {
        explicit Slot(std::atomic<std::size_t>& c) : count(c) {}
        ~Slot() { --count; }
        Slot(const Slot&) = delete;
        Slot& operator=(const Slot&) = delete;
        std::atomic<std::size_t>& count;
    };

    void add_default_headers(bhttp::response<bhttp::string_body>& res) const {
        res.set(bhttp::field::server, "pvfleet");
        for (const auto& [k, v] : options.default_headers) res.set(k, v);
    }

    // A refusal of a request's head (admit_large_body); the connection closes after it.
    bhttp::response<bhttp::string_body> refusal_response(const Response& r) const {
        bhttp::response<bhttp::string_body> res;
        res.result(static_cast<bhttp::status>(r.status));
        add_default_headers(res);
        res.set(bhttp::field::content_type, r.content_type);
        for (const auto& [k, v] : r.headers) res.set(k, v);
        res.body() = r.body;
        res.keep_alive(false);
        res.prepare_payload();
        return res;
    }

    // A response the transport writes itself (malformed, too large, busy); the connection closes after it.
    bhttp::response<bhttp::string_body> error_response(int status, std::string_view title,
                                                       std::string_view detail) const {
        const Response p = problem(status, title, detail);
        bhttp::response<bhttp::string_body> res;
        res.result(static_cast<bhttp::status>(p.status));
        add_default_headers(res);
        res.set(bhttp::field::content_type, p.content_type);
        res.body() = p.body;
        res.keep_alive(false);
        res.prepare_payload();
        return res;
    }

    // The limit for the request whose head is at the start of `buffer` (its request line decides).
    [[nodiscard]] std::size_t body_limit_of(const beast::flat_buffer& buffer) const {
        if (!options.body_limit_for) return options.body_limit;
        const std::string_view data(static_cast<const char*>(buffer.data().data()), buffer.size());
        const std::string_view line = data.substr(0, data.find_first_of("\r\n"));
        const auto sp1 = line.find(' ');
        const auto sp2 = sp1 == std::string_view::npos ? sp1 : line.find(' ', sp1 + 1);
        if (sp2 == std::string_view::npos) return options.body_limit;
        const std::size_t n = options.body_limit_for(line.substr(0, sp1), line.substr(sp1 + 1, sp2 - sp1 - 1));
        return n == 0 ? options.body_limit : n;
    }

    // Writes `head`'s fields and status with a body read from `slice` in pieces (buffer_body); false when the
    // file fails or the peer goes away (the connection then closes).
    template <class Stream>
    static asio::awaitable<bool> write_file(Stream& stream, const bhttp::response<bhttp::string_body>& head,
                                            const FileSlice& slice, bool head_only) {
        beast::file file;
        beast::error_code ec;
        file.open(slice.path.c_str(), beast::file_mode::read, ec);
        if (!ec) file.seek(slice.offset, ec);
        if (ec) {
            PVF_LOG(warn, kLog, "'" << slice.path << "' cannot be read: " << ec.message());
            co_return false;
        }
        bhttp::response<bhttp::buffer_body> res{head.result(), head.version()};
        for (const auto& f : head) res.set(f.name_string(), f.value());
        res.keep_alive(head.keep_alive());
        res.content_length(slice.length);
        res.body().data = nullptr;
        res.body().more = !head_only && slice.length > 0;
        bhttp::response_serializer<bhttp::buffer_body> sr{res};
        auto& tcp_stream = beast::get_lowest_layer(stream);
        tcp_stream.expires_after(kWriteTimeout);
        co_await bhttp::async_write_header(stream, sr, asio::redirect_error(asio::use_awaitable, ec));
        if (ec) co_return false;
        std::vector<char> chunk(64 * 1024);
        for (std::uint64_t left = head_only ? 0 : slice.length; left > 0;) {
            const std::size_t want = static_cast<std::size_t>(std::min<std::uint64_t>(left, chunk.size()));
            const std::size_t got = file.read(chunk.data(), want, ec);
            if (ec || got == 0) {
                PVF_LOG(warn, kLog, "'" << slice.path << "' ended early: " << (ec ? ec.message() : "short file"));
                co_return false;
            }
            left -= got;
            res.body().data = chunk.data();
            res.body().size = got;
            res.body().more = left > 0;
            tcp_stream.expires_after(kWriteTimeout);
            co_await bhttp::async_write(stream, sr, asio::redirect_error(asio::use_awaitable, ec));
            if (ec == bhttp::error::need_buffer) ec = {};
            if (ec) co_return false;
        }
        if (!sr.is_done()) {
            res.body().data = nullptr;
            res.body().more = false;
            co_await bhttp::async_write(stream, sr, asio::redirect_error(asio::use_awaitable, ec));
            if (ec && ec != bhttp::error::need_buffer) co_return false;
        }
        co_return true;
    }

    static std::string serialize(const bhttp::response<bhttp::string_body>& res) {
        std::ostringstream out;
        out << res;
        return out.str();
    }

    // Over the cap: a 503 written without waiting (a fresh socket's send buffer is empty), then closed.
    // Over TLS nothing is written: a handshake to send a 503 is what a flood would want from us.
    template <class Socket>
    void turn_away(Socket& socket) {
        std::size_t suppressed = 0;
        if (busy_log.allow(suppressed))
            PVF_LOG(warn, kLog,
                    "connection limit of " << options.max_connections << " reached: new connections get 503"
                                           << suppressed_note(suppressed));
        beast::error_code ec;
        socket.non_blocking(true, ec);
        if (!ec && !tls) socket.write_some(asio::buffer(busy_response), ec);
        socket.shutdown(tcp::socket::shutdown_both, ec);
        socket.close(ec);
    }

    asio::awaitable<void> accept_loop() {
        auto self = shared_from_this();
        auto backoff = std::chrono::milliseconds(0);
        while (!stopped) {
            beast::error_code ec;
            auto socket = co_await acceptor.async_accept(asio::make_strand(executor),
                                                         asio::redirect_error(asio::use_awaitable, ec));
            if (stopped || ec == asio::error::operation_aborted) co_return;
            if (ec && per_connection_error(ec)) continue;
            if (ec) {
                // Accepting again at once would fail again (and spin): wait, longer each time.
                backoff = std::clamp(backoff * 2, std::chrono::milliseconds(kMinBackoff), kMaxBackoff);
                std::size_t suppressed = 0;
                if (accept_log.allow(suppressed))
                    PVF_LOG(warn, kLog,
                            "accept: " << ec.message() << "; retrying in " << backoff.count() << " ms"
                                       << suppressed_note(suppressed));
                backoff_timer.expires_after(backoff);
                beast::error_code wait_ec;
                co_await backoff_timer.async_wait(asio::redirect_error(asio::use_awaitable, wait_ec));
                continue;
            }
            backoff = std::chrono::milliseconds(0);
            if (active >= options.max_connections) {
                turn_away(socket);
                continue;
            }
            ++active;
            connections.remove_if([](const auto& w) { return w.expired(); });
            if (tls) {
                auto stream = std::make_shared<TlsStream>(std::move(socket), *tls->context);
                // stop() cancels the TCP layer under the TLS stream (an aliasing pointer keeps the whole alive).
                connections.push_back(std::shared_ptr<beast::tcp_stream>(stream, &stream->next_layer()));
                asio::co_spawn(stream->get_executor(), session(self, stream, tls->context), asio::detached);
            } else {
                auto stream = std::make_shared<beast::tcp_stream>(std::move(socket));
                connections.push_back(stream);
                asio::co_spawn(stream->get_executor(), session(self, stream, nullptr), asio::detached);
            }
        }
    }

    // The TLS handshake, within the head deadline (a client that opens and stalls is cut off like a slow head).
    template <class Stream>
    static asio::awaitable<bool> open(Stream& stream) {
        if constexpr (kIsTls<Stream>) {
            beast::get_lowest_layer(stream).expires_after(kHeaderTimeout);
            beast::error_code ec;
            co_await stream.async_handshake(asio::ssl::stream_base::server,
                                            asio::redirect_error(asio::use_awaitable, ec));
            if (ec) {
                PVF_LOG(debug, kLog, "TLS handshake: " << ec.message());
                co_return false;
            }
        }
        co_return true;
    }

    // TLS says goodbye (close_notify) unless the server is stopping; then the socket closes.
    template <class Stream>
    static asio::awaitable<void> close(Stream& stream, bool graceful) {
        auto& tcp_stream = beast::get_lowest_layer(stream);
        if constexpr (kIsTls<Stream>) {
            if (graceful) {
                tcp_stream.expires_after(kTlsCloseTimeout);
                beast::error_code ec;
                co_await stream.async_shutdown(asio::redirect_error(asio::use_awaitable, ec));
            }
        }
        beast::error_code ignored;
        tcp_stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
        tcp_stream.close();
    }

    // Reads until the buffer holds a whole request head (or a reason to refuse it); false when the peer went
    // away or the deadline passed.
    template <class Stream>
    static asio::awaitable<bool> read_head(Stream& stream, beast::flat_buffer& buffer, Head& head) {
        for (;;) {
            const auto data = buffer.cdata();
            head = scan_head(std::string_view(static_cast<const char*>(data.data()), data.size()));
            if (head != Head::incomplete) co_return true;
            beast::error_code ec;
            const std::size_t n = co_await stream.async_read_some(buffer.prepare(kReadChunk),
                                                                  asio::redirect_error(asio::use_awaitable, ec));
            if (ec) co_return false;
            buffer.commit(n);
        }
    }

    // A request body written to a file in spool_dir; removed when this goes (or by remove()), whatever happened.
    struct SpoolFile {
        std::string path;
        SpoolFile() = default;
        SpoolFile(const SpoolFile&) = delete;
        SpoolFile& operator=(const SpoolFile&) = delete;
        ~SpoolFile() { remove(); }
        void remove() {
            if (!path.empty()) ::unlink(path.c_str());
            path.clear();
        }
    };

    static asio::awaitable<beast::error_code> read_to_memory(auto& stream, beast::flat_buffer& buffer,
                                                            std::size_t body_limit,
                                                            bhttp::request<bhttp::string_body>& out) {
        bhttp::request_parser<bhttp::string_body> parser;
        parser.header_limit(static_cast<std::uint32_t>(kHeaderLimit + 4));
        parser.body_limit(body_limit);
        beast::error_code ec;
        co_await bhttp::async_read(stream, buffer, parser, asio::redirect_error(asio::use_awaitable, ec));
        if (!ec) out = parser.release();
        co_return ec;
    }

    // The body goes to a new file in spool_dir as it arrives (never more than a read buffer in memory); `out` gets
    // the head and an empty body. `store_failed`: the file could not be made or written (the caller answers 503).
    // `refused`: admit_large_body's answer to the head; the body was not read (the caller answers and closes).
    asio::awaitable<beast::error_code> read_to_file(auto& stream, beast::flat_buffer& buffer, std::size_t body_limit,
                                                   bhttp::request<bhttp::string_body>& out, SpoolFile& spooled,
                                                   bool& store_failed, const std::string& remote,
                                                   std::optional<Response>& refused) {
        bhttp::request_parser<bhttp::file_body> parser;
        parser.header_limit(static_cast<std::uint32_t>(kHeaderLimit + 4));
        parser.body_limit(body_limit);
        beast::error_code ec;
        co_await bhttp::async_read_header(stream, buffer, parser, asio::redirect_error(asio::use_awaitable, ec));
        if (ec) co_return ec;
        if (options.admit_large_body) {
            Request head;
            head.method = std::string(parser.get().method_string());
            head.target = std::string(parser.get().target());
            for (const auto& f : parser.get()) head.headers[lower(f.name_string())] = std::string(f.value());
            head.remote = client_address(remote, head.header("x-forwarded-for"), options.trusted_proxies);
            if (!parse_target(head.target, head.path, head.query))
                refused = problem(400, "Bad Request", "malformed percent-encoding in the URL");
            else
                refused = options.admit_large_body(head);
            if (refused) co_return ec;
        }
        spooled.path = options.spool_dir + "/upload-" + std::to_string(::getpid()) + "-" +
                       std::to_string(spool_counter.fetch_add(1) + 1);
        parser.get().body().open(spooled.path.c_str(), beast::file_mode::write_new, ec);
        if (ec) {
            PVF_LOG(error, kLog, "cannot store an upload in '" << spooled.path << "': " << ec.message());
            spooled.path.clear();   // not ours: write_new did not make it
            store_failed = true;
            co_return ec;
        }
        co_await bhttp::async_read(stream, buffer, parser, asio::redirect_error(asio::use_awaitable, ec));
        if (ec) {   // the partial file goes with `spooled`
            const int e = ec.category() == boost::system::system_category() ? ec.value() : 0;
            if (e == ENOSPC || e == EDQUOT || e == EIO || e == EFBIG || e == EROFS) {
                PVF_LOG(error, kLog, "cannot store an upload in '" << spooled.path << "': " << ec.message());
                store_failed = true;
            }
            co_return ec;
        }
        auto req = parser.release();
        req.body().close();
        out = {};
        out.method_string(req.method_string());
        out.target(req.target());
        out.version(req.version());
        for (const auto& f : req) out.insert(f.name_string(), f.value());
        co_return ec;
    }

    // Awaited on the connection's strand: an async route waiting for a worker holds up no other connection.
    asio::awaitable<Response> call_handler(bhttp::request<bhttp::string_body>& req, const std::string& remote,
                                           const std::string& body_file) {
        Request r;
        r.body_file = body_file;
        r.method = std::string(req.method_string());
        r.target = std::string(req.target());
        for (const auto& f : req) r.headers[lower(f.name_string())] = std::string(f.value());
        r.body = std::move(req.body());
        r.remote = client_address(remote, r.header("x-forwarded-for"), options.trusted_proxies);
        if (!parse_target(r.target, r.path, r.query))
            co_return problem(400, "Bad Request", "malformed percent-encoding in the URL");
        Response out = co_await handler(r);
        if (r.method == "HEAD") out.body.clear();
        co_return out;
    }

    // Kept whole (one read-respond loop per connection): its deadlines and exits read best in order.
    // `tls_context` keeps the context a TLS connection was accepted with alive across a reload.
    template <class Stream>
    static asio::awaitable<void> session(std::shared_ptr<Impl> self, std::shared_ptr<Stream> stream,
                                         std::shared_ptr<asio::ssl::context> tls_context) {
        const Slot slot(self->active);
        auto& tcp_stream = beast::get_lowest_layer(*stream);
        beast::flat_buffer buffer;
        std::string remote;
        beast::error_code ep_ec;
        const auto ep = tcp_stream.socket().remote_endpoint(ep_ec);
        if (!ep_ec) remote = ep.address().to_string();
        const bool opened = co_await open(*stream);
        for (bool fresh = true; opened; fresh = false) {
            if (!fresh && buffer.size() == 0) {
                // Kept alive: the next request may take the idle timeout to start.
                tcp_stream.expires_after(kIdleTimeout);
                beast::error_code ec;
                const std::size_t n = co_await stream->async_read_some(
                    buffer.prepare(kReadChunk), asio::redirect_error(asio::use_awaitable, ec));
                if (ec) break;
                buffer.commit(n);
            }
            tcp_stream.expires_after(kHeaderTimeout);
            Head head = Head::incomplete;
            if (!co_await read_head(*stream, buffer, head)) break;
            bhttp::response<bhttp::string_body> res;
            if (head == Head::target_too_long)
                res = self->error_response(414, "URI Too Long",
                                           "request targets are limited to " + std::to_string(kTargetLimit) +
                                               " bytes");
            else if (head == Head::too_large)
                res = self->error_response(431, "Request Header Fields Too Large",
                                           "request heads are limited to " + std::to_string(kHeaderLimit) +
                                               " bytes");
            else if (head == Head::obs_fold)
                res = self->error_response(400, "Bad Request", "folded header lines (obs-fold) are not accepted");
            else {
                const std::size_t body_limit = self->body_limit_of(buffer);
                tcp_stream.expires_after(kIdleTimeout);  // the body
                beast::error_code ec;
                bhttp::request<bhttp::string_body> req;
                SpoolFile spooled;
                bool store_failed = false;
                std::optional<Response> refused;
                if (body_limit > self->options.body_limit && !self->options.spool_dir.empty())
                    ec = co_await self->read_to_file(*stream, buffer, body_limit, req, spooled, store_failed, remote,
                                                     refused);
                else
                    ec = co_await read_to_memory(*stream, buffer, body_limit, req);
                if (refused) {
                    // The body stays unread: answer, then a lingering close — the client may still be sending
                    // the body; it is read and dropped for a moment (never stored), so the refusal is not lost
                    // to a reset of unread data.
                    auto out = self->refusal_response(*refused);
                    beast::error_code wec;
                    tcp_stream.expires_after(kWriteTimeout);
                    co_await bhttp::async_write(*stream, out, asio::redirect_error(asio::use_awaitable, wec));
                    if (!wec) {
                        tcp_stream.socket().shutdown(tcp::socket::shutdown_send, wec);
                        tcp_stream.expires_after(kLingerTimeout);
                        for (std::size_t dropped = 0; dropped < kLingerBytes;) {
                            buffer.consume(buffer.size());
                            const std::size_t n = co_await stream->async_read_some(
                                buffer.prepare(kReadChunk), asio::redirect_error(asio::use_awaitable, wec));
                            if (wec) break;
                            dropped += n;
                        }
                    }
                    break;
                }
                if (!store_failed && (ec == bhttp::error::end_of_stream || ec == beast::error::timeout ||
                                      ec == asio::error::operation_aborted || ec == asio::error::connection_reset ||
                                      ec == asio::error::eof))
                    break;
                if (store_failed) {
                    res = self->error_response(503, "Service Unavailable", "the upload cannot be stored now");
                } else if (ec == bhttp::error::body_limit) {
                    res = self->error_response(413, "Payload Too Large",
                                               "request bodies are limited to " +
                                                   std::to_string(body_limit) + " bytes");
                } else if (ec) {
                    res = self->error_response(400, "Bad Request", "malformed HTTP request: " + ec.message());
                } else {
                    const auto te = req.count(bhttp::field::transfer_encoding);
                    if (te > 1 || (te == 1 && !beast::iequals(req[bhttp::field::transfer_encoding], "chunked"))) {
                        // Beast would read such a body as empty and the rest as the next request.
                        res = self->error_response(400, "Bad Request",
                                                   "Transfer-Encoding: only a single \"chunked\" is accepted");
                    } else {
                        if (self->stopped) break;  // the handler may be gone
                        // The handler may await a worker: no read deadline runs out meanwhile.
                        tcp_stream.expires_never();
                        const Response out = co_await self->call_handler(req, remote, spooled.path);
                        spooled.remove();
                        res.version(req.version());
                        res.result(static_cast<bhttp::status>(out.status));
                        self->add_default_headers(res);
                        res.set(bhttp::field::content_type, out.content_type);
                        for (const auto& [k, v] : out.headers) res.set(k, v);
                        res.keep_alive(req.keep_alive());
                        if (out.file) {
                            const bool head_only = req.method() == bhttp::verb::head;
                            if (!co_await write_file(*stream, res, *out.file, head_only) || !res.keep_alive())
                                break;
                            continue;
                        }
                        res.body() = out.body;
                        res.prepare_payload();
                    }
                }
            }
            beast::error_code wec;
            // A deadline of its own: one left over from reading may already have passed.
            tcp_stream.expires_after(kWriteTimeout);
            co_await bhttp::async_write(*stream, res, asio::redirect_error(asio::use_awaitable, wec));
            if (wec || !res.keep_alive()) break;
        }
        co_await close(*stream, opened && !self->stopped);
        stream.reset();  // the TLS stream goes before the context it was made from
        tls_context.reset();
    }
};

Result<std::unique_ptr<HttpServer>> HttpServer::create(asio::any_io_executor executor,
                                                       HttpServerOptions options, RequestHandler handler) {
    return create(executor, std::move(options),
                  [h = std::move(handler)](Request& r) -> asio::awaitable<Response> { co_return h(r); });
}

Result<std::unique_ptr<HttpServer>> HttpServer::create(asio::any_io_executor executor,
                                                       HttpServerOptions options,
                                                       AsyncRequestHandler handler) {
    auto impl = std::make_shared<Impl>(executor, std::move(options), std::move(handler));
    if (impl->options.tls) {
        auto loaded = load_tls_context(*impl->options.tls);
        if (!loaded) return loaded.error();
        impl->tls = std::move(*loaded);
    }
    beast::error_code ec;
    const auto address = asio::ip::make_address(impl->options.address, ec);
    if (ec) return Error::at(impl->options.config_key, "not an IP address: '" + impl->options.address + "'");
    const tcp::endpoint ep(address, static_cast<unsigned short>(impl->options.port));
    impl->acceptor.open(ep.protocol(), ec);
    if (!ec) impl->acceptor.set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) impl->acceptor.bind(ep, ec);
    if (!ec) impl->acceptor.listen(asio::socket_base::max_listen_connections, ec);
    if (ec)
        return Error{impl->options.config_key + ": cannot listen on " + impl->options.address + ":" +
                         std::to_string(impl->options.port) + ": " + ec.message(),
                     ErrorKind::io};
    auto& cap = impl->options.max_connections;
    rlimit files{};
    if (::getrlimit(RLIMIT_NOFILE, &files) == 0 && files.rlim_cur != RLIM_INFINITY) {
        // Connections stop short of the open-file limit, so a flood meets the cap (503) and not EMFILE, and
        // the rest of the process (database, broker, logs) keeps descriptors to work with.
        const auto limit = static_cast<std::size_t>(files.rlim_cur);
        const std::size_t allowed = limit > 2 * kReservedFiles ? limit - kReservedFiles : std::max<std::size_t>(1, limit / 2);
        if (allowed < cap) {
            PVF_LOG(warn, kLog,
                    impl->options.config_key << ": the open-file limit (" << limit << ") allows " << allowed
                                             << " connections, not " << cap << ": raise LimitNOFILE");
            cap = allowed;
        }
    }
    impl->busy_response = Impl::serialize(impl->error_response(
        503, "Service Unavailable", "the server is at its limit of " + std::to_string(cap) + " connections"));
    return std::unique_ptr<HttpServer>(new HttpServer(std::move(impl)));
}

HttpServer::HttpServer(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}
HttpServer::~HttpServer() {
    if (impl_) stop();
}

void HttpServer::start() {
    asio::co_spawn(impl_->executor, impl_->accept_loop(), asio::detached);
}

void HttpServer::stop() {
    impl_->stopped = true;
    beast::error_code ec;
    impl_->acceptor.close(ec);
    impl_->backoff_timer.cancel();
    for (auto& w : impl_->connections)
        if (auto s = w.lock()) asio::post(s->get_executor(), [s] { s->cancel(); });
    impl_->connections.clear();
}

int HttpServer::port() const {
    beast::error_code ec;
    const auto ep = impl_->acceptor.local_endpoint(ec);
    return ec ? 0 : ep.port();
}
std::string HttpServer::address() const {
    return impl_->options.address;
}
bool HttpServer::tls() const {
    return impl_->tls.has_value();
}
std::string HttpServer::tls_certificate() const {
    return impl_->tls ? impl_->tls->describe() : std::string();
}

Result<std::string> HttpServer::reload_tls() {
    if (!impl_->options.tls) return Error{"no TLS configured"};
    auto loaded = load_tls_context(*impl_->options.tls);
    if (!loaded) return loaded.error();
    impl_->tls = std::move(*loaded);
    return impl_->tls->describe();
}

}  // namespace pvfleet::http
