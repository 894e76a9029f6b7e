// docs/protocol.md is the specification: every JSON example in it must decode with the decoder its marker names,
// every bad example must fail with exactly the error it states, and its point and topic tables must match the code.
#include <doctest/doctest.h>

#include <algorithm>
#include <optional>
#include <regex>
#include <set>
#include <sstream>

#include "pvfleet/domain/points.hpp"
#include "pvfleet/protocol/codec.hpp"
#include "support/paths.hpp"

using namespace pvfleet;
using namespace pvfleet::protocol;

namespace {
struct Example {
    int line = 0;
    std::string kind;
    bool bad = false;
    std::string expected_error;
    std::string json;
};

std::vector<std::string> doc_lines() {
    std::istringstream in(pvfleet::test::read_file(pvfleet::test::source_dir() / "docs/protocol.md"));
    std::vector<std::string> lines;
    for (std::string line; std::getline(in, line);) lines.push_back(line);
    return lines;
}

// Each ```json block with the marker comment on the line before it. Unmarked blocks are reported as kind "".
std::vector<Example> examples() {
    static const std::regex good(R"(^<!-- example: (\w+) -->$)");
    static const std::regex bad(R"re(^<!-- bad-example: (\w+) expects "(.*)" -->$)re");
    const auto lines = doc_lines();
    std::vector<Example> out;
    for (std::size_t i = 0; i < lines.size(); ++i) {
        if (lines[i] != "```json") continue;
        Example e;
        e.line = static_cast<int>(i + 1);
        std::smatch m;
        if (i > 0 && std::regex_match(lines[i - 1], m, good)) {
            e.kind = m[1];
        } else if (i > 0 && std::regex_match(lines[i - 1], m, bad)) {
            e.kind = m[1];
            e.bad = true;
            e.expected_error = m[2];
        }
        for (++i; i < lines.size() && lines[i] != "```"; ++i) e.json += lines[i] + "\n";
        if (!e.json.empty()) e.json.pop_back();
        out.push_back(std::move(e));
    }
    return out;
}

std::optional<MessageKind> kind_named(const std::string& name) {
    for (const auto& t : all_topics()) {
        if (t.payload_kind == name) return t.kind;
    }
    return std::nullopt;
}

// The error of decoding `payload` with the kind-specific decoder, or "" when it decodes.
std::string specific_decode_error(MessageKind kind, const std::string& payload) {
    auto error_of = [](const auto& r) { return r.ok() ? std::string() : r.error().message; };
    switch (kind) {
        case MessageKind::telemetry: return error_of(decode_telemetry(payload));
        case MessageKind::ticket_event: return error_of(decode_ticket_event(payload));
        case MessageKind::status: return error_of(decode_status(payload));
        case MessageKind::command: return error_of(decode_command(payload));
        case MessageKind::command_ack: return error_of(decode_command_ack(payload));
    }
    return "?";
}

std::string_view shape_name(domain::PointShape s) {
    switch (s) {
        case domain::PointShape::scalar: return "scalar";
        case domain::PointShape::per_mppt: return "per_mppt";
        case domain::PointShape::per_phase: return "per_phase";
        case domain::PointShape::state: return "state";
        case domain::PointShape::event_list: return "event_list";
    }
    return "?";
}

// Cells of the markdown table rows that follow the header line `header`.
std::vector<std::vector<std::string>> table_after(const std::string& header) {
    const auto lines = doc_lines();
    std::vector<std::vector<std::string>> rows;
    auto it = std::find(lines.begin(), lines.end(), header);
    REQUIRE_MESSAGE(it != lines.end(), "table header not found: " << header);
    for (it += 2; it != lines.end() && it->starts_with("|"); ++it) {
        std::vector<std::string> cells;
        std::string cell;
        for (std::size_t k = 1; k < it->size(); ++k) {
            if ((*it)[k] == '|') {
                auto b = cell.find_first_not_of(' ');
                auto e = cell.find_last_not_of(' ');
                cells.push_back(b == std::string::npos ? "" : cell.substr(b, e - b + 1));
                cell.clear();
            } else {
                cell += (*it)[k];
            }
        }
        rows.push_back(cells);
    }
    return rows;
}

std::string unquote(const std::string& cell) {
    return cell.size() >= 2 && cell.front() == '`' && cell.back() == '`' ? cell.substr(1, cell.size() - 2) : cell;
}
}  // namespace

TEST_CASE("every JSON example in docs/protocol.md decodes with its decoder and round trips") {
    const auto all = examples();
    int good = 0;
    int bad = 0;
    std::set<std::string> kinds_seen;
    for (const auto& e : all) {
        CAPTURE(e.line);
        REQUIRE_MESSAGE(!e.kind.empty(), "json block without an example marker");
        const auto kind = kind_named(e.kind);
        REQUIRE_MESSAGE(kind.has_value(), "unknown kind in marker: " << e.kind);
        if (e.bad) {
            ++bad;
            CHECK(specific_decode_error(*kind, e.json) == e.expected_error);
            continue;
        }
        ++good;
        kinds_seen.insert(e.kind);
        CHECK(specific_decode_error(*kind, e.json) == "");
        auto decoded = decode(e.json);
        REQUIRE_MESSAGE(decoded.ok(), decoded.error().message);
        CHECK(kind_of(*decoded) == *kind);
        for (bool compress : {false, true}) {
            auto again = encode(*decoded, EncodeOptions{compress});
            REQUIRE_MESSAGE(again.ok(), again.error().message);
            auto back = decode(*again);
            REQUIRE(back.ok());
            CHECK(*back == *decoded);
        }
    }
    CHECK(kinds_seen.size() == all_topics().size());
    CHECK(good >= 10);
    CHECK(bad >= 8);
}

TEST_CASE("the point table in docs/protocol.md matches domain::all_points()") {
    const auto rows = table_after("| point | unit | shape | description |");
    const auto points = domain::all_points();
    REQUIRE(rows.size() == points.size());
    for (std::size_t i = 0; i < points.size(); ++i) {
        CAPTURE(points[i].name);
        REQUIRE(rows[i].size() == 4);
        CHECK(unquote(rows[i][0]) == points[i].name);
        CHECK(rows[i][1] == points[i].unit);
        CHECK(rows[i][2] == shape_name(points[i].shape));
        CHECK(rows[i][3] == points[i].description);
    }
}

TEST_CASE("the topic table in docs/protocol.md matches the code") {
    const auto rows = table_after("| topic suffix | payload `kind` | direction | QoS | retained | what |");
    const auto& topics = all_topics();
    REQUIRE(rows.size() == topics.size());
    for (std::size_t i = 0; i < topics.size(); ++i) {
        CAPTURE(topics[i].topic_suffix);
        CHECK(unquote(rows[i][0]) == topics[i].topic_suffix);
        CHECK(unquote(rows[i][1]) == topics[i].payload_kind);
        CHECK(rows[i][2] == (topics[i].direction == Direction::uplink ? "edge → server" : "server → edge"));
        CHECK(rows[i][3] == std::to_string(topics[i].qos));
        CHECK(rows[i][4] == (topics[i].retained ? "yes" : "no"));
    }
}
