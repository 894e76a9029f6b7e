// `pvfleet-edge replay`: the live agent's detection pipeline over a recorded CSV time series, on a manual
// clock; prints ticket events as JSON lines.
#include <algorithm>
#include <charconv>
#include <cmath>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "verbs.hpp"
#include "pvfleet/detect/pipeline.hpp"
#include "pvfleet/detect/site.hpp"
#include "pvfleet/domain/points.hpp"
#include "pvfleet/store/persistent_detection.hpp"
#include "pvfleet/util/time.hpp"

namespace pvfleet::edge_app {
namespace {

constexpr const char* kReplayUsage = R"(usage: pvfleet-edge replay --csv FILE [site] [--map COLUMN=POINT ...] [options]

site (one of):
  --site SITE.json               arrays, inverters and "detection" overrides (docs/detection.md)
  --lat DEG --lon DEG --tilt DEG --azimuth DEG --dc-kw KW [--ac-kw KW] [--elevation M] [--losses F]
                                 a single-array, single-inverter site
options:
  --map COLUMN=POINT             CSV column to canonical point; POINT[i] for per-MPPT/per-phase points
                                 (e.g. dc_current_a[0]); repeatable; at least one
  --device ID                    device id of the inverter (default inv1)
  --timestamp-column NAME        (default: the first column)
  --tz OFFSET                    UTC offset (+HH:MM, -07:00, UTC) for timestamps that carry none
  --detection FILE.json          detector overrides (same form as the site file's "detection")
  --store FILE                   persist tickets and detector state in SQLite; a rerun resumes after the
                                 last committed row
A row whose mapped cells are all empty is a poll the device did not answer.
)";

struct Mapping {
    std::string column;
    std::string point;
    std::optional<std::size_t> index;
    std::size_t column_index = 0;
};

std::vector<std::string> split_csv(const std::string& line) {
    std::vector<std::string> out;
    std::string cell;
    bool quoted = false;
    for (std::size_t i = 0; i < line.size(); ++i) {
        const char ch = line[i];
        if (quoted) {
            if (ch == '"' && i + 1 < line.size() && line[i + 1] == '"') {
                cell += '"';
                ++i;
            } else if (ch == '"') {
                quoted = false;
            } else {
                cell += ch;
            }
        } else if (ch == '"') {
            quoted = true;
        } else if (ch == ',') {
            out.push_back(std::move(cell));
            cell.clear();
        } else if (ch != '\r') {
            cell += ch;
        }
    }
    out.push_back(std::move(cell));
    return out;
}

std::string trim(std::string s) {
    const auto a = s.find_first_not_of(" \t");
    if (a == std::string::npos) return {};
    const auto b = s.find_last_not_of(" \t");
    return s.substr(a, b - a + 1);
}

Result<Mapping> parse_mapping(const std::string& text) {
    const auto eq = text.find('=');
    if (eq == std::string::npos || eq == 0 || eq + 1 == text.size()) {
        return Error{"--map " + text + ": expected COLUMN=POINT"};
    }
    Mapping m;
    m.column = text.substr(0, eq);
    std::string point = text.substr(eq + 1);
    if (const auto br = point.find('['); br != std::string::npos) {
        if (point.back() != ']') return Error{"--map " + text + ": expected POINT[index]"};
        const std::string idx = point.substr(br + 1, point.size() - br - 2);
        std::size_t v = 0;
        auto [p, ec] = std::from_chars(idx.data(), idx.data() + idx.size(), v);
        if (ec != std::errc() || p != idx.data() + idx.size()) return Error{"--map " + text + ": bad index '" + idx + "'"};
        m.index = v;
        point = point.substr(0, br);
    }
    const auto* info = domain::find_point(point);
    if (info == nullptr) return Error{"--map " + text + ": '" + point + "' is not a canonical point"};
    const bool is_array = info->shape == domain::PointShape::per_mppt || info->shape == domain::PointShape::per_phase;
    if (is_array && !m.index) m.index = 0;
    if (!is_array && m.index) return Error{"--map " + text + ": '" + point + "' is not a per-MPPT/per-phase point"};
    m.point = point;
    return m;
}

Result<std::string> read_text(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return Error{"cannot read '" + path + "'", ErrorKind::not_found};
    std::ostringstream os;
    os << in.rdbuf();
    return os.str();
}

Result<nlohmann::json> read_json(const std::string& path) {
    auto text = read_text(path);
    if (!text) return text.error();
    auto j = nlohmann::json::parse(*text, nullptr, false);
    if (j.is_discarded()) return Error{path + ": not valid JSON"};
    return j;
}

struct Options {
    std::string csv;
    std::string site_file;
    std::string detection_file;
    std::string store_file;
    std::string device = "inv1";
    std::string timestamp_column;
    std::string tz;
    std::map<std::string, double> site_numbers;
    std::vector<std::string> maps;
};

Result<Options> parse_options(const Args& args) {
    Options o;
    static const std::map<std::string, std::string> numeric{{"--lat", "lat"},         {"--lon", "lon"},
                                                            {"--tilt", "tilt"},       {"--azimuth", "azimuth"},
                                                            {"--dc-kw", "dc_kw"},     {"--ac-kw", "ac_kw"},
                                                            {"--elevation", "elevation"}, {"--losses", "losses"}};
    for (std::size_t i = 0; i < args.size(); ++i) {
        const std::string& a = args[i];
        auto next = [&]() -> Result<std::string> {
            if (i + 1 >= args.size()) return Error{a + ": missing value"};
            return args[++i];
        };
        if (a == "--help" || a == "-h") return Error{"help"};
        auto v = next();
        if (!v) return v.error();
        if (a == "--csv") {
            o.csv = *v;
        } else if (a == "--site") {
            o.site_file = *v;
        } else if (a == "--detection") {
            o.detection_file = *v;
        } else if (a == "--store") {
            o.store_file = *v;
        } else if (a == "--device") {
            o.device = *v;
        } else if (a == "--timestamp-column") {
            o.timestamp_column = *v;
        } else if (a == "--tz") {
            o.tz = *v;
        } else if (a == "--map") {
            o.maps.push_back(*v);
        } else if (auto it = numeric.find(a); it != numeric.end()) {
            double d = 0;
            auto [p, ec] = std::from_chars(v->data(), v->data() + v->size(), d);
            if (ec != std::errc() || p != v->data() + v->size()) return Error{a + ": not a number '" + *v + "'"};
            o.site_numbers[it->second] = d;
        } else {
            return Error{"unknown option '" + a + "'"};
        }
    }
    if (o.csv.empty()) return Error{"--csv FILE is required"};
    if (o.maps.empty()) return Error{"at least one --map COLUMN=POINT is required"};
    return o;
}

Result<nlohmann::json> site_from_flags(const Options& o) {
    for (const char* k : {"lat", "lon", "tilt", "azimuth", "dc_kw"}) {
        if (!o.site_numbers.count(k)) {
            return Error{std::string("site: give --site SITE.json or all of --lat --lon --tilt --azimuth --dc-kw (missing --") +
                         (std::string(k) == "dc_kw" ? "dc-kw" : k) + ")"};
        }
    }
    const auto& n = o.site_numbers;
    const double dc = n.at("dc_kw");
    nlohmann::json array{{"id", "array1"}, {"inverter", o.device}, {"dc_kw", dc}, {"tilt", n.at("tilt")},
                         {"azimuth", n.at("azimuth")}};
    if (n.count("losses")) array["losses"] = n.at("losses");
    return nlohmann::json{{"latitude", n.at("lat")},
                          {"longitude", n.at("lon")},
                          {"elevation_m", n.count("elevation") ? n.at("elevation") : 0.0},
                          {"inverters", {{{"id", o.device}, {"ac_kw", n.count("ac_kw") ? n.at("ac_kw") : dc}}}},
                          {"arrays", {array}}};
}

// "+HH:MM" / "-HH:MM" / "UTC" appended to timestamps without an offset.
Result<std::string> offset_suffix(const std::string& tz) {
    if (tz.empty()) return std::string();
    if (tz == "UTC" || tz == "Z") return std::string("Z");
    if ((tz[0] == '+' || tz[0] == '-') && (tz.size() == 6 || tz.size() == 3)) return tz;
    return Error{"--tz " + tz + ": expected a UTC offset like -07:00 or UTC"};
}

bool has_offset(const std::string& ts) {
    if (ts.empty()) return false;
    if (ts.back() == 'Z') return true;
    const auto t = ts.find_first_of("T ");
    if (t == std::string::npos) return false;
    return ts.find_first_of("+-", t) != std::string::npos;
}

void print(const std::vector<domain::TicketEvent>& events) {
    for (const auto& e : events) std::cout << detect::event_line(e).dump() << '\n';
}
void print(const std::vector<store::StoredEvent>& events) {
    for (const auto& e : events) std::cout << detect::event_line(e.event).dump() << '\n';
}

int fail(const std::string& message) {
    std::cerr << "pvfleet-edge replay: " << message << "\n";
    return 2;
}

}  // namespace

int cmd_replay(const Args& args) {
    auto opts = parse_options(args);
    if (!opts) {
        if (opts.error().message == "help") {
            std::cout << kReplayUsage;
            return 0;
        }
        std::cerr << "pvfleet-edge replay: " << opts.error().message << "\n" << kReplayUsage;
        return 2;
    }
    const Options& o = *opts;

    // Site and detector settings.
    Result<nlohmann::json> site_json = o.site_file.empty() ? site_from_flags(o) : read_json(o.site_file);
    if (!site_json) return fail(site_json.error().message);
    auto site = detect::parse_site_detection(*site_json);
    if (!site) return fail((o.site_file.empty() ? std::string("site flags") : o.site_file) + ": " + site.error().message);
    if (!o.detection_file.empty()) {
        auto j = read_json(o.detection_file);
        if (!j) return fail(j.error().message);
        auto cfg = detect::parse_detection_config(*j);
        if (!cfg) return fail(o.detection_file + ": " + cfg.error().message);
        site->config = *cfg;
    }
    auto sun = detect::SolarSunModel::create(site->model);
    if (!sun) return fail(sun.error().message);
    auto suffix = offset_suffix(o.tz);
    if (!suffix) return fail(suffix.error().message);

    // CSV header and column mapping.
    std::ifstream in(o.csv, std::ios::binary);
    if (!in) return fail("cannot read '" + o.csv + "'");
    std::string line;
    if (!std::getline(in, line)) return fail(o.csv + ": empty file");
    std::vector<std::string> header = split_csv(line);
    for (auto& h : header) h = trim(h);
    std::size_t ts_col = 0;
    if (!o.timestamp_column.empty()) {
        auto it = std::find(header.begin(), header.end(), o.timestamp_column);
        if (it == header.end()) return fail(o.csv + ": no column '" + o.timestamp_column + "' in the header");
        ts_col = static_cast<std::size_t>(it - header.begin());
    }
    std::vector<Mapping> maps;
    for (const auto& text : o.maps) {
        auto m = parse_mapping(text);
        if (!m) return fail(m.error().message);
        auto it = std::find(header.begin(), header.end(), m->column);
        if (it == header.end()) return fail(o.csv + ": no column '" + m->column + "' in the header");
        m->column_index = static_cast<std::size_t>(it - header.begin());
        maps.push_back(*m);
    }

    ManualClock clock;
    detect::DetectionPipeline pipeline(site->config, **sun, clock);
    std::unique_ptr<store::GatewayStore> db;
    std::unique_ptr<store::PersistentDetection> persistent;
    std::optional<TimePoint> resume_after;
    if (!o.store_file.empty()) {
        auto opened = store::GatewayStore::open(o.store_file);
        if (!opened) return fail(opened.error().message);
        db = std::move(*opened);
        persistent = std::make_unique<store::PersistentDetection>(*db, pipeline);
        if (auto s = persistent->resume(); !s) return fail(s.error().message);
        auto cursor = db->cursor("replay:" + o.device);
        if (!cursor) return fail(cursor.error().message);
        if (*cursor) {
            auto t = parse_iso8601(**cursor);
            if (!t) return fail("stored replay cursor: " + t.error().message);
            resume_after = *t;
        }
    }
    std::vector<store::DetectionInput> batch;
    std::optional<TimePoint> batch_last;
    auto flush = [&]() -> bool {
        if (batch.empty()) return true;
        if (batch_last) clock.set(*batch_last);
        auto events = persistent->process(
            batch, true, std::make_pair("replay:" + o.device, batch_last ? format_iso8601(*batch_last) : std::string()));
        batch.clear();
        if (!events) {
            std::cerr << "pvfleet-edge replay: " << events.error().message << "\n";
            return false;
        }
        print(*events);
        return true;
    };

    std::size_t line_no = 1;
    std::optional<TimePoint> previous;
    while (std::getline(in, line)) {
        ++line_no;
        if (trim(line).empty()) continue;
        const auto cells = split_csv(line);
        const std::string where = o.csv + ":" + std::to_string(line_no);
        if (cells.size() != header.size()) {
            return fail(where + ": " + std::to_string(cells.size()) + " cells, the header has " +
                        std::to_string(header.size()));
        }
        std::string ts = trim(cells[ts_col]);
        if (!has_offset(ts)) ts += *suffix;
        auto t = parse_iso8601(ts);
        if (!t) {
            return fail(where + ": column '" + header[ts_col] + "': " + t.error().message +
                        (o.tz.empty() ? " (use --tz for timestamps without a UTC offset)" : ""));
        }
        if (previous && *t <= *previous) {
            return fail(where + ": column '" + header[ts_col] + "': timestamp " + cells[ts_col] +
                        " is not after the previous row");
        }
        previous = *t;
        if (resume_after && *t <= *resume_after) continue;

        domain::Sample sample;
        sample.device_id = o.device;
        sample.t = *t;
        bool any = false;
        for (const auto& m : maps) {
            const std::string cell = trim(cells[m.column_index]);
            if (cell.empty()) continue;
            any = true;
            if (m.point == domain::points::inverter_state) {
                auto st = domain::parse_inverter_state(cell);
                if (!st) return fail(where + ": column '" + m.column + "': unknown inverter state '" + cell + "'");
                sample.state = *st;
                continue;
            }
            if (m.point == domain::points::events) {
                std::string item;
                std::istringstream is(cell);
                while (std::getline(is, item, ';')) {
                    if (!trim(item).empty()) sample.events.push_back(trim(item));
                }
                continue;
            }
            double v = 0;
            auto [p, ec] = std::from_chars(cell.data(), cell.data() + cell.size(), v);
            if (ec != std::errc() || p != cell.data() + cell.size() || !std::isfinite(v)) {
                return fail(where + ": column '" + m.column + "': not a number '" + cell + "'");
            }
            if (m.index) {
                auto& arr = sample.arrays[m.point];
                if (arr.size() <= *m.index) arr.resize(*m.index + 1);
                arr[*m.index] = v;
            } else {
                sample.values[m.point] = v;
            }
        }
        clock.set(*t);
        if (persistent) {
            if (any) {
                batch.emplace_back(std::move(sample));
            } else {
                batch.emplace_back(store::NoAnswer{o.device, *t});
            }
            batch_last = *t;
            if (batch.size() >= 96 && !flush()) return 1;
            continue;
        }
        print(any ? pipeline.on_sample(sample) : pipeline.on_no_answer(o.device, *t));
        print(pipeline.tick());
    }
    if (persistent && !flush()) return 1;
    return 0;
}

}  // namespace pvfleet::edge_app
