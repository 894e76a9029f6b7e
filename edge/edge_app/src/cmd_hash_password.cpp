// pvfleet-edge hash-password: the `local_ui` password of a site config as a PBKDF2 hash (docs/local-ui.md).
// Reads the password from stdin (without echo on a terminal), prints pbkdf2-sha256$…; only the hash goes into
// the config or its password_file.
#include <termios.h>
#include <unistd.h>

#include <iostream>
#include <string>

#include "verbs.hpp"
#include "pvfleet/local_ui/password.hpp"

namespace pvfleet::edge_app {

int cmd_hash_password(const Args& args) {
    int iterations = local_ui::kDefaultIterations;
    for (size_t i = 0; i < args.size(); ++i) {
        if (args[i] == "--iterations" && i + 1 < args.size()) {
            auto n = to_int(args[++i]);
            if (!n) {
                std::cerr << "pvfleet-edge hash-password: --iterations: bad value '" << args[i] << "'\n";
                return 2;
            }
            iterations = *n;
        } else {
            std::cerr << "usage: pvfleet-edge hash-password [--iterations N] < password\n";
            return args[i] == "--help" || args[i] == "-h" ? 0 : 2;
        }
    }
    const bool tty = ::isatty(STDIN_FILENO) == 1;
    termios saved{};
    if (tty) {
        std::cerr << "password: " << std::flush;
        ::tcgetattr(STDIN_FILENO, &saved);
        termios quiet = saved;
        quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
        ::tcsetattr(STDIN_FILENO, TCSANOW, &quiet);
    }
    std::string password;
    std::getline(std::cin, password);
    if (tty) {
        ::tcsetattr(STDIN_FILENO, TCSANOW, &saved);
        std::cerr << "\n";
    }
    if (password.size() < 8) {
        std::cerr << "pvfleet-edge hash-password: use at least 8 characters\n";
        return 2;
    }
    auto hash = local_ui::make_password_hash(password, iterations);
    if (!hash) {
        std::cerr << "pvfleet-edge hash-password: " << hash.error().message << "\n";
        return 2;
    }
    std::cout << *hash << "\n";
    return 0;
}

}  // namespace pvfleet::edge_app
