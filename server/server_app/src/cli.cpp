#include "pvfleet/server_app/cli.hpp"

#include <iostream>

namespace pvfleet::server_app {
namespace {
constexpr const char* kUsage = R"(usage: pvfleet-server <command> [options]

commands:
  run --config FILE            ingest MQTT, serve the REST API and the web app
  migrate --config FILE        bring the database schema up to date
  user add ...                 create a user
  import customers FILE.csv    import customers and sites from a spreadsheet export
  version                      print the server version
)";
}  // namespace

int run_cli(const std::vector<std::string>& args) {
    if (args.empty() || args[0] == "--help" || args[0] == "-h" || args[0] == "help") {
        std::cout << kUsage;
        return args.empty() ? 2 : 0;
    }
    if (args[0] == "version" || args[0] == "--version") {
        std::cout << "pvfleet-server " << PVFLEET_VERSION << "\n";
        return 0;
    }
    std::cerr << "pvfleet-server: unknown command '" << args[0] << "'\n" << kUsage;
    return 2;
}

}  // namespace pvfleet::server_app
