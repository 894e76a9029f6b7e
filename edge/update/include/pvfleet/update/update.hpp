#pragma once
// Over-the-air updates on the gateway (docs/updates.md). The agent (unprivileged) downloads and verifies the
// package, then writes update/request.json into its state folder; systemd's pvfleet-edge-update.path sees it and
// starts pvfleet-edge-update.service (root, oneshot: `pvfleet-edge update-apply`), which checks the package again
// (it trusts nothing the agent wrote), keeps the running version's package, installs the new one and waits for
// the new agent's health file; otherwise it installs the kept package again. Its progress is update/state.json,
// written whole before each step, so a power cut at any point resumes at boot (request.json stays until the
// end, and the path unit starts the updater again). The outcome goes to update/result.json, which the agent
// reads at start and acks to the server.
#include <chrono>
#include <filesystem>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "pvfleet/release/signature.hpp"
#include "pvfleet/util/clock.hpp"
#include "pvfleet/util/result.hpp"

namespace pvfleet::update {

namespace fs = std::filesystem;

// What the server sent (protocol::UpdateCommand), plus the command to answer.
struct Request {
    std::string command_id;
    std::string version;
    std::string url;
    std::string sha256;
    std::uint64_t size = 0;
    std::string signature;  // base64
};

// Files under the state folder (/var/lib/pvfleet).
struct Layout {
    fs::path state_dir;
    // The updater's own folder, root's only (/var/lib/pvfleet-update): the package is copied there before it is
    // checked, so the unprivileged agent cannot swap it between the check and dpkg; the kept package lives there.
    fs::path private_dir;
    [[nodiscard]] fs::path verified() const { return private_dir / "install.deb"; }
    [[nodiscard]] fs::path dir() const { return state_dir / "update"; }
    [[nodiscard]] fs::path partial() const { return dir() / "download.part"; }  // being downloaded
    [[nodiscard]] fs::path package() const { return dir() / "new.deb"; }        // verified, to install
    [[nodiscard]] fs::path request() const { return dir() / "request.json"; }   // the updater's trigger
    [[nodiscard]] fs::path state() const { return dir() / "state.json"; }       // the updater's progress
    [[nodiscard]] fs::path result() const { return dir() / "result.json"; }     // the outcome, for the agent
    [[nodiscard]] fs::path kept() const { return private_dir / "previous.deb"; }      // the version to go back to
    [[nodiscard]] fs::path installed() const { return private_dir / "installed.deb"; } // the running version's package
    [[nodiscard]] fs::path health() const { return state_dir / "health.json"; }  // written by the agent
};

Status write_json_atomically(const fs::path& file, const std::string& text, unsigned mode = 0640);
// A file written or moved into place made durable: its data and its folder's entry fsynced. Without it a power cut
// soon after can leave the name pointing at an empty or partly written file (ext4 writes data back later).
Status make_durable(const fs::path& file);
// `from` copied to `to` so that a power cut leaves either no `to` or all of it: a temporary copy fsynced, renamed,
// the folder fsynced.
Status copy_file_durably(const fs::path& from, const fs::path& to);
std::optional<std::string> read_text(const fs::path& file);
std::string request_json(const Request& r);
Result<Request> parse_request(const std::string& text);

// Checks a downloaded file: its size, its SHA-256 and the signature over it with one of `keys`. Errors say which
// ("size 1000 bytes, expected 2000", "SHA-256 … differs from the command's …", "signature: …").
Status verify_package(const fs::path& file, const Request& r, const std::vector<release::PublicKey>& keys);

// ---- download (HTTPS, resumable) ----
struct DownloadOptions {
    std::string ca_file;  // the server's CA; empty: the system's trust store
    std::chrono::seconds timeout{std::chrono::minutes(10)};  // one attempt
};
// Downloads r.url into layout.partial(), resuming from what is there (Range: bytes=N-, If-Range with the
// release's ETag); a 200 starts over. Returns the bytes received in this attempt. Errors name the stage.
Result<std::uint64_t> download(const Request& r, const fs::path& partial, const DownloadOptions& options);

// ---- the agent's health, read by the updater ----
struct Health {
    std::string version;
    TimePoint at{};
    bool connected = false, polling = false, store_open = false;
};
std::string health_json(const Health& h);
std::optional<Health> parse_health(const std::string& text);

// ---- the updater (root) ----
enum class Phase { idle, keeping, installing, verifying, rolling_back, verifying_rollback };
std::string_view to_string(Phase p);

struct UpdaterState {
    Phase phase = Phase::idle;
    Request request;
    std::string previous_version;
    TimePoint step_started{};  // when the current install finished (health must be newer)
    std::string note;          // what happened so far (the rollback's reason)
};

// Everything the updater does to the system, so the state machine runs on a host with fakes.
class System {
public:
    virtual ~System() = default;
    virtual std::string installed_version() = 0;  // dpkg-query; "" when not installed
    // Puts the running version's package at `dest` (from installed.deb, dpkg-repack or apt's cache).
    virtual Status keep_current(const std::string& version, const fs::path& dest) = 0;
    virtual Status install(const fs::path& deb) = 0;  // dpkg -i (the postinst restarts the agent)
    virtual TimePoint now() = 0;
    virtual void sleep(std::chrono::milliseconds d) = 0;
    virtual std::string log_excerpt() = 0;  // the agent's recent journal lines
};

struct UpdaterOptions {
    std::chrono::seconds health_deadline{std::chrono::seconds(180)};
    std::chrono::milliseconds poll{std::chrono::seconds(2)};
    std::vector<release::PublicKey> keys;
};

struct Outcome {
    std::string command_id, version, status;  // status: healthy, rolled_back, failed, rejected
    std::string detail;
};
std::string outcome_json(const Outcome& o);
std::optional<Outcome> parse_outcome(const std::string& text);

// Runs the state machine from whatever update/state.json says (a new request when idle) to its end, persisting
// each phase before it starts; returns the outcome written to result.json (nullopt: nothing was requested).
Result<std::optional<Outcome>> run_updater(const Layout& layout, System& system, const UpdaterOptions& options);

// The real system: dpkg, dpkg-repack or apt's cache, journalctl.
std::unique_ptr<System> real_system(const Layout& layout);

}  // namespace pvfleet::update
