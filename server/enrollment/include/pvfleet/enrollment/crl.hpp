#pragma once
// The certificate revocation list the broker reads (mosquitto's `crlfile`, docs/fleet-enrollment.md): signed by
// the issuing CA from the revoked certificates on record, optionally followed by the offline root's own CRL
// (`scripts/pki crl`, so the broker can check certificates the root signed too), written whole to the configured
// file (temp file, fsync, rename, folder fsync) and then announced with the configured reload command, if any.
// The publisher rewrites it after every revocation and, unprompted, once half of its validity has passed, so the
// broker never holds an expired CRL (with an expired CRL OpenSSL refuses every client).
#include <chrono>
#include <memory>
#include <mutex>
#include <string>

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
    // Signs and writes the CRL now, then runs the reload command (its failure is logged, not returned: the file
    // is written). Serialised: concurrent calls write one after the other.
    Status publish(storage::Db& db, TimePoint now);
    // True when nothing was published yet or half of the last CRL's validity has passed.
    [[nodiscard]] bool due(TimePoint now) const;
    [[nodiscard]] const CrlSettings& settings() const { return settings_; }

private:
    std::shared_ptr<const IssuingCa> ca_;
    CrlSettings settings_;
    mutable std::mutex mutex_;
    std::optional<TimePoint> last_;
    std::int64_t last_number_ = 0;
};

}  // namespace pvfleet::enrollment
