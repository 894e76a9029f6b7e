#include "pvfleet/records/import.hpp"
