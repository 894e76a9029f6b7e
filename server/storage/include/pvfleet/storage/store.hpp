#pragma once
// One owned connection to the server's database with the schema brought up to date, and the small records
// that belong to no use case of their own: rejected payloads, commands sent to gateways, row counts. The
// exactly-once ingest of uplink messages (sequences, gaps, telemetry and its aggregates) is the ingest
// module's (pvfleet/ingest/ledger.hpp); it runs on a Store's connection.
#include <cstdint>
#include <memory>
#include <string>

#include "pvfleet/protocol/messages.hpp"
#include "pvfleet/storage/db.hpp"
#include "pvfleet/storage/telemetry_raw.hpp"      // IWYU pragma: export (kRawRowSpanMs)
#include "pvfleet/storage/ticket_event_sink.hpp"  // IWYU pragma: export (the work-order hook)
#include "pvfleet/util/clock.hpp"

namespace pvfleet::storage {

class Store {
public:
    Store(std::unique_ptr<Db> db, const Clock& clock);
    ~Store();
    Store(const Store&) = delete;
    Store& operator=(const Store&) = delete;

    Db& db() { return *db_; }

    // Brings the schema up to date; returns the number of migrations applied.
    Result<int> migrate();

    // For a connection that only writes what can be asked for again (ingest: the gateways keep sent messages):
    // a commit is not waited on to reach the disk. PostgreSQL: synchronous_commit off, the counterpart of the
    // synchronous=NORMAL every SQLite connection already has. A power cut may take the last fraction of a
    // second of commits with it; a crash of the server or of the database itself loses nothing.
    Status relax_commit_durability();

    // A payload that could not be accepted: counted, kept for the operator (newest 10 000).
    Status record_reject(const std::string& topic, std::size_t bytes, const std::string& reason);
    Result<std::uint64_t> reject_count();

    // Commands sent to a gateway and their acknowledgements.
    Status record_command(const protocol::Command& command, const std::string& issued_by,
                          const std::string& body);

    // Counts for tests, stats and the API.
    Result<std::uint64_t> count(const std::string& table, const std::string& site_id = {});

private:
    std::unique_ptr<Db> db_;
    const Clock& clock_;
};

}  // namespace pvfleet::storage
