#pragma once
// Images for phones: a JPEG or PNG decoded to at most a given long side (libjpeg-turbo decodes at 1/8..8/8 of
// its size through DCT scaling, then a box filter reaches the size exactly; never enlarged), turned upright
// by its EXIF orientation, and encoded as JPEG. A decompression bomb is refused from its header: width ×
// height is checked against a pixel limit before any pixel is decoded, and PNG chunks are bounded.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "pvfleet/documents/sniff.hpp"
#include "pvfleet/util/result.hpp"

namespace pvfleet::documents {

struct RgbImage {
    int width = 0, height = 0;
    std::vector<std::uint8_t> pixels;  // width × height × 3, rows top to bottom
    [[nodiscard]] const std::uint8_t* at(int x, int y) const {
        return pixels.data() +
               (static_cast<std::size_t>(y) * static_cast<std::size_t>(width) + static_cast<std::size_t>(x)) *
                   3;
    }
};

// The EXIF Orientation (tag 0x0112 of IFD0 in the first "Exif" APP1 segment) of a JPEG: 1..8; 1 when absent
// or unreadable (bounds are checked at every step: a forged segment reads as 1).
int exif_orientation(std::string_view jpeg);

// The image as stored turned upright for EXIF orientation 1..8 (5..8 swap width and height).
RgbImage apply_orientation(const RgbImage& image, int orientation);

struct ImageHeader {
    int width = 0, height = 0;  // as stored (before orientation)
    int orientation = 1;
};
// Width and height from the header alone. Errors (kind unsupported): not decodable as `type`.
Result<ImageHeader> read_header(MediaType type, std::string_view bytes);

// Decoded, scaled so that its long side is at most `long_side` (never enlarged) and upright. Refused
// (ErrorKind::rejected) when width × height exceeds `max_pixels`; unsupported when it cannot be decoded.
Result<RgbImage> decode_scaled(MediaType type, std::string_view bytes, int long_side,
                               std::uint64_t max_pixels);

// Encoders (the resized forms; tests make their inputs with them). `orientation` other than 1 writes an EXIF
// APP1 segment with that Orientation, as a phone's camera does.
Result<std::string> encode_jpeg(const RgbImage& image, int quality = 82, int orientation = 1);
Result<std::string> encode_png(const RgbImage& image);

// decode_scaled, then encode_jpeg.
Result<std::string> resized_jpeg(MediaType type, std::string_view bytes, int long_side,
                                 std::uint64_t max_pixels);

}  // namespace pvfleet::documents
