#pragma once
// Kept for the storage sources that include it by its old place; the header is public now (ingest writes its
// group commits with it).
#include "pvfleet/storage/bulk.hpp"
