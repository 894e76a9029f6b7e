// The enum-name tables: every value has one name that reads back to it, and the list an error message offers
// is the table in order.
#include <doctest/doctest.h>

#include "pvfleet/domain/enums.hpp"
#include "pvfleet/util/enum_names.hpp"

using namespace pvfleet;
using namespace pvfleet::domain;

namespace {

enum class Colour { red, green, blue };
constexpr EnumNames<Colour, 2> kColours{{{Colour::red, "red"}, {Colour::green, "green"}}};

template <class E, std::size_t N, class Parse>
void check_round_trip(const EnumNames<E, N>& names, Parse parse) {
    for (const auto& [value, name] : names) {
        CHECK(to_string(value) == name);
        CHECK(parse(name) == value);
    }
}

}  // namespace

TEST_CASE("enum names: both directions and the list come from one table") {
    static_assert(enum_name(kColours, Colour::green) == "green");
    static_assert(enum_from_name(kColours, "red") == Colour::red);
    CHECK(enum_name(kColours, Colour::blue) == "?");
    CHECK_FALSE(enum_from_name(kColours, "blue").has_value());
    CHECK_FALSE(enum_from_name(kColours, "").has_value());
    CHECK(enum_names_list(kColours) == "red, green");
}

TEST_CASE("enum names: the domain enums read back and list their names in order") {
    check_round_trip(kSeverityNames, parse_severity);
    check_round_trip(kFaultKindNames, parse_fault_kind);
    check_round_trip(kTicketStateNames, parse_ticket_state);
    check_round_trip(kTicketEventKindNames, parse_ticket_event_kind);
    check_round_trip(kInverterStateNames, parse_inverter_state);
    CHECK(enum_names_list(kSeverityNames) == "info, minor, major, critical");
    CHECK(enum_names_list(kTicketStateNames) == "open, acknowledged, resolved, closed");
    CHECK(enum_names_list(kInverterStateNames) ==
          "off, sleeping, starting, producing, throttled, shutting_down, fault, standby, unknown");
    CHECK(to_string(static_cast<Severity>(99)) == "?");
}
