#include "pvfleet/agent/log_bundle.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>

#include "pvfleet/util/time.hpp"

extern char** environ;

namespace pvfleet::agent {
namespace {

// Ordered: the document reads format, version and the summary first, the journal last.
using OrderedJson = nlohmann::ordered_json;

constexpr std::size_t kErrorTextLimit = 2000;  // journalctl's stderr kept for the bundle

// JSON text of `j` with invalid UTF-8 replaced (a journal line may hold any bytes).
std::string bundle_text(const OrderedJson& j) {
    return j.dump(-1, ' ', false, OrderedJson::error_handler_t::replace);
}

// "2016-07-19 08:00:00 UTC": a form every journalctl since systemd 2xx reads as UTC.
std::string journal_time(TimePoint t) {
    const std::time_t s = static_cast<std::time_t>(to_epoch_ms(t) / 1000);
    std::tm tm{};
    gmtime_r(&s, &tm);
    char buf[40];
    std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S UTC", &tm);
    return buf;
}

class JournalctlSource final : public JournalSource {
public:
    JournalctlSource(std::string unit, std::chrono::seconds timeout)
        : unit_(std::move(unit)), timeout_(timeout) {}

    JournalRead read(TimePoint since, std::size_t max_bytes) override {
        // Not -q: its warnings (a journal this user may not read) are worth seeing in the bundle.
        const std::vector<std::string> argv{"journalctl",        "-u", unit_,       "--since",
                                            journal_time(since), "-o", "short-iso", "--no-pager"};
        NewestLines kept(max_bytes);
        std::string errors;
        auto ran = run(argv, kept, errors);
        JournalRead out = std::move(kept).finish();
        if (!ran)
            out.error = ran.error().message;
        else if (!errors.empty())
            out.error = "journalctl: " + errors;  // e.g. no permission to read the system journal
        return out;
    }

private:
    // Runs argv (no shell), its stdout into `kept`, its stderr (bounded) into `errors`, within the timeout.
    Status run(const std::vector<std::string>& argv, NewestLines& kept, std::string& errors) const {
        int out_pipe[2], err_pipe[2];
        if (::pipe2(out_pipe, O_CLOEXEC) != 0) return Error{"journalctl: pipe failed", ErrorKind::io};
        if (::pipe2(err_pipe, O_CLOEXEC) != 0) {
            ::close(out_pipe[0]);
            ::close(out_pipe[1]);
            return Error{"journalctl: pipe failed", ErrorKind::io};
        }
        posix_spawn_file_actions_t actions;
        posix_spawn_file_actions_init(&actions);
        posix_spawn_file_actions_adddup2(&actions, out_pipe[1], 1);
        posix_spawn_file_actions_adddup2(&actions, err_pipe[1], 2);
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
        std::vector<char*> args;
        for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
        args.push_back(nullptr);
        pid_t pid = 0;
        const int rc = ::posix_spawnp(&pid, args[0], &actions, nullptr, args.data(), environ);
        posix_spawn_file_actions_destroy(&actions);
        ::close(out_pipe[1]);
        ::close(err_pipe[1]);
        if (rc != 0) {
            ::close(out_pipe[0]);
            ::close(err_pipe[0]);
            return Error{"journalctl cannot be run: " + std::string(std::strerror(rc)),
                         ErrorKind::unsupported};
        }
        const auto deadline = std::chrono::steady_clock::now() + timeout_;
        pollfd fds[2] = {{out_pipe[0], POLLIN, 0}, {err_pipe[0], POLLIN, 0}};
        bool timed_out = false;
        char buf[65536];
        while (fds[0].fd >= 0 || fds[1].fd >= 0) {
            const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                deadline - std::chrono::steady_clock::now());
            if (left.count() <= 0) {
                timed_out = true;
                break;
            }
            const int n = ::poll(fds, 2, static_cast<int>(std::min<long long>(left.count(), 1000)));
            if (n < 0 && errno != EINTR) break;
            for (auto& p : fds) {
                if (p.fd < 0 || (p.revents & (POLLIN | POLLHUP | POLLERR)) == 0) continue;
                const ssize_t got = ::read(p.fd, buf, sizeof buf);
                if (got <= 0) {
                    if (got < 0 && errno == EINTR) continue;
                    ::close(p.fd);
                    p.fd = -1;
                    continue;
                }
                const std::string_view piece(buf, static_cast<std::size_t>(got));
                if (p.fd == out_pipe[0])
                    kept.add(piece);
                else if (errors.size() < kErrorTextLimit)
                    errors.append(piece.substr(0, kErrorTextLimit - errors.size()));
            }
        }
        for (auto& p : fds)
            if (p.fd >= 0) ::close(p.fd);
        if (timed_out) ::kill(pid, SIGKILL);
        int status = 0;
        while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
        }
        while (!errors.empty() && (errors.back() == '\n' || errors.back() == ' ')) errors.pop_back();
        if (timed_out)
            return Error{"journalctl did not finish within " + std::to_string(timeout_.count()) + " s",
                         ErrorKind::timeout};
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
            return Error{"journalctl failed" + (errors.empty() ? std::string() : ": " + errors)};
        return {};
    }

    std::string unit_;
    std::chrono::seconds timeout_;
};

}  // namespace

std::unique_ptr<JournalSource> journalctl_source(std::string unit, std::chrono::seconds timeout) {
    return std::make_unique<JournalctlSource>(std::move(unit), timeout);
}

void NewestLines::keep(std::string line) {
    if (line.size() > max_bytes_) {
        ++cut_;
        return;
    }
    bytes_ += line.size();
    lines_.push_back(std::move(line));
    while (bytes_ > max_bytes_) {
        bytes_ -= lines_.front().size();
        lines_.pop_front();
        ++cut_;
    }
}

void NewestLines::add(std::string_view piece) {
    while (!piece.empty()) {
        const auto nl = piece.find('\n');
        const std::string_view part = piece.substr(0, nl);
        if (!partial_too_long_) {
            if (partial_.size() + part.size() > max_bytes_) {
                partial_too_long_ = true;  // cannot fit whatever follows: not held in memory
                partial_.clear();
                partial_.shrink_to_fit();
            } else {
                partial_.append(part);
            }
        }
        if (nl == std::string_view::npos) return;
        if (partial_too_long_)
            ++cut_;
        else
            keep(std::move(partial_));
        partial_.clear();
        partial_too_long_ = false;
        piece.remove_prefix(nl + 1);
    }
}

JournalRead NewestLines::finish() && {
    if (partial_too_long_)
        ++cut_;
    else if (!partial_.empty())
        keep(std::move(partial_));
    JournalRead out;
    out.lines.assign(std::make_move_iterator(lines_.begin()), std::make_move_iterator(lines_.end()));
    out.cut_lines = cut_;
    return out;
}

Result<LogBundle> build_log_bundle(const LogBundleRequest& request, const nlohmann::json& summary,
                                   JournalSource& journal) {
    const TimePoint since = request.now - std::chrono::hours(request.hours);
    JournalRead read = journal.read(since, static_cast<std::size_t>(request.max_bytes));
    OrderedJson doc = {{"format", "pvfleet-log-bundle"},
                       {"version", 1},
                       {"site_id", request.site_id},
                       {"command_id", request.command_id},
                       {"created_at", format_iso8601(request.now)},
                       {"since", format_iso8601(since)},
                       {"hours", request.hours},
                       {"max_bytes", request.max_bytes},
                       {"summary", OrderedJson::parse(summary.dump(
                                       -1, ' ', false, nlohmann::json::error_handler_t::replace))},
                       {"journal_error", read.error.empty() ? OrderedJson(nullptr) : OrderedJson(read.error)},
                       {"cut_lines", 0},
                       {"journal", OrderedJson::array()}};
    // What stays for the lines: room for the largest cut count the document could carry.
    const std::size_t envelope = bundle_text(doc).size() + 20;
    if (envelope > request.max_bytes)
        return Error{"the state summary alone (" + std::to_string(envelope) + " bytes) exceeds max_bytes " +
                     std::to_string(request.max_bytes)};
    std::size_t room = static_cast<std::size_t>(request.max_bytes) - envelope;
    // The newest lines that fit, each as its JSON text plus a comma.
    std::size_t first = read.lines.size();
    while (first > 0) {
        const std::size_t cost = bundle_text(OrderedJson(read.lines[first - 1])).size() + 1;
        if (cost > room) break;
        room -= cost;
        --first;
    }
    LogBundle out;
    out.cut_lines = read.cut_lines + first;
    out.journal_lines = read.lines.size() - first;
    doc["cut_lines"] = out.cut_lines;
    doc.erase("journal");
    // The text is written line by line and each line freed once written: the agent runs under a memory cap
    // (MemoryMax), so the journal is never held twice.
    std::string head = bundle_text(doc);
    head.pop_back();                                                       // the closing brace
    out.body.reserve(static_cast<std::size_t>(request.max_bytes) - room);  // the size computed above, at most
    out.body += head;
    out.body += ",\"journal\":[";
    for (std::size_t i = first; i < read.lines.size(); ++i) {
        if (i > first) out.body += ',';
        out.body += bundle_text(OrderedJson(std::move(read.lines[i])));
        std::string().swap(read.lines[i]);
    }
    out.body += "]}";
    if (out.body.size() > request.max_bytes)  // the arithmetic above is an upper bound; never reached
        return Error{"the bundle came to " + std::to_string(out.body.size()) + " bytes, over max_bytes"};
    return out;
}

}  // namespace pvfleet::agent
