// The update folder's files (written whole: util::replace_file_atomically), the package check, and the
// JSON of requests, health and outcomes.
#include <fcntl.h>
#include <unistd.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "pvfleet/update/update.hpp"
#include "pvfleet/util/file_io.hpp"
#include "pvfleet/util/time.hpp"

namespace pvfleet::update {
namespace {
using json = nlohmann::json;

std::string str(const json& j, const char* key) {
    return j.contains(key) && j[key].is_string() ? j[key].get<std::string>() : std::string();
}
}  // namespace

Status write_json_atomically(const fs::path& file, const std::string& text, unsigned mode) {
    std::error_code ec;
    fs::create_directories(file.parent_path(), ec);
    return util::replace_file_atomically(file, text, mode);
}

Status make_durable(const fs::path& file) {
    const int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return Error{"'" + file.string() + "' cannot be opened", ErrorKind::io};
    const bool ok = ::fsync(fd) == 0;
    ::close(fd);
    if (!ok) return Error{"'" + file.string() + "': fsync failed", ErrorKind::io};
    return util::sync_directory(file.parent_path());
}

Status copy_file_durably(const fs::path& from, const fs::path& to) {
    std::error_code ec;
    const fs::path tmp = to.string() + ".tmp";
    fs::copy_file(from, tmp, fs::copy_options::overwrite_existing, ec);
    if (ec) return Error{"'" + from.string() + "' cannot be copied: " + ec.message(), ErrorKind::io};
    if (auto d = make_durable(tmp); !d) return d;
    fs::rename(tmp, to, ec);
    if (ec) return Error{"'" + to.string() + "': " + ec.message(), ErrorKind::io};
    return util::sync_directory(to.parent_path());
}

std::optional<std::string> read_text(const fs::path& file) {
    std::ifstream in(file, std::ios::binary);
    if (!in) return std::nullopt;
    return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

std::string request_json(const Request& r) {
    return json{{"command_id", r.command_id}, {"version", r.version}, {"url", r.url},
                {"sha256", r.sha256},         {"size", r.size},       {"signature", r.signature}}
        .dump();
}

Result<Request> parse_request(const std::string& text) {
    const json j = json::parse(text, nullptr, false);
    if (!j.is_object() || !j.contains("size") || !j["size"].is_number_unsigned())
        return Error{"update request: not a request object"};
    Request r{str(j, "command_id"),           str(j, "version"),  str(j, "url"), str(j, "sha256"),
              j["size"].get<std::uint64_t>(), str(j, "signature")};
    if (r.version.empty() || r.sha256.size() != 64 || r.signature.empty())
        return Error{"update request: version, sha256 or signature missing"};
    return r;
}

Status verify_package(const fs::path& file, const Request& r, const std::vector<release::PublicKey>& keys) {
    std::error_code ec;
    const auto size = fs::file_size(file, ec);
    if (ec) return Error{"the package '" + file.string() + "' is missing", ErrorKind::not_found};
    if (size != r.size)
        return Error{"size " + std::to_string(size) + " bytes, expected " + std::to_string(r.size),
                     ErrorKind::rejected};
    PVF_TRY(const auto digest, release::sha256_file(file));
    if (release::to_hex(digest) != r.sha256)
        return Error{"SHA-256 " + release::to_hex(digest) + " differs from the command's " + r.sha256,
                     ErrorKind::rejected};
    auto sig = release::parse_signature(r.signature, "signature");
    if (!sig) return Error{sig.error().message, ErrorKind::rejected};
    if (keys.empty()) return Error{"signature: no release keys on this gateway", ErrorKind::rejected};
    auto who = release::verify_digest(digest, *sig, keys);
    if (!who) return Error{"signature: " + who.error().message, ErrorKind::rejected};
    return {};
}

std::string health_json(const Health& h) {
    return json{{"version", h.version},
                {"at", format_iso8601(h.at)},
                {"connected", h.connected},
                {"polling", h.polling},
                {"store_open", h.store_open}}
        .dump();
}

std::optional<Health> parse_health(const std::string& text) {
    const json j = json::parse(text, nullptr, false);
    if (!j.is_object()) return std::nullopt;
    Health h;
    h.version = str(j, "version");
    auto at = parse_iso8601(str(j, "at"));
    if (!at) return std::nullopt;
    h.at = *at;
    h.connected = j.value("connected", false);
    h.polling = j.value("polling", false);
    h.store_open = j.value("store_open", false);
    return h;
}

std::string outcome_json(const Outcome& o) {
    return json{
        {"command_id", o.command_id}, {"version", o.version}, {"status", o.status}, {"detail", o.detail}}
        .dump();
}

std::optional<Outcome> parse_outcome(const std::string& text) {
    const json j = json::parse(text, nullptr, false);
    if (!j.is_object()) return std::nullopt;
    return Outcome{str(j, "command_id"), str(j, "version"), str(j, "status"), str(j, "detail")};
}

}  // namespace pvfleet::update
