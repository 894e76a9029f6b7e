#include "pvfleet/enrollment/qr.hpp"

#include <qrencode.h>

#include <memory>

namespace pvfleet::enrollment {
namespace {

struct QrFree {
    void operator()(QRcode* q) const { QRcode_free(q); }
};
constexpr int kQuiet = 4;

}  // namespace

Result<std::string> qr_svg(std::string_view text) {
    if (text.empty() || text.size() > 256) return Error{"QR code: text of 1..256 bytes expected"};
    const std::string input(text);
    std::unique_ptr<QRcode, QrFree> qr(QRcode_encodeString(input.c_str(), 0, QR_ECLEVEL_M, QR_MODE_8, 1));
    if (!qr) return Error{"QR code: the text could not be encoded"};
    const int width = qr->width;
    const int size = width + 2 * kQuiet;
    std::string path;
    for (int y = 0; y < width; ++y)
        for (int x = 0; x < width; ++x)
            if ((qr->data[y * width + x] & 1) != 0)
                path += "M" + std::to_string(x + kQuiet) + " " + std::to_string(y + kQuiet) + "h1v1h-1z";
    const std::string n = std::to_string(size);
    return "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 " + n + " " + n +
           "\" shape-rendering=\"crispEdges\"><rect width=\"" + n + "\" height=\"" + n + "\" fill=\"#fff\"/><path d=\"" +
           path + "\" fill=\"#000\"/></svg>";
}

}  // namespace pvfleet::enrollment
