#include "pvfleet/sim/sim_server.hpp"

#include <fcntl.h>
#include <termios.h>
#include <unistd.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <list>
#include <memory>
#include <ostream>

#include "pvfleet/util/log.hpp"

namespace pvfleet::sim {

namespace {
namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using asio::awaitable;
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

class Runtime {
public:
    Runtime(asio::io_context& io, Simulation& sim, const ServerOptions& options, std::ostream& announce)
        : io_(io), sim_(sim), options_(options), announce_(announce), tick_timer_(io), rtu_silence_(io), signals_(io, SIGINT, SIGTERM) {}

    Status start() {
        signals_.async_wait([this](const boost::system::error_code& ec, int sig) {
            if (!ec) {
                PVF_LOG(info, "sim", "signal " << sig << ": stopping");
                stop();
            }
        });
        if (options_.tcp) {
            boost::system::error_code ec;
            const auto address = asio::ip::make_address(options_.listen_host, ec);
            if (ec) return Error::at("listen", "bad address '" + options_.listen_host + "'");
            tcp::endpoint endpoint(address, static_cast<unsigned short>(options_.listen_port));
            if (auto st = open_listener(endpoint); !st) return st;
            announce_ << "listening tcp " << bound_.address().to_string() << ':' << bound_.port() << std::endl;
        }
        if (options_.rtu) {
            if (auto st = open_pty(); !st) return st;
            announce_ << "listening rtu " << (options_.rtu_link.empty() ? pty_name_ : options_.rtu_link) << std::endl;
        }
        if (options_.control_port) {
            boost::system::error_code ec;
            control_.emplace(io_);
            const tcp::endpoint endpoint(asio::ip::address_v4::loopback(), static_cast<unsigned short>(*options_.control_port));
            control_->open(endpoint.protocol(), ec);
            if (!ec) control_->set_option(tcp::acceptor::reuse_address(true), ec);
            if (!ec) control_->bind(endpoint, ec);
            if (!ec) control_->listen(asio::socket_base::max_listen_connections, ec);
            if (ec) return Error{"control port " + std::to_string(*options_.control_port) + ": " + ec.message(), ErrorKind::io};
            announce_ << "control tcp 127.0.0.1:" << control_->local_endpoint().port() << std::endl;
            asio::co_spawn(io_, control_accept(), asio::detached);
        }
        asio::co_spawn(io_, ticker(), asio::detached);
        return {};
    }

    void stop() {
        if (stopping_) return;
        stopping_ = true;
        // Staged: stop accepting, close the live connections, then let the loop end.
        boost::system::error_code ec;
        if (listener_) listener_->close(ec);
        if (control_) control_->close(ec);
        close_connections();
        for (auto& weak : control_connections_) {
            if (auto c = weak.lock()) c->close(ec);
        }
        tick_timer_.cancel();
        rtu_silence_.cancel();
        if (pty_) pty_->close(ec);
        if (pty_slave_ >= 0) ::close(pty_slave_);
        pty_slave_ = -1;
        if (!options_.rtu_link.empty()) std::filesystem::remove(options_.rtu_link, ec);
        signals_.cancel(ec);
        io_.stop();
    }

private:
    Status open_listener(const tcp::endpoint& endpoint) {
        boost::system::error_code ec;
        listener_.emplace(io_);
        listener_->open(endpoint.protocol(), ec);
        if (!ec) listener_->set_option(tcp::acceptor::reuse_address(true), ec);
        if (!ec) listener_->bind(endpoint, ec);
        if (!ec) listener_->listen(asio::socket_base::max_listen_connections, ec);
        if (ec) {
            listener_.reset();
            return Error{"listen " + endpoint.address().to_string() + ":" + std::to_string(endpoint.port()) + ": " + ec.message(), ErrorKind::io};
        }
        bound_ = listener_->local_endpoint();
        listening_ = true;
        asio::co_spawn(io_, accept_loop(), asio::detached);
        return {};
    }

    void close_connections() {
        for (auto& weak : connections_) {
            if (auto s = weak.lock()) {
                boost::system::error_code ec;
                s->shutdown(tcp::socket::shutdown_both, ec);
                s->close(ec);
            }
        }
        connections_.clear();
    }

    // Follows the simulation: night with refuse_tcp (or every device offline) closes the listener.
    void sync_listener() {
        if (!options_.tcp || stopping_) return;
        const bool want = sim_.tcp_open();
        if (want == listening_) return;
        if (!want) {
            boost::system::error_code ec;
            if (listener_) listener_->close(ec);
            listener_.reset();
            listening_ = false;
            close_connections();
            PVF_LOG(info, "sim", "tcp listener closed (" << (sim_.site().night == NightBehaviour::refuse_tcp ? "night or offline" : "offline") << ")");
        } else if (auto st = open_listener(bound_); st) {
            PVF_LOG(info, "sim", "tcp listener open again on port " << bound_.port());
        } else {
            PVF_LOG(warn, "sim", st.error().message);
        }
    }

    awaitable<void> ticker() {
        while (!stopping_) {
            sim_.tick();
            sync_listener();
            tick_timer_.expires_after(options_.tick);
            auto [ec] = co_await tick_timer_.async_wait(use_tuple);
            if (ec) co_return;
        }
    }

    awaitable<void> accept_loop() {
        tcp::acceptor* acceptor = &*listener_;
        for (;;) {
            auto [ec, socket] = co_await acceptor->async_accept(use_tuple);
            if (ec) co_return;  // closed (night, offline or stop)
            if (!listening_ || stopping_) co_return;
            auto shared = std::make_shared<tcp::socket>(std::move(socket));
            std::erase_if(connections_, [](const std::weak_ptr<tcp::socket>& w) { return w.expired(); });
            const auto limit = sim_.site().max_connections;
            if (limit > 0 && connections_.size() >= static_cast<std::size_t>(limit)) {
                PVF_LOG(debug, "sim", "connection limit " << limit << " reached: closing the new one");
                boost::system::error_code ignored;
                shared->close(ignored);
                continue;
            }
            connections_.push_back(shared);
            asio::co_spawn(io_, serve_tcp(shared), asio::detached);
        }
    }

    awaitable<void> serve_tcp(std::shared_ptr<tcp::socket> socket) {
        std::array<uint8_t, mbap_size> header{};
        std::vector<uint8_t> pdu;
        asio::steady_timer delay(io_);
        for (;;) {
            auto [ec, n] = co_await asio::async_read(*socket, asio::buffer(header), use_tuple);
            if (ec) co_return;
            const auto mbap = parse_mbap(header);
            if (mbap.protocol != 0 || mbap.length < 2 || mbap.length > 254) {
                PVF_LOG(debug, "sim", "bad MBAP header, closing connection");
                co_return;
            }
            pdu.resize(mbap.length - 1u);
            std::tie(ec, n) = co_await asio::async_read(*socket, asio::buffer(pdu), use_tuple);
            if (ec) co_return;
            auto plan = sim_.handle(mbap.unit, pdu);
            if (plan.action == ReplyPlan::Action::silent) continue;
            if (plan.action == ReplyPlan::Action::drop_connection) {
                boost::system::error_code ignored;
                socket->shutdown(tcp::socket::shutdown_both, ignored);
                socket->close(ignored);
                co_return;
            }
            if (plan.delay.count() > 0) {
                delay.expires_after(plan.delay);
                auto [wait_ec] = co_await delay.async_wait(use_tuple);
                if (wait_ec || !socket->is_open()) co_return;
            }
            auto adu = build_tcp_adu(mbap.transaction, mbap.unit, plan.pdu);
            if (plan.truncate) adu.resize(adu.size() / 2);
            std::tie(ec, n) = co_await asio::async_write(*socket, asio::buffer(adu), use_tuple);
            if (ec) co_return;
        }
    }

    // ---- RTU on a pseudo-terminal ----
    Status open_pty() {
        const int master = ::posix_openpt(O_RDWR | O_NOCTTY);
        if (master < 0 || ::grantpt(master) != 0 || ::unlockpt(master) != 0) {
            return Error{std::string("pseudo-terminal: ") + std::strerror(errno), ErrorKind::io};
        }
        pty_name_ = ::ptsname(master);
        // Holding the slave open keeps the master readable between clients, and lets us set raw mode.
        pty_slave_ = ::open(pty_name_.c_str(), O_RDWR | O_NOCTTY);
        if (pty_slave_ < 0) return Error{pty_name_ + ": " + std::strerror(errno), ErrorKind::io};
        termios tio{};
        ::tcgetattr(pty_slave_, &tio);
        ::cfmakeraw(&tio);
        ::tcsetattr(pty_slave_, TCSANOW, &tio);
        ::tcgetattr(master, &tio);
        ::cfmakeraw(&tio);
        ::tcsetattr(master, TCSANOW, &tio);
        if (!options_.rtu_link.empty()) {
            std::error_code ec;
            std::filesystem::remove(options_.rtu_link, ec);
            std::filesystem::create_symlink(pty_name_, options_.rtu_link, ec);
            if (ec) return Error{"symlink " + options_.rtu_link + ": " + ec.message(), ErrorKind::io};
        }
        pty_.emplace(io_, master);
        asio::co_spawn(io_, rtu_read(), asio::detached);
        return {};
    }

    awaitable<void> rtu_read() {
        std::array<uint8_t, 256> chunk{};
        for (;;) {
            auto [ec, n] = co_await pty_->async_read_some(asio::buffer(chunk), use_tuple);
            if (ec) {
                if (ec == asio::error::operation_aborted || stopping_) co_return;
                // EIO while no client holds the slave (cannot happen while we hold it): retry shortly.
                asio::steady_timer pause(io_, std::chrono::milliseconds(50));
                co_await pause.async_wait(use_tuple);
                continue;
            }
            rtu_buffer_.insert(rtu_buffer_.end(), chunk.begin(), chunk.begin() + static_cast<std::ptrdiff_t>(n));
            take_rtu_frames();
            // Frames whose length the function code does not tell end with the silent interval.
            if (!rtu_buffer_.empty()) {
                rtu_silence_.expires_after(std::max<std::chrono::microseconds>(rtu_silent_interval(options_.rtu_baud), std::chrono::milliseconds(20)));
                rtu_silence_.async_wait([this](const boost::system::error_code& wait_ec) {
                    if (wait_ec || rtu_buffer_.empty()) return;
                    std::vector<uint8_t> frame;
                    frame.swap(rtu_buffer_);
                    answer_rtu(frame);
                });
            }
        }
    }

    void take_rtu_frames() {
        for (;;) {
            const auto length = rtu_request_length(rtu_buffer_);
            if (!length || rtu_buffer_.size() < *length) return;
            std::vector<uint8_t> frame(rtu_buffer_.begin(), rtu_buffer_.begin() + static_cast<std::ptrdiff_t>(*length));
            rtu_buffer_.erase(rtu_buffer_.begin(), rtu_buffer_.begin() + static_cast<std::ptrdiff_t>(*length));
            if (!answer_rtu(frame)) rtu_buffer_.clear();  // lost sync: wait for the line to go quiet
        }
    }

    bool answer_rtu(const std::vector<uint8_t>& frame) {
        RtuRequest request;
        if (check_rtu_frame(frame, request) != RtuCheck::ok) {
            PVF_LOG(debug, "sim", "rtu: dropped " << frame.size() << "-byte frame (bad CRC or too short)");
            return false;
        }
        if (request.unit == 0) return true;  // broadcast: no reply
        // On a bus a unit nobody has stays silent: there is no gateway to answer 0x0B.
        if (sim_.site().unknown_unit == UnknownUnit::exception) {
            bool known = false;
            for (const auto& d : sim_.site().devices) known = known || d.unit == request.unit;
            if (!known) return true;
        }
        auto plan = sim_.handle(request.unit, request.pdu);
        if (plan.action != ReplyPlan::Action::reply) return true;
        auto adu = std::make_shared<std::vector<uint8_t>>(build_rtu_adu(request.unit, plan.pdu));
        if (plan.truncate) adu->resize(adu->size() / 2);
        auto send = [this, adu]() {
            if (pty_ && pty_->is_open()) {
                asio::async_write(*pty_, asio::buffer(*adu), [adu](const boost::system::error_code&, std::size_t) {});
            }
        };
        if (plan.delay.count() > 0) {
            auto timer = std::make_shared<asio::steady_timer>(io_, plan.delay);
            timer->async_wait([timer, send](const boost::system::error_code& ec) {
                if (!ec) send();
            });
        } else {
            send();
        }
        return true;
    }

    // ---- control port ----
    awaitable<void> control_accept() {
        for (;;) {
            auto [ec, socket] = co_await control_->async_accept(use_tuple);
            if (ec) co_return;
            auto shared = std::make_shared<tcp::socket>(std::move(socket));
            control_connections_.push_back(shared);
            asio::co_spawn(io_, control_session(shared), asio::detached);
        }
    }

    awaitable<void> control_session(std::shared_ptr<tcp::socket> socket) {
        std::string buffer;
        for (;;) {
            auto [ec, n] = co_await asio::async_read_until(*socket, asio::dynamic_buffer(buffer, 4096), '\n', use_tuple);
            if (ec) co_return;
            std::string line = buffer.substr(0, n - 1);
            buffer.erase(0, n);
            if (!line.empty() && line.back() == '\r') line.pop_back();
            if (line == "quit") co_return;
            PVF_LOG(info, "sim", "control: " << line);
            std::string reply = sim_.command(line) + "\n";
            sync_listener();
            std::tie(ec, n) = co_await asio::async_write(*socket, asio::buffer(reply), use_tuple);
            if (ec) co_return;
        }
    }

    asio::io_context& io_;
    Simulation& sim_;
    ServerOptions options_;
    std::ostream& announce_;
    asio::steady_timer tick_timer_;
    asio::steady_timer rtu_silence_;
    asio::signal_set signals_;
    std::optional<tcp::acceptor> listener_;
    tcp::endpoint bound_;
    bool listening_ = false;
    bool stopping_ = false;
    std::list<std::weak_ptr<tcp::socket>> connections_;
    std::optional<tcp::acceptor> control_;
    std::list<std::weak_ptr<tcp::socket>> control_connections_;
    std::optional<asio::posix::stream_descriptor> pty_;
    int pty_slave_ = -1;
    std::string pty_name_;
    std::vector<uint8_t> rtu_buffer_;
};
}  // namespace

int run_server(Simulation& simulation, const ServerOptions& options, std::ostream& announce) {
    asio::io_context io(1);
    Runtime runtime(io, simulation, options, announce);
    if (auto st = runtime.start(); !st) {
        PVF_LOG(error, "sim", st.error().message);
        return 1;
    }
    io.run();
    PVF_LOG(info, "sim", "stopped");
    return 0;
}

}  // namespace pvfleet::sim
