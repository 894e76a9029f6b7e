// `pvfleet-edge replay`: the live agent's detection pipeline over a recorded CSV time series, on a manual
// clock; prints ticket events as JSON lines. Each row passes the live acquisition's plausibility layer first
// (same bounds from the same rating), so an impossible value is refused and counted, never a reading.
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
#include "pvfleet/acquisition/plausibility.hpp"
#include "pvfleet/agent/ratings.hpp"
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
  --sun-out FILE                 write per row: timestamp, sun elevation, clear-sky expected AC power, AC
                                 rating and whether it is judged daylight (for evaluation scripts)
A row whose mapped cells are all empty is a poll the device did not answer. Values outside the live
acquisition's plausibility bounds (from the site's ratings) are dropped and counted as implausible.
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
    std::string sun_out_file;
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
        } else if (a == "--sun-out") {
            o.sun_out_file = *v;
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

// A failed step: the message for fail(), or empty when it was already reported and the exit code is 1.
struct Failure {
    std::string message;
    int code = 2;
};
int report(const Failure& f) {
    return f.code == 2 ? fail(f.message) : f.code;
}

// Site model and detector settings from --site or the site flags, plus --detection overrides.
Result<detect::SiteDetection> load_site(const Options& o) {
    Result<nlohmann::json> site_json = o.site_file.empty() ? site_from_flags(o) : read_json(o.site_file);
    if (!site_json) return site_json.error();
    auto site = detect::parse_site_detection(*site_json);
    if (!site) return Error{(o.site_file.empty() ? std::string("site flags") : o.site_file) + ": " + site.error().message};
    if (!o.detection_file.empty()) {
        auto j = read_json(o.detection_file);
        if (!j) return j.error();
        auto cfg = detect::parse_detection_config(*j);
        if (!cfg) return Error{o.detection_file + ": " + cfg.error().message};
        site->config = *cfg;
    }
    return site;
}

// The CSV header, the timestamp column and the --map columns resolved against it.
struct CsvLayout {
    std::vector<std::string> header;
    std::size_t ts_col = 0;
    std::vector<Mapping> maps;
};

Result<CsvLayout> read_layout(const Options& o, std::istream& in) {
    std::string line;
    if (!std::getline(in, line)) return Error{o.csv + ": empty file"};
    CsvLayout layout;
    layout.header = split_csv(line);
    auto& header = layout.header;
    for (auto& h : header) h = trim(h);
    if (!o.timestamp_column.empty()) {
        auto it = std::find(header.begin(), header.end(), o.timestamp_column);
        if (it == header.end()) return Error{o.csv + ": no column '" + o.timestamp_column + "' in the header"};
        layout.ts_col = static_cast<std::size_t>(it - header.begin());
    }
    for (const auto& text : o.maps) {
        auto m = parse_mapping(text);
        if (!m) return m.error();
        auto it = std::find(header.begin(), header.end(), m->column);
        if (it == header.end()) return Error{o.csv + ": no column '" + m->column + "' in the header"};
        m->column_index = static_cast<std::size_t>(it - header.begin());
        layout.maps.push_back(*m);
    }
    return layout;
}

// One mapped cell into the sample; an error message when the cell does not parse.
std::optional<std::string> apply_cell(const Mapping& m, const std::string& cell, const std::string& where,
                                      domain::Sample& sample) {
    if (m.point == domain::points::inverter_state) {
        auto st = domain::parse_inverter_state(cell);
        if (!st) return where + ": column '" + m.column + "': unknown inverter state '" + cell + "'";
        sample.state = *st;
        return std::nullopt;
    }
    if (m.point == domain::points::events) {
        std::string item;
        std::istringstream is(cell);
        while (std::getline(is, item, ';')) {
            if (!trim(item).empty()) sample.events.push_back(trim(item));
        }
        return std::nullopt;
    }
    double v = 0;
    auto [p, ec] = std::from_chars(cell.data(), cell.data() + cell.size(), v);
    if (ec != std::errc() || p != cell.data() + cell.size() || !std::isfinite(v)) {
        return where + ": column '" + m.column + "': not a number '" + cell + "'";
    }
    if (m.index) {
        auto& arr = sample.arrays[m.point];
        if (arr.size() <= *m.index) arr.resize(*m.index + 1);
        arr[*m.index] = v;
    } else {
        sample.values[m.point] = v;
    }
    return std::nullopt;
}

acquisition::Rating rating_of(const solar::SiteModel& site, const std::string& device) {
    const auto ratings = agent::device_ratings(site);
    const auto it = ratings.find(device);
    return it == ratings.end() ? acquisition::Rating{} : it->second;
}

// Runs the rows through the pipeline, directly or in store-backed batches, printing ticket events.
class Replayer {
public:
    Replayer(const Options& o, const CsvLayout& layout, const std::string& suffix, detect::SiteDetection& site,
             const detect::SunModel& sun)
        : o_(o), layout_(layout), suffix_(suffix), sun_(sun), daylight_(site.config.daylight),
          pipeline_(site.config, sun, clock_), plausibility_(rating_of(site.model, o.device)) {
        pipeline_.set_wiring(site.wiring);
    }

    // Opens --sun-out: the sun as the detectors see it, one line per row.
    std::optional<std::string> open_sun_out() {
        sun_out_.open(o_.sun_out_file, std::ios::binary | std::ios::trunc);
        if (!sun_out_) return "cannot write '" + o_.sun_out_file + "'";
        sun_out_ << "timestamp,elevation_deg,expected_ac_w,ac_rating_w,judged_daylight\n";
        return std::nullopt;
    }

    // Opens --store and resumes the detector state and the row cursor from it.
    std::optional<std::string> open_store() {
        auto opened = store::GatewayStore::open(o_.store_file);
        if (!opened) return opened.error().message;
        db_ = std::move(*opened);
        persistent_ = std::make_unique<store::PersistentDetection>(*db_, pipeline_);
        if (auto s = persistent_->resume(); !s) return s.error().message;
        auto cursor = db_->cursor("replay:" + o_.device);
        if (!cursor) return cursor.error().message;
        if (*cursor) {
            auto t = parse_iso8601(**cursor);
            if (!t) return "stored replay cursor: " + t.error().message;
            resume_after_ = *t;
        }
        return std::nullopt;
    }

    std::optional<Failure> run(std::istream& in) {
        std::string line;
        std::size_t line_no = 1;
        while (std::getline(in, line)) {
            ++line_no;
            if (trim(line).empty()) continue;
            if (auto f = row(line, line_no)) return f;
        }
        if (persistent_ && !flush()) return Failure{{}, 1};
        return std::nullopt;
    }

private:
    std::optional<Failure> row(const std::string& line, std::size_t line_no) {
        const auto& header = layout_.header;
        const std::size_t ts_col = layout_.ts_col;
        const auto cells = split_csv(line);
        const std::string where = o_.csv + ":" + std::to_string(line_no);
        if (cells.size() != header.size()) {
            return Failure{where + ": " + std::to_string(cells.size()) + " cells, the header has " +
                           std::to_string(header.size())};
        }
        std::string ts = trim(cells[ts_col]);
        if (!has_offset(ts)) ts += suffix_;
        auto t = parse_iso8601(ts);
        if (!t) {
            return Failure{where + ": column '" + header[ts_col] + "': " + t.error().message +
                           (o_.tz.empty() ? " (use --tz for timestamps without a UTC offset)" : "")};
        }
        if (previous_ && *t <= *previous_) {
            return Failure{where + ": column '" + header[ts_col] + "': timestamp " + cells[ts_col] +
                           " is not after the previous row"};
        }
        previous_ = *t;
        if (resume_after_ && *t <= *resume_after_) return std::nullopt;
        if (sun_out_.is_open()) write_sun(*t);

        domain::Sample sample;
        sample.device_id = o_.device;
        sample.t = *t;
        bool any = false;
        for (const auto& m : layout_.maps) {
            const std::string cell = trim(cells[m.column_index]);
            if (cell.empty()) continue;
            any = true;
            if (auto message = apply_cell(m, cell, where, sample)) return Failure{*message};
        }
        // As the live poller does: values the device cannot physically report are refused and counted.
        if (any) plausibility_.filter(sample, *t);
        clock_.set(*t);
        if (persistent_) {
            if (any) {
                batch_.emplace_back(std::move(sample));
            } else {
                batch_.emplace_back(store::NoAnswer{o_.device, *t});
            }
            batch_last_ = *t;
            if (batch_.size() >= 96 && !flush()) return Failure{{}, 1};
            return std::nullopt;
        }
        print(any ? pipeline_.on_sample(sample) : pipeline_.on_no_answer(o_.device, *t));
        print(pipeline_.tick());
        return std::nullopt;
    }

    // Judged daylight as the detectors define it (docs/detection.md): sun high enough and a clear-sky
    // expectation of at least a fraction of the rating (the elevation alone without a rating).
    void write_sun(TimePoint t) {
        const auto sun = sun_.at(o_.device, t);
        const bool judged = sun.elevation_deg >= daylight_.min_elevation_deg &&
                            (sun.ac_rating_w <= 0 || sun.expected_ac_w >= daylight_.min_expected_fraction * sun.ac_rating_w);
        sun_out_ << format_iso8601(t) << ',' << sun.elevation_deg << ',' << sun.expected_ac_w << ',' << sun.ac_rating_w
                 << ',' << (judged ? 1 : 0) << '\n';
    }

    bool flush() {
        if (batch_.empty()) return true;
        if (batch_last_) clock_.set(*batch_last_);
        auto events = persistent_->process(
            batch_, true,
            std::make_pair("replay:" + o_.device, batch_last_ ? format_iso8601(*batch_last_) : std::string()));
        batch_.clear();
        if (!events) {
            std::cerr << "pvfleet-edge replay: " << events.error().message << "\n";
            return false;
        }
        print(*events);
        return true;
    }

    const Options& o_;
    const CsvLayout& layout_;
    const std::string& suffix_;
    const detect::SunModel& sun_;
    detect::DaylightConfig daylight_;
    std::ofstream sun_out_;
    ManualClock clock_;
    detect::DetectionPipeline pipeline_;
    acquisition::Plausibility plausibility_;
    std::unique_ptr<store::GatewayStore> db_;
    std::unique_ptr<store::PersistentDetection> persistent_;
    std::optional<TimePoint> resume_after_;
    std::optional<TimePoint> previous_;
    std::vector<store::DetectionInput> batch_;
    std::optional<TimePoint> batch_last_;
};

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

    auto site = load_site(o);
    if (!site) return fail(site.error().message);
    auto sun = detect::SolarSunModel::create(site->model);
    if (!sun) return fail(sun.error().message);
    auto suffix = offset_suffix(o.tz);
    if (!suffix) return fail(suffix.error().message);

    std::ifstream in(o.csv, std::ios::binary);
    if (!in) return fail("cannot read '" + o.csv + "'");
    auto layout = read_layout(o, in);
    if (!layout) return fail(layout.error().message);

    Replayer replayer(o, *layout, *suffix, *site, **sun);
    if (!o.store_file.empty()) {
        if (auto message = replayer.open_store()) return fail(*message);
    }
    if (!o.sun_out_file.empty()) {
        if (auto message = replayer.open_sun_out()) return fail(*message);
    }
    if (auto f = replayer.run(in)) return report(*f);
    return 0;
}

}  // namespace pvfleet::edge_app
