#include "pvfleet/util/time.hpp"

#include <charconv>
#include <cstdio>

namespace pvfleet {
namespace {

bool read_int(std::string_view s, std::size_t pos, std::size_t len, int& out) {
    if (pos + len > s.size()) return false;
    for (std::size_t i = pos; i < pos + len; ++i) {
        if (s[i] < '0' || s[i] > '9') return false;
    }
    auto r = std::from_chars(s.data() + pos, s.data() + pos + len, out);
    return r.ec == std::errc{};
}

}  // namespace

std::string format_iso8601(TimePoint t) {
    using namespace std::chrono;
    const auto day = floor<days>(t);
    const year_month_day ymd{day};
    const hh_mm_ss hms{t - day};
    char buf[40];
    std::snprintf(buf, sizeof buf, "%04d-%02u-%02uT%02d:%02d:%02d.%03dZ", static_cast<int>(ymd.year()),
                  static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()),
                  static_cast<int>(hms.hours().count()), static_cast<int>(hms.minutes().count()),
                  static_cast<int>(hms.seconds().count()), static_cast<int>(hms.subseconds().count()));
    return buf;
}

Result<TimePoint> parse_iso8601(std::string_view s) {
    using namespace std::chrono;
    const auto fail = [&](const char* why) {
        return Error{"timestamp '" + std::string(s) + "': " + why};
    };
    int y = 0, mo = 0, d = 0, h = 0, mi = 0, sec = 0, ms = 0;
    if (!read_int(s, 0, 4, y) || s.size() < 16 || s[4] != '-' || !read_int(s, 5, 2, mo) || s[7] != '-' ||
        !read_int(s, 8, 2, d) || (s[10] != 'T' && s[10] != ' ') || !read_int(s, 11, 2, h) || s[13] != ':' ||
        !read_int(s, 14, 2, mi)) {
        return fail("expected YYYY-MM-DDTHH:MM[:SS[.fff]] with a UTC offset");
    }
    std::size_t pos = 16;
    if (pos < s.size() && s[pos] == ':') {
        if (!read_int(s, pos + 1, 2, sec)) return fail("bad seconds");
        pos += 3;
        if (pos < s.size() && s[pos] == '.') {
            ++pos;
            int digits = 0;
            while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') {
                if (digits < 3) ms = ms * 10 + (s[pos] - '0');
                ++digits;
                ++pos;
            }
            if (digits == 0) return fail("bad fraction of a second");
            for (int i = digits; i < 3; ++i) ms *= 10;
        }
    }
    int offset_min = 0;
    if (pos >= s.size()) return fail("missing UTC offset (Z or +HH:MM)");
    if (s[pos] == 'Z' || s[pos] == 'z') {
        ++pos;
    } else if (s[pos] == '+' || s[pos] == '-') {
        const int sign = s[pos] == '-' ? -1 : 1;
        int oh = 0, om = 0;
        if (!read_int(s, pos + 1, 2, oh)) return fail("bad UTC offset");
        pos += 3;
        if (pos < s.size() && s[pos] == ':') ++pos;
        if (pos < s.size()) {
            if (!read_int(s, pos, 2, om)) return fail("bad UTC offset");
            pos += 2;
        }
        offset_min = sign * (oh * 60 + om);
    } else {
        return fail("missing UTC offset (Z or +HH:MM)");
    }
    if (pos != s.size()) return fail("trailing characters");
    const year_month_day ymd{year{y}, month{static_cast<unsigned>(mo)}, day{static_cast<unsigned>(d)}};
    if (!ymd.ok() || h > 23 || mi > 59 || sec > 60) return fail("date or time out of range");
    const auto local = sys_days{ymd} + hours{h} + minutes{mi} + seconds{sec} + milliseconds{ms};
    return TimePoint{local - minutes{offset_min}};
}

}  // namespace pvfleet
