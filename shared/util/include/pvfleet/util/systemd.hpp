#pragma once
// systemd's service protocol without libsystemd: the notify socket (Type=notify: READY=1, RELOADING=1,
// STOPPING=1, WATCHDOG=1) and whether stderr goes to the journal. Outside systemd ($NOTIFY_SOCKET unset) every
// call does nothing, so the programs run the same from a shell.
#include <optional>
#include <string_view>

#include "pvfleet/util/clock.hpp"

namespace pvfleet::systemd {

// Sends one state datagram to $NOTIFY_SOCKET (path or abstract "@name"); false when unset or not sent.
bool notify(std::string_view state);

// How often to send WATCHDOG=1: half of $WATCHDOG_USEC when systemd asks this process (WATCHDOG_PID unset or
// ours) for watchdog pings, else nullopt.
std::optional<Millis> watchdog_interval();

// True when stderr is the journal's stream ($JOURNAL_STREAM names stderr's device and inode).
bool stderr_is_journal();

}  // namespace pvfleet::systemd

namespace pvfleet::log {
// For the journal: "<4>warn  [module] text" instead of "2026-11-22T10:15:00.123Z warn  [module] text" — the
// syslog priority prefix journald reads as the record's priority, and no timestamp (the journal keeps its own).
// Defined with the log (log.cpp); declared here, beside stderr_is_journal(), which tells when to use it.
void set_journal_format(bool on);
}  // namespace pvfleet::log
