#pragma once
// Remote diagnostics (docs/updates.md, "Remote diagnostics"): the log bundle a gateway uploads on the
// server's `log_bundle` command — one JSON document with the agent's state summary and the last hours of its
// journal, never more than the command's max_bytes. The journal comes through a narrow seam (JournalSource):
// journalctl on a gateway, a fake in tests. Reading is bounded as it goes: only the newest lines that can fit
// are kept, and the bundle says how many older ones were cut.
#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "pvfleet/util/clock.hpp"
#include "pvfleet/util/result.hpp"

namespace pvfleet::agent {

struct JournalRead {
    std::vector<std::string> lines;  // oldest first
    std::uint64_t cut_lines = 0;     // older lines left out while reading, to stay within the cap
    // Why the source failed, or what it warned about (the bundle carries it); `lines` holds what came.
    std::string error;
};

// The agent's own journal.
class JournalSource {
public:
    virtual ~JournalSource() = default;
    // Lines since `since`, oldest first, keeping only the newest within `max_bytes` (line text, without the
    // newlines) while reading.
    virtual JournalRead read(TimePoint since, std::size_t max_bytes) = 0;
};

// `journalctl -u UNIT --since "YYYY-MM-DD HH:MM:SS UTC" -o short-iso --no-pager`, run without a shell (the
// user needs to be in the systemd-journal group, which the package's postinst arranges), its output read in
// pieces and bounded as it arrives, killed after `timeout`.
std::unique_ptr<JournalSource> journalctl_source(std::string unit = "pvfleet-edge",
                                                 std::chrono::seconds timeout = std::chrono::seconds(120));

// Keeps the newest complete lines of a stream within a byte cap as pieces of it arrive; counts what it drops.
class NewestLines {
public:
    explicit NewestLines(std::size_t max_bytes) : max_bytes_(max_bytes) {}
    void add(std::string_view piece);
    // The lines kept, oldest first; a last line without a newline counts too.
    JournalRead finish() &&;

private:
    void keep(std::string line);
    std::size_t max_bytes_;
    std::size_t bytes_ = 0;  // of `lines_`
    std::deque<std::string> lines_;
    std::string partial_;  // the line being read (dropped as soon as it alone exceeds the cap)
    bool partial_too_long_ = false;
    std::uint64_t cut_ = 0;
};

struct LogBundleRequest {
    std::string site_id;
    std::string command_id;
    std::uint32_t hours = 24;
    std::uint64_t max_bytes = 2 * 1024 * 1024;
    TimePoint now{};
};

struct LogBundle {
    std::string body;  // the document, at most max_bytes
    std::size_t journal_lines = 0;
    std::uint64_t cut_lines = 0;  // older journal lines left out (while reading and to fit)
};

// Builds the document (format "pvfleet-log-bundle" version 1; docs/updates.md):
//   {"format", "version", "site_id", "command_id", "created_at", "since", "hours", "max_bytes", "summary",
//    "journal_error", "cut_lines", "journal": [lines, oldest first]}
// The newest journal lines that fit are kept. Invalid UTF-8 in a line becomes U+FFFD. Fails only when the
// summary alone does not fit.
Result<LogBundle> build_log_bundle(const LogBundleRequest& request, const nlohmann::json& summary,
                                   JournalSource& journal);

}  // namespace pvfleet::agent
