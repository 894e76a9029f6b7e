#pragma once
// Everything of the work-order module.
#include "pvfleet/workorders/json.hpp"
#include "pvfleet/workorders/lifecycle.hpp"
#include "pvfleet/workorders/policy.hpp"
#include "pvfleet/workorders/preventive.hpp"
#include "pvfleet/workorders/sla.hpp"
#include "pvfleet/workorders/ticket_rules.hpp"
#include "pvfleet/workorders/work_order.hpp"
