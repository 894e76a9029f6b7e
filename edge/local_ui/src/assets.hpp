#pragma once
// The local page, embedded in the binary: nothing to install or serve from disk, and it always matches the
// API of the agent that serves it. Kept small on purpose (docs/local-ui.md reports the bytes).
#include <string_view>

namespace pvfleet::local_ui::assets {

extern const std::string_view kIndexHtml;
extern const std::string_view kAppJs;
extern const std::string_view kAppCss;

}  // namespace pvfleet::local_ui::assets
