#pragma once
// Shared by the router's files (http.cpp, router_run.cpp).
#include <exception>

#include "pvfleet/http/http.hpp"

namespace pvfleet::http::detail {

// A 500 problem without internals; the cause goes to the log.
Response internal_error(const Request& request, const std::exception_ptr& failure);

}  // namespace pvfleet::http::detail
