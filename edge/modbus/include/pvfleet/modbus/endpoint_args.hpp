#pragma once
// Command-line form of an endpoint, shared by the installer verbs (probe, scan) and the benchmarks:
//   --tcp HOST:PORT
//   --rtu DEVICE --baud B [--parity N|E|O] [--data-bits 8] [--stop-bits 1|2]
#include <string>
#include <vector>

#include "pvfleet/modbus/endpoint.hpp"

namespace pvfleet::modbus {

struct ParsedEndpointArgs {
    Address address;
    std::vector<std::string> rest;  // arguments that are not about the endpoint, in order
};

// Takes the endpoint options out of `args`; errors name the offending option.
Result<ParsedEndpointArgs> parse_endpoint_args(const std::vector<std::string>& args);

// "1-247", "1,3,5-7" -> sorted unique unit ids (each 0..247; 0 only when asked for explicitly).
Result<std::vector<uint8_t>> parse_unit_list(const std::string& text);

}  // namespace pvfleet::modbus
