// The single translation unit that instantiates Beast.
#include <boost/beast/src.hpp>
