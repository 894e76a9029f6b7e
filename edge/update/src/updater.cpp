// The root updater's state machine (docs/updates.md, "The updater"): each phase is written to state.json
// before it runs, so after a power cut the next start (at boot, by the path unit) carries on from the phase
// it was in: keeping → installing → verifying → done, or → rolling_back → verifying_rollback → rolled back.
#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <nlohmann/json.hpp>
#include <thread>

#include "pvfleet/update/update.hpp"
#include "pvfleet/util/log.hpp"
#include "pvfleet/util/time.hpp"

extern char** environ;

namespace pvfleet::update {
namespace {
using json = nlohmann::json;
constexpr const char* kLog = "update";
constexpr std::size_t kExcerpt = 1500;

constexpr std::pair<Phase, const char*> kPhases[] = {{Phase::idle, "idle"},
                                                     {Phase::keeping, "keeping"},
                                                     {Phase::installing, "installing"},
                                                     {Phase::verifying, "verifying"},
                                                     {Phase::rolling_back, "rolling_back"},
                                                     {Phase::verifying_rollback, "verifying_rollback"}};

std::optional<Phase> phase_from(const std::string& s) {
    for (const auto& [p, n] : kPhases)
        if (s == n) return p;
    return std::nullopt;
}

Status save(const Layout& l, const UpdaterState& s) {
    const json j{{"phase", to_string(s.phase)},
                 {"request", json::parse(request_json(s.request))},
                 {"previous_version", s.previous_version},
                 {"step_started", format_iso8601(s.step_started)},
                 {"note", s.note}};
    return write_json_atomically(l.state(), j.dump(), 0600);
}

std::optional<UpdaterState> load(const Layout& l) {
    const auto text = read_text(l.state());
    if (!text) return std::nullopt;
    const json j = json::parse(*text, nullptr, false);
    if (!j.is_object() || !j.contains("request")) return std::nullopt;
    UpdaterState s;
    s.phase = phase_from(j.value("phase", "")).value_or(Phase::idle);
    auto r = parse_request(j["request"].dump());
    if (!r) return std::nullopt;
    s.request = *r;
    s.previous_version = j.value("previous_version", "");
    if (auto t = parse_iso8601(j.value("step_started", ""))) s.step_started = *t;
    s.note = j.value("note", "");
    return s;
}

// Whether the agent of `version` reported healthy after `since`, waiting up to the deadline.
bool wait_healthy(const Layout& l, System& sys, const std::string& version, TimePoint since,
                  const UpdaterOptions& o, std::string& last) {
    const TimePoint deadline = since + std::chrono::duration_cast<Millis>(o.health_deadline);
    for (;;) {
        if (const auto text = read_text(l.health()))
            if (const auto h = parse_health(*text)) {
                last = "version " + h->version + (h->connected ? ", connected" : ", not connected") +
                       (h->polling ? ", polling" : ", not polling") +
                       (h->store_open ? ", store open" : ", no store");
                if (h->version == version && h->at >= since && h->connected && h->polling && h->store_open)
                    return true;
            }
        if (sys.now() >= deadline) return false;
        sys.sleep(o.poll);
    }
}

Outcome finish(const Layout& l, const UpdaterState& s, const std::string& status, const std::string& detail) {
    Outcome o{s.request.command_id, s.request.version, status, detail};
    if (auto w = write_json_atomically(l.result(), outcome_json(o), 0644); !w)
        PVF_LOG(error, kLog, "result: " << w.error().message);
    UpdaterState idle = s;
    idle.phase = Phase::idle;
    (void)save(l, idle);
    std::error_code ec;
    fs::remove(l.package(), ec);
    fs::remove(l.verified(), ec);
    fs::remove(l.request(), ec);  // last: until here the path unit would start the updater again
    PVF_LOG(info, kLog, "update to " << s.request.version << ": " << status << ": " << detail);
    return o;
}

std::string excerpt(System& sys) {
    std::string text = sys.log_excerpt();
    if (text.size() > kExcerpt) text = "…" + text.substr(text.size() - kExcerpt);
    return text;
}

}  // namespace

std::string_view to_string(Phase p) {
    for (const auto& [ph, n] : kPhases)
        if (ph == p) return n;
    return "?";
}

Result<std::optional<Outcome>> run_updater(const Layout& l, System& sys, const UpdaterOptions& o) {
    auto loaded = load(l);
    UpdaterState s;
    if (loaded && loaded->phase != Phase::idle) {
        s = *loaded;
        PVF_LOG(info, kLog,
                "resuming the update to " << s.request.version << " in phase " << to_string(s.phase));
        // After a restart the deadline counts from now: the agent needs its boot first.
        if (s.phase == Phase::verifying || s.phase == Phase::verifying_rollback) s.step_started = sys.now();
        // The package to install is checked again: a copy a power cut caught before it reached the disk (an
        // updater before copies were synced, a failing SD card) is made again from the agent's file, and when
        // that fails too the update stops — before dpkg ran, or by going back to the kept version.
        if (s.phase == Phase::keeping || s.phase == Phase::installing) {
            if (auto v = verify_package(l.verified(), s.request, o.keys); !v) {
                PVF_LOG(warn, kLog,
                        "the copy of the package is damaged (" << v.error().message << "); copying it again");
                auto again = copy_file_durably(l.package(), l.verified());
                if (again) again = verify_package(l.verified(), s.request, o.keys);
                if (!again) {
                    const std::string why = "the package to install was damaged (" + v.error().message +
                                            ") and could not be copied again: " + again.error().message;
                    if (s.phase == Phase::keeping)
                        return std::optional<Outcome>(
                            finish(l, s, "failed", why + "; nothing was installed"));
                    s.note = why;
                    s.phase = Phase::rolling_back;
                    PVF_CHECK(save(l, s));
                }
            }
        }
    } else {
        const auto text = read_text(l.request());
        if (!text) return std::optional<Outcome>();
        auto r = parse_request(*text);
        if (!r) {
            std::error_code ec;
            fs::remove(l.request(), ec);
            return r.error();
        }
        s.request = *r;
        // The agent is not trusted: the package is copied where only root writes and checked there, before
        // anything changes.
        std::error_code ec;
        fs::create_directories(l.private_dir, ec);
        fs::permissions(l.private_dir, fs::perms::owner_all, ec);
        if (auto copied = copy_file_durably(l.package(), l.verified()); !copied)
            return std::optional<Outcome>(
                finish(l, s, "rejected", "the package cannot be read: " + copied.error().message));
        if (auto v = verify_package(l.verified(), s.request, o.keys); !v)
            return std::optional<Outcome>(finish(l, s, "rejected", v.error().message));
        s.previous_version = sys.installed_version();
        if (s.previous_version == s.request.version)
            return std::optional<Outcome>(
                finish(l, s, "healthy", "version " + s.request.version + " is installed already"));
        s.phase = Phase::keeping;
        PVF_CHECK(save(l, s));
    }
    for (;;) {
        switch (s.phase) {
            case Phase::idle:
                return std::optional<Outcome>();
            case Phase::keeping: {
                if (auto k = sys.keep_current(s.previous_version, l.kept()); !k)
                    return std::optional<Outcome>(
                        finish(l, s, "failed",
                               "no copy of the running version " + s.previous_version +
                                   " to roll back to, so nothing was installed: " + k.error().message));
                s.phase = Phase::installing;
                break;
            }
            case Phase::installing: {
                auto installed = sys.install(l.verified());
                s.step_started = sys.now();
                if (!installed) {
                    s.note = "installing " + s.request.version + " failed: " + installed.error().message;
                    s.phase = Phase::rolling_back;
                } else {
                    s.phase = Phase::verifying;
                }
                break;
            }
            case Phase::verifying: {
                std::string last;
                if (wait_healthy(l, sys, s.request.version, s.step_started, o, last)) {
                    std::error_code ec;
                    fs::rename(l.verified(), l.installed(), ec);  // the package of the version now running
                    (void)make_durable(l.installed());
                    fs::remove(l.kept(), ec);
                    return std::optional<Outcome>(
                        finish(l, s, "healthy",
                               "healthy " + s.request.version + " (was " + s.previous_version + ")"));
                }
                s.note = "the new agent did not report healthy within " +
                         std::to_string(o.health_deadline.count()) + " s (" +
                         (last.empty() ? "no health report" : "last: " + last) + ")\n" + excerpt(sys);
                s.phase = Phase::rolling_back;
                break;
            }
            case Phase::rolling_back: {
                if (auto back = sys.install(l.kept()); !back)
                    return std::optional<Outcome>(finish(l, s, "failed",
                                                         s.note + "\nreinstalling " + s.previous_version +
                                                             " failed: " + back.error().message));
                s.step_started = sys.now();
                s.phase = Phase::verifying_rollback;
                break;
            }
            case Phase::verifying_rollback: {
                std::string last;
                const bool ok = wait_healthy(l, sys, s.previous_version, s.step_started, o, last);
                std::error_code ec;
                fs::rename(l.kept(), l.installed(), ec);
                (void)make_durable(l.installed());
                return std::optional<Outcome>(finish(
                    l, s, "rolled_back",
                    "rolled_back: back on " + s.previous_version +
                        (ok ? "" : " (which has not reported healthy yet: " + last + ")") + "; " + s.note));
            }
        }
        PVF_LOG(info, kLog, "update to " << s.request.version << ": " << to_string(s.phase));
        PVF_CHECK(save(l, s));
    }
}

// ---- the real system ----
namespace {

struct Run {
    int status = -1;
    std::string out;
};
Run run(const std::vector<std::string>& argv, const fs::path& cwd = {}) {
    int p[2];
    Run r;
    if (::pipe2(p, O_CLOEXEC) != 0) return r;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, p[1], 1);
    posix_spawn_file_actions_adddup2(&fa, p[1], 2);
    if (!cwd.empty()) posix_spawn_file_actions_addchdir_np(&fa, cwd.c_str());
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    pid_t pid = 0;
    const int rc = ::posix_spawnp(&pid, args[0], &fa, nullptr, args.data(), environ);
    posix_spawn_file_actions_destroy(&fa);
    ::close(p[1]);
    if (rc != 0) {
        ::close(p[0]);
        r.out = argv[0] + ": " + std::strerror(rc);
        return r;
    }
    char buf[4096];
    for (ssize_t n; (n = ::read(p[0], buf, sizeof buf)) > 0;)
        if (r.out.size() < 256 * 1024) r.out.append(buf, static_cast<std::size_t>(n));
    ::close(p[0]);
    int st = 0;
    ::waitpid(pid, &st, 0);
    r.status = WIFEXITED(st) ? WEXITSTATUS(st) : 128;
    return r;
}

std::string tail_of(const std::string& s) {
    return s.size() > 600 ? "…" + s.substr(s.size() - 600) : s;
}

class RealSystem final : public System {
public:
    explicit RealSystem(Layout l) : l_(std::move(l)) {}
    std::string installed_version() override {
        auto r = run({"dpkg-query", "-W", "-f=${Version}", "pvfleet-edge"});
        return r.status == 0 ? r.out : "";
    }
    Status keep_current(const std::string& version, const fs::path& dest) override {
        std::error_code ec;
        // 1. the package the last update installed
        if (fs::exists(l_.installed()) &&
            run({"dpkg-deb", "-f", l_.installed().string(), "Version"}).out == version + "\n") {
            if (copy_file_durably(l_.installed(), dest)) return {};
        }
        // 2. apt's cache (the package as installed by apt)
        std::string escaped = version;
        if (const auto c = escaped.find(':'); c != std::string::npos) escaped.replace(c, 1, "%3a");
        for (const auto& e : fs::directory_iterator("/var/cache/apt/archives", ec))
            if (e.path().filename().string().rfind("pvfleet-edge_" + escaped + "_", 0) == 0) {
                if (copy_file_durably(e.path(), dest)) return {};
            }
        // 3. rebuilt from the installed files
        const fs::path work = l_.dir() / "repack";
        fs::remove_all(work, ec);
        fs::create_directories(work, ec);
        const auto r = run({"dpkg-repack", "pvfleet-edge"}, work);
        if (r.status == 0)
            for (const auto& e : fs::directory_iterator(work, ec))
                if (e.path().extension() == ".deb") {
                    fs::rename(e.path(), dest, ec);
                    fs::remove_all(work, ec);
                    if (!ec && make_durable(dest)) return {};
                }
        fs::remove_all(work, ec);
        return Error{"not in " + l_.installed().string() + ", not in apt's cache, and dpkg-repack " +
                     (r.status < 0 ? "is not installed" : "failed: " + tail_of(r.out))};
    }
    Status install(const fs::path& deb) override {
        ::setenv("DEBIAN_FRONTEND", "noninteractive", 1);
        (void)run({"dpkg", "--configure", "-a"});  // finishes an install a power cut interrupted
        const auto r = run({"dpkg", "-i", "--force-confdef", "--force-confold", deb.string()});
        if (r.status != 0) return Error{"dpkg -i: " + tail_of(r.out), ErrorKind::io};
        return {};
    }
    TimePoint now() override { return SystemClock{}.now(); }
    void sleep(std::chrono::milliseconds d) override { std::this_thread::sleep_for(d); }
    std::string log_excerpt() override {
        return run({"journalctl", "-u", "pvfleet-edge.service", "-n", "30", "--no-pager", "-o", "cat"}).out;
    }

private:
    Layout l_;
};

}  // namespace

std::unique_ptr<System> real_system(const Layout& layout) {
    return std::make_unique<RealSystem>(layout);
}

}  // namespace pvfleet::update
