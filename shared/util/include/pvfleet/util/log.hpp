#pragma once
// Logging facade: one line per record on stderr, "2026-11-22T10:15:00.123Z warn  [module] text".
#include <sstream>
#include <string>
#include <string_view>

namespace pvfleet::log {

enum class Level { debug = 0, info = 1, warn = 2, error = 3, off = 4 };

void set_level(Level level);
Level level();
// Parses "debug", "info", "warn", "error", "off".
bool parse_level(std::string_view text, Level& out);
void write(Level level, std::string_view module, std::string_view text);

}  // namespace pvfleet::log

// PVF_LOG(info, "modbus", "connected to " << host << ':' << port);
#define PVF_LOG(lvl, module, stream_expr)                                               \
    do {                                                                                \
        if (::pvfleet::log::Level::lvl >= ::pvfleet::log::level()) {                    \
            std::ostringstream pvf_log_os_;                                             \
            pvf_log_os_ << stream_expr;                                                 \
            ::pvfleet::log::write(::pvfleet::log::Level::lvl, module, pvf_log_os_.str()); \
        }                                                                               \
    } while (false)
