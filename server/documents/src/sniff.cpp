#include "pvfleet/documents/sniff.hpp"

namespace pvfleet::documents {

std::string_view extension_of(MediaType t) {
    switch (t) {
        case MediaType::jpeg:
            return ".jpg";
        case MediaType::png:
            return ".png";
        case MediaType::pdf:
            return ".pdf";
    }
    return "";
}

Result<MediaType> sniff(std::string_view head) {
    using namespace std::string_view_literals;
    if (head.empty())
        return Error{"body: empty (expected a JPEG, PNG or PDF)", ErrorKind::unsupported, "body"};
    if (head.size() >= 3 && head.substr(0, 3) == "\xFF\xD8\xFF"sv) return MediaType::jpeg;
    // The signature, then the first chunk, which must be IHDR with its 13 bytes of data.
    if (head.size() >= 16 && head.substr(0, 8) == "\x89PNG\r\n\x1A\n"sv &&
        head.substr(8, 8) == "\0\0\0\x0DIHDR"sv)
        return MediaType::png;
    if (head.size() >= 6 && head.substr(0, 5) == "%PDF-" && head[5] >= '1' && head[5] <= '9')
        return MediaType::pdf;
    static constexpr char kHex[] = "0123456789abcdef";
    std::string shown;
    for (std::size_t i = 0; i < head.size() && i < 8; ++i) {
        const auto c = static_cast<unsigned char>(head[i]);
        if (i > 0) shown += ' ';
        shown += kHex[c >> 4];
        shown += kHex[c & 15];
    }
    return Error{"body: not a JPEG, PNG or PDF (starts with " + shown + ")", ErrorKind::unsupported, "body"};
}

}  // namespace pvfleet::documents
