#include "pvfleet/util/log.hpp"
#include "pvfleet/util/systemd.hpp"  // set_journal_format

#include <atomic>
#include <cstdio>
#include <mutex>

#include "pvfleet/util/clock.hpp"
#include "pvfleet/util/time.hpp"

namespace pvfleet::log {
namespace {
std::atomic<Level> g_level{Level::info};
std::mutex g_write_mutex;  // Paho's thread and the executor may both log
std::atomic<bool> g_journal{false};

// syslog priorities (sd-daemon.h): debug 7, info 6, warning 4, err 3.
int priority(Level l) {
    switch (l) {
        case Level::debug: return 7;
        case Level::info: return 6;
        case Level::warn: return 4;
        case Level::error:
        case Level::off: return 3;
    }
    return 6;
}

const char* name(Level l) {
    switch (l) {
        case Level::debug: return "debug";
        case Level::info: return "info ";
        case Level::warn: return "warn ";
        case Level::error: return "error";
        case Level::off: return "off  ";
    }
    return "?";
}
}  // namespace

void set_level(Level l) { g_level.store(l); }
Level level() { return g_level.load(); }

bool parse_level(std::string_view text, Level& out) {
    static constexpr std::pair<std::string_view, Level> names[] = {
        {"debug", Level::debug}, {"info", Level::info}, {"warn", Level::warn},
        {"error", Level::error}, {"off", Level::off}};
    for (const auto& [n, l] : names) {
        if (n == text) {
            out = l;
            return true;
        }
    }
    return false;
}

void set_journal_format(bool on) { g_journal.store(on); }

void write(Level l, std::string_view module, std::string_view text) {
    if (g_journal.load()) {
        std::lock_guard lock(g_write_mutex);
        std::fprintf(stderr, "<%d>%s [%.*s] %.*s\n", priority(l), name(l), static_cast<int>(module.size()),
                     module.data(), static_cast<int>(text.size()), text.data());
        return;
    }
    const std::string stamp = format_iso8601(SystemClock{}.now());
    std::lock_guard lock(g_write_mutex);
    std::fprintf(stderr, "%s %s [%.*s] %.*s\n", stamp.c_str(), name(l), static_cast<int>(module.size()),
                 module.data(), static_cast<int>(text.size()), text.data());
}

}  // namespace pvfleet::log
