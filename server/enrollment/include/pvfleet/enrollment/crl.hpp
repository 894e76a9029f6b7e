#pragma once
// The certificate revocation list the broker reads (mosquitto's `crlfile`, docs/fleet-enrollment.md): signed by
// the issuing CA from the revoked certificates on record, optionally followed by the offline root's own CRL
// (`scripts/pki crl`, so the broker can check certificates the root signed too), written whole to the configured
// file (temp file, fsync, rename, folder fsync) and then announced with the configured reload command, if any.
// The publisher rewrites it after every revocation and, unprompted, once half of its validity has passed, so the
// broker never holds an expired CRL (with an expired CRL OpenSSL refuses every client).
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "pvfleet/enrollment/issuing_ca.hpp"
#include "pvfleet/storage/db.hpp"
#include "pvfleet/util/clock.hpp"
#include "pvfleet/util/result.hpp"

namespace pvfleet::enrollment {

struct CrlSettings {
    std::string file;             // where the broker reads it; empty: no CRL is written
    std::string root_crl_file;    // optional PEM appended after ours (the root's CRL, made offline)
    std::chrono::seconds validity = std::chrono::hours(24 * 30);  // nextUpdate - thisUpdate
    std::string reload_command;   // optional, run with /bin/sh -c after each write (e.g. a broker reload)
};

class CrlPublisher {
public:
    CrlPublisher(std::shared_ptr<const IssuingCa> ca, CrlSettings settings);
    // Runs a reload still asked for (the file was written: the broker should read it), then stops its thread.
    ~CrlPublisher();
    CrlPublisher(const CrlPublisher&) = delete;
    CrlPublisher& operator=(const CrlPublisher&) = delete;

    // Signs and writes the CRL now and asks for the reload command. The command runs on the publisher's own
    // thread, not the caller's (a request handler must not wait for a broker restart): one run at a time, asks
    // made while one runs fold into one more run, each run killed after `kReloadTimeout`; its failure is logged.
    // Serialised: concurrent calls write one after the other.
    Status publish(storage::Db& db, TimePoint now);
    // How many reload runs have finished (tests wait on it).
    [[nodiscard]] std::uint64_t reloads_done() const;
    static constexpr std::chrono::seconds kReloadTimeout{60};
    // True when nothing was published yet or half of the last CRL's validity has passed.
    [[nodiscard]] bool due(TimePoint now) const;
    [[nodiscard]] const CrlSettings& settings() const { return settings_; }

private:
    void reload_loop();

    std::shared_ptr<const IssuingCa> ca_;
    CrlSettings settings_;
    mutable std::mutex mutex_;
    std::optional<TimePoint> last_;
    std::int64_t last_number_ = 0;

    mutable std::mutex reload_mutex_;
    std::condition_variable reload_wake_;
    bool reload_asked_ = false;
    bool stopping_ = false;
    std::uint64_t reloads_done_ = 0;
    std::thread reload_thread_;   // started with the first ask, joined by the destructor
};

}  // namespace pvfleet::enrollment
