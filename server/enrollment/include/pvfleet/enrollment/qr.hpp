#pragma once
// A QR code of a short text as an SVG image (libqrencode from Debian: the QR encoding — modes, Reed-Solomon, mask
// choice — is a standard with a maintained C implementation; the SVG around it is ours). The back office shows
// an enrollment code this way so the installer's phone can read it instead of typing it.
#include <string>
#include <string_view>

#include "pvfleet/util/result.hpp"

namespace pvfleet::enrollment {

// Error correction level M (15 %), a quiet zone of 4 modules, one <path> of 1×1 squares in a viewBox of modules:
// crisp at any size. Texts up to 256 bytes.
Result<std::string> qr_svg(std::string_view text);

}  // namespace pvfleet::enrollment
