// The single translation unit that instantiates Asio (and its SSL layer).
#include <boost/asio/impl/src.hpp>
#include <boost/asio/ssl/impl/src.hpp>
