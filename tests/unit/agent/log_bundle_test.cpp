// The log bundle (docs/updates.md, "Remote diagnostics"): the document built from a fake journal — within
// max_bytes, newest lines kept, the cut counted — the bounded reading of a journal stream, and the command's
// handler on a real executor: accepted, then done or failed, and never two bundles at once.
#include "pvfleet/agent/log_bundle.hpp"

#include <doctest/doctest.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <condition_variable>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <nlohmann/json.hpp>

#include "pvfleet/agent/log_bundle_handler.hpp"
#include "pvfleet/util/time.hpp"
#include "support/paths.hpp"

using namespace pvfleet;
using nlohmann::json;

namespace {

constexpr TimePoint kNow{Millis{1'468'915'200'000}};  // 2016-07-19 08:00 UTC

// Lines "line 00001 …" of `width` bytes each, oldest first; remembers what it was asked.
class FakeJournal final : public agent::JournalSource {
public:
    FakeJournal(std::size_t count, std::size_t width) {
        for (std::size_t i = 1; i <= count; ++i) {
            std::string line =
                "2016-07-19T07:00:00+0000 gw pvfleet-edge[42]: line " + std::to_string(100000 + i) + " ";
            line.resize(std::max(width, line.size()), 'x');
            lines.push_back(line);
        }
    }
    agent::JournalRead read(TimePoint since, std::size_t max_bytes) override {
        asked_since = since;
        asked_max = max_bytes;
        agent::NewestLines kept(max_bytes);
        for (const auto& l : lines) kept.add(l + "\n");
        auto out = std::move(kept).finish();
        out.error = error;
        return out;
    }
    std::vector<std::string> lines;
    std::string error;
    TimePoint asked_since{};
    std::size_t asked_max = 0;
};

agent::LogBundleRequest request(std::uint64_t max_bytes, std::uint32_t hours = 6) {
    return {"site-a", "lb-0123456789abcdef", hours, max_bytes, kNow};
}

const json kSummary = {
    {"agent_version", "0.2.0"}, {"config_version", "7"}, {"outbox", {{"backlog_depth", 3}}}};

}  // namespace

TEST_CASE("log bundle: everything fits — the whole journal, nothing cut, the summary as given") {
    FakeJournal journal(50, 80);
    auto b = agent::build_log_bundle(request(64 * 1024), kSummary, journal);
    REQUIRE_MESSAGE(b, b.error().message);
    CHECK(journal.asked_since == kNow - std::chrono::hours(6));
    CHECK(journal.asked_max == 64 * 1024);
    const json doc = json::parse(b->body);
    CHECK(doc["format"] == "pvfleet-log-bundle");
    CHECK(doc["version"] == 1);
    CHECK(doc["site_id"] == "site-a");
    CHECK(doc["command_id"] == "lb-0123456789abcdef");
    CHECK(doc["created_at"] == format_iso8601(kNow));
    CHECK(doc["since"] == format_iso8601(kNow - std::chrono::hours(6)));
    CHECK(doc["summary"] == kSummary);
    CHECK(doc["journal_error"].is_null());
    CHECK(doc["cut_lines"] == 0);
    REQUIRE(doc["journal"].size() == 50);
    CHECK(doc["journal"][0] == journal.lines.front());
    CHECK(doc["journal"][49] == journal.lines.back());
    CHECK(b->journal_lines == 50);
    CHECK(b->cut_lines == 0);
}

TEST_CASE("log bundle: over the cap — within max_bytes, the newest lines kept in order, the cut counted") {
    for (const std::uint64_t cap :
         {std::uint64_t{64 * 1024}, std::uint64_t{100 * 1024}, std::uint64_t{256 * 1024}}) {
        CAPTURE(cap);
        FakeJournal journal(5000, 120);  // about 600 kB of journal
        auto b = agent::build_log_bundle(request(cap), kSummary, journal);
        REQUIRE_MESSAGE(b, b.error().message);
        CHECK(b->body.size() <= cap);
        CHECK(b->body.size() > cap - 2 * 130);  // full: no room left for one more line (and its comma)
        const json doc = json::parse(b->body);
        const auto& lines = doc["journal"];
        REQUIRE(lines.size() == b->journal_lines);
        REQUIRE(lines.size() > 100);
        CHECK(lines.back() == journal.lines.back());
        // A contiguous run of the newest lines, oldest first.
        const std::size_t first = journal.lines.size() - lines.size();
        for (std::size_t i = 0; i < lines.size(); ++i) REQUIRE(lines[i] == journal.lines[first + i]);
        CHECK(doc["cut_lines"] == first);
        CHECK(b->cut_lines == first);
        CHECK(b->journal_lines + b->cut_lines == 5000);
    }
}

TEST_CASE("log bundle: a journal error is carried; bytes that are not UTF-8 are replaced, not fatal") {
    FakeJournal journal(3, 60);
    journal.lines[1] += "\xff\xfe bad";
    journal.error = "journalctl: No journal files were opened due to insufficient permissions.";
    auto b = agent::build_log_bundle(request(64 * 1024), kSummary, journal);
    REQUIRE_MESSAGE(b, b.error().message);
    const json doc = json::parse(b->body);
    CHECK(doc["journal_error"] == journal.error);
    REQUIRE(doc["journal"].size() == 3);
    CHECK(doc["journal"][1].get<std::string>().find("\xEF\xBF\xBD") != std::string::npos);  // U+FFFD
}

TEST_CASE("log bundle: a summary that alone exceeds max_bytes is refused") {
    FakeJournal journal(1, 10);
    json big = {{"blob", std::string(70 * 1024, 'a')}};
    auto b = agent::build_log_bundle(request(64 * 1024), big, journal);
    REQUIRE_FALSE(b);
    CHECK(b.error().message.find("exceeds max_bytes 65536") != std::string::npos);
}

TEST_CASE("journal reading: bounded as it arrives, whatever the pieces") {
    std::string stream;
    for (int i = 0; i < 100; ++i)
        stream += "line " + std::to_string(1000 + i) + "\n";  // 9 bytes and a newline
    for (const std::size_t piece : {std::size_t{1}, std::size_t{7}, std::size_t{4096}}) {
        CAPTURE(piece);
        agent::NewestLines kept(85);  // room for nine lines of nine bytes
        for (std::size_t at = 0; at < stream.size(); at += piece)
            kept.add(std::string_view(stream).substr(at, piece));
        auto r = std::move(kept).finish();
        REQUIRE(r.lines.size() == 9);
        CHECK(r.lines.front() == "line 1091");
        CHECK(r.lines.back() == "line 1099");
        CHECK(r.cut_lines == 91);
    }
    // A line longer than the cap is dropped (counted) without being held; a last line without a newline
    // counts.
    agent::NewestLines kept(20);
    kept.add("short\n");
    kept.add(std::string(50, 'y'));
    kept.add(std::string(50, 'y') + "\nend");
    auto r = std::move(kept).finish();
    CHECK(r.lines == std::vector<std::string>{"short", "end"});
    CHECK(r.cut_lines == 1);
}

namespace {

// An upload that waits until the test lets it go, and records what it got.
struct HeldUpload {
    std::mutex m;
    std::condition_variable cv;
    bool release = false;
    Status outcome;
    std::vector<std::pair<std::string, std::string>> got;  // url, body
    agent::LogBundleHandler::Upload fn() {
        return [this](const std::string& url, std::string body) -> Status {
            std::unique_lock lock(m);
            got.emplace_back(url, std::move(body));
            cv.wait(lock, [this] { return release; });
            return outcome;
        };
    }
    void let_go() {
        {
            std::lock_guard lock(m);
            release = true;
        }
        cv.notify_all();
    }
};

struct Acked {
    std::string id;
    protocol::AckStatus status;
    std::string detail;
    bool final;
};

}  // namespace

TEST_CASE("log bundle handler: accepted at once, one at a time, then done with the size — or failed") {
    boost::asio::io_context ioc;
    // run_one() waits for the worker's post instead of finding no work and stopping the context.
    auto keep_running = boost::asio::make_work_guard(ioc);
    ManualClock clock{kNow};
    HeldUpload upload;
    std::vector<Acked> acks;
    int summaries = 0;
    auto journal = std::make_unique<FakeJournal>(200, 100);
    agent::LogBundleHandler handler(
        {"site-a", clock,
         [&] {
             ++summaries;
             return kSummary;
         },
         std::move(journal), upload.fn(), ioc.get_executor(),
         [&](const std::string& id, protocol::AckStatus s, const std::string& d, bool f) {
             acks.push_back({id, s, d, f});
         }});
    const protocol::LogBundleCommand cmd{12, 64 * 1024,
                                         "https://pv.example.com/api/log-bundles/lb-1/upload?x=1"};

    SUBCASE("done") {
        CHECK_FALSE(handler.start("lb-1", cmd).has_value());
        REQUIRE(acks.size() == 1);
        CHECK(acks[0].status == protocol::AckStatus::accepted);
        CHECK_FALSE(acks[0].final);
        CHECK(summaries == 1);
        CHECK(handler.running("lb-1"));
        // While the first is under way a second is refused, and nothing of it starts.
        auto second = handler.start("lb-2", cmd);
        REQUIRE(second.has_value());
        CHECK(second->first == protocol::AckStatus::rejected);
        CHECK(second->second == "another log bundle is under way");
        CHECK(summaries == 1);
        upload.let_go();
        while (acks.size() < 2) ioc.run_one();
        CHECK(acks[1].id == "lb-1");
        CHECK(acks[1].status == protocol::AckStatus::done);
        CHECK(acks[1].final);
        REQUIRE(upload.got.size() == 1);
        CHECK(upload.got[0].first == cmd.upload_url);
        const auto& body = upload.got[0].second;
        CHECK(body.size() <= cmd.max_bytes);
        CHECK(acks[1].detail.find("uploaded " + std::to_string(body.size()) + " bytes (journal: ") == 0);
        CHECK(json::parse(body)["command_id"] == "lb-1");
        CHECK_FALSE(handler.busy());
        // The next one may start now.
        CHECK_FALSE(handler.start("lb-3", cmd).has_value());
        while (acks.size() < 4) ioc.run_one();
        CHECK(acks[3].id == "lb-3");
    }
    SUBCASE("the upload fails: failed with the reason, and the handler free again") {
        upload.outcome = Error{"https://pv.example.com:443: the server answered 404", ErrorKind::rejected};
        upload.let_go();
        CHECK_FALSE(handler.start("lb-1", cmd).has_value());
        while (acks.size() < 2) ioc.run_one();
        CHECK(acks[1].status == protocol::AckStatus::failed);
        CHECK(acks[1].detail == "upload: https://pv.example.com:443: the server answered 404");
        CHECK_FALSE(handler.busy());
    }
}

namespace {

// A stand-in `journalctl` first on PATH: prints its arguments, `lines` lines and a warning on stderr, then
// sleeps `sleep_s` and exits with `exit_code`.
struct FakeJournalctl {
    test::TempDir dir;
    std::string old_path = std::getenv("PATH") ? std::getenv("PATH") : "";
    FakeJournalctl(int lines, int exit_code, int sleep_s = 0) {
        const auto script = dir / "journalctl";
        std::ofstream(script)
            << "#!/bin/sh\necho \"args: $*\"\ni=0\nwhile [ $i -lt " << lines
            << " ]; do echo \"line $i\"; i=$((i+1)); done\necho 'Hint: not in systemd-journal' >&2\n"
            << (sleep_s > 0 ? "exec sleep " + std::to_string(sleep_s) + "\n" : "") << "exit " << exit_code
            << "\n";
        std::filesystem::permissions(script, std::filesystem::perms::owner_all);
        ::setenv("PATH", (dir.path().string() + ":" + old_path).c_str(), 1);
    }
    ~FakeJournalctl() { ::setenv("PATH", old_path.c_str(), 1); }
};

}  // namespace

TEST_CASE("journalctl source: run without a shell, its output bounded, its warnings and failures carried") {
    SUBCASE("the unit, the time and the format as arguments; the newest lines within the cap") {
        FakeJournalctl fake(3000, 0);
        auto source = agent::journalctl_source("pvfleet-edge", std::chrono::seconds(30));
        auto r = source->read(kNow, 95);  // "line 2990" … "line 2999": ten lines of nine bytes
        REQUIRE(r.lines.size() == 10);
        CHECK(r.lines.front() == "line 2990");
        CHECK(r.lines.back() == "line 2999");
        CHECK(r.cut_lines == 2991);  // the arguments' line and 2990 older lines
        CHECK(r.error == "journalctl: Hint: not in systemd-journal");
        auto whole = source->read(kNow, 1 << 20);
        REQUIRE(whole.lines.size() == 3001);
        CHECK(whole.lines[0] ==
              "args: -u pvfleet-edge --since 2016-07-19 08:00:00 UTC -o short-iso --no-pager");
    }
    SUBCASE("a failing journalctl: the reason, and what it printed before") {
        FakeJournalctl fake(2, 1);
        auto r = agent::journalctl_source()->read(kNow, 1000);
        CHECK(r.lines.size() == 3);
        CHECK(r.error == "journalctl failed: Hint: not in systemd-journal");
    }
    SUBCASE("one that hangs is killed at the timeout") {
        FakeJournalctl fake(1, 0, 30);
        const auto started = std::chrono::steady_clock::now();
        auto r = agent::journalctl_source("pvfleet-edge", std::chrono::seconds(1))->read(kNow, 1000);
        CHECK(std::chrono::steady_clock::now() - started < std::chrono::seconds(10));
        CHECK(r.error == "journalctl did not finish within 1 s");
        CHECK(r.lines.size() == 2);
    }
}
