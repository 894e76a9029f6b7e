// The enrollment code as an installer types it on the gateway page, read with the server's own rules
// (pvfleet/protocol/enrollment_code.hpp), so a mistyped symbol is caught on the gateway before the code travels.
#include "pvfleet/enroll/enroll.hpp"
#include "pvfleet/protocol/enrollment_code.hpp"

namespace pvfleet::enroll {

Result<std::string> read_typed_code(std::string_view typed) {
    PVF_TRY(auto canonical, protocol::normalize_code(typed));
    return protocol::display_code(canonical);
}

}  // namespace pvfleet::enroll
