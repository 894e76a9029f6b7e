#pragma once
// Umbrella include for network modules. Asio/Beast are compiled once in pvfleet::asio.
#include <boost/asio.hpp>
