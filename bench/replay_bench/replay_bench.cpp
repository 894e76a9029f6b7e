// CPU time of replaying SERF East (106 days, 15-min) through `pvfleet-edge replay`: the whole command (CSV
// parsing, solar model, detectors, JSON output), measured with the child's rusage; median of N runs.
//   replay_bench [RUNS] [CSV]
#include <sys/resource.h>
#include <sys/wait.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <string>
#include <vector>

namespace {

double run_once(const std::vector<std::string>& argv) {
    const pid_t pid = fork();
    if (pid < 0) return -1;
    if (pid == 0) {
        const int null_fd = open("/dev/null", O_WRONLY);
        dup2(null_fd, STDOUT_FILENO);
        std::vector<char*> args;
        for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
        args.push_back(nullptr);
        execv(args[0], args.data());
        _exit(127);
    }
    int status = 0;
    rusage usage{};
    if (wait4(pid, &status, 0, &usage) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0) return -1;
    auto seconds = [](const timeval& tv) { return static_cast<double>(tv.tv_sec) + static_cast<double>(tv.tv_usec) / 1e6; };
    return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}

}  // namespace

int main(int argc, char** argv) {
    const int runs = argc > 1 ? std::atoi(argv[1]) : 7;
    const char* env_ref = std::getenv("PVFLEET_REFERENCE_DIR");
    const std::filesystem::path ref = env_ref != nullptr ? env_ref : PVFLEET_REFERENCE_DIR_DEFAULT;
    const std::string csv = argc > 2 ? argv[2] : (ref / "data" / "pv" / "serf_east_15min_ac_power.csv").string();
    if (!std::filesystem::exists(csv)) {
        std::cerr << "replay_bench: no data at " << csv << "\n";
        return 2;
    }
    const std::vector<std::string> cmd{PVFLEET_EDGE_BINARY, "replay", "--csv", csv, "--lat", "39.742", "--lon",
                                       "-105.1727", "--elevation", "1800", "--tilt", "45", "--azimuth", "158",
                                       "--dc-kw", "5.6", "--ac-kw", "5.4", "--map", "ac_power=ac_power_w"};
    std::vector<double> cpu;
    for (int i = 0; i < runs; ++i) {
        const double s = run_once(cmd);
        if (s < 0) {
            std::cerr << "replay_bench: replay failed\n";
            return 1;
        }
        cpu.push_back(s);
    }
    std::sort(cpu.begin(), cpu.end());
    std::cout << "replay SERF East 106 d (10,000 rows): CPU user+sys median " << cpu[cpu.size() / 2] << " s, min "
              << cpu.front() << " s, max " << cpu.back() << " s over " << runs << " runs\n";
    return cpu[cpu.size() / 2] < 2.0 ? 0 : 1;
}
