#include "pvfleet/store/downsample.hpp"

#include <algorithm>
#include <map>
#include <set>
#include <string>

namespace pvfleet::store {
namespace {

bool is_counter(std::string_view name) { return name.size() > 3 && name.substr(name.size() - 3) == "_wh"; }

struct Acc {
    std::map<std::string, std::pair<double, int>, std::less<>> sums;   // mean of scalars
    std::map<std::string, double, std::less<>> last;                  // counters
    std::map<std::string, std::vector<std::pair<double, int>>, std::less<>> arrays;
    std::optional<domain::InverterState> state;
    std::set<std::string> events;
    std::vector<std::string> event_order;
};

}  // namespace

std::vector<domain::Sample> downsample(const std::vector<domain::Sample>& raw, std::chrono::seconds window) {
    const auto w = std::chrono::duration_cast<Millis>(window).count();
    std::vector<std::string> device_order;
    std::map<std::string, std::map<long long, Acc>> acc;  // device -> window start -> accumulator
    std::vector<const domain::Sample*> sorted;
    sorted.reserve(raw.size());
    for (const auto& s : raw) sorted.push_back(&s);
    std::stable_sort(sorted.begin(), sorted.end(), [](const auto* a, const auto* b) { return a->t < b->t; });
    for (const auto& s : raw)
        if (std::find(device_order.begin(), device_order.end(), s.device_id) == device_order.end())
            device_order.push_back(s.device_id);
    for (const auto* s : sorted) {
        const long long ms = to_epoch_ms(s->t);
        const long long start = ms - (((ms % w) + w) % w);
        Acc& a = acc[s->device_id][start];
        for (const auto& [name, v] : s->values) {
            if (is_counter(name)) {
                a.last[name] = v;
            } else {
                auto& [sum, n] = a.sums[name];
                sum += v;
                ++n;
            }
        }
        for (const auto& [name, arr] : s->arrays) {
            auto& out = a.arrays[name];
            if (out.size() < arr.size()) out.resize(arr.size(), {0.0, 0});
            for (std::size_t i = 0; i < arr.size(); ++i)
                if (arr[i]) {
                    out[i].first += *arr[i];
                    ++out[i].second;
                }
        }
        if (s->state) a.state = s->state;
        for (const auto& e : s->events)
            if (a.events.insert(e).second) a.event_order.push_back(e);
    }
    std::vector<domain::Sample> out;
    for (const auto& device : device_order) {
        for (auto& [start, a] : acc[device]) {
            domain::Sample s;
            s.device_id = device;
            s.t = from_epoch_ms(start);
            for (const auto& [name, sn] : a.sums) s.values[name] = sn.first / sn.second;
            for (const auto& [name, v] : a.last) s.values[name] = v;
            for (const auto& [name, arr] : a.arrays) {
                auto& dst = s.arrays[name];
                for (const auto& [sum, n] : arr) dst.push_back(n == 0 ? std::nullopt : std::optional<double>(sum / n));
            }
            s.state = a.state;
            s.events = a.event_order;
            out.push_back(std::move(s));
        }
    }
    return out;
}

}  // namespace pvfleet::store
