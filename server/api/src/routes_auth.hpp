#pragma once
// Handlers of routes_auth.cpp that another route file registers with its routes.
#include <boost/asio/awaitable.hpp>

#include "pvfleet/api/api.hpp"

namespace pvfleet::api::detail {

// POST /api/users: checks the body, hashes the password on the worker pool, stores the user.
boost::asio::awaitable<Response> create_user(ApiContext& ctx, Request& req);

}  // namespace pvfleet::api::detail
