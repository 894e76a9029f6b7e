#include "pvfleet/documents/documents.hpp"

#include <doctest/doctest.h>

#include <string>

#include "pvfleet/documents/image.hpp"
#include "pvfleet/documents/sniff.hpp"

using namespace pvfleet;
using namespace pvfleet::documents;
using namespace std::string_literals;

namespace {

// w × h, the top-left quarter red, the rest blue: a corner's colour tells where the image's top left went.
RgbImage quartered(int w, int h) {
    RgbImage im;
    im.width = w;
    im.height = h;
    im.pixels.resize(static_cast<std::size_t>(w * h * 3));
    for (int y = 0; y < h; ++y)
        for (int x = 0; x < w; ++x) {
            auto* p = im.pixels.data() + (static_cast<std::size_t>(y * w + x)) * 3;
            const bool red = x < w / 2 && y < h / 2;
            p[0] = red ? 230 : 20;
            p[1] = 20;
            p[2] = red ? 20 : 230;
        }
    return im;
}

bool reddish(const std::uint8_t* p) {
    return p[0] > 150 && p[2] < 100;
}
bool bluish(const std::uint8_t* p) {
    return p[2] > 150 && p[0] < 100;
}

std::string jpeg(int w, int h, int orientation = 1) {
    auto out = encode_jpeg(quartered(w, h), 90, orientation);
    REQUIRE_MESSAGE(out, out.error().message);
    return *out;
}

}  // namespace

TEST_CASE("documents: the type is sniffed from the first bytes, never from a name") {
    CHECK(*sniff("\xFF\xD8\xFF\xE0rest"s) == MediaType::jpeg);
    CHECK(*sniff("\x89PNG\r\n\x1A\n\0\0\0\x0DIHDR\0\0\0\x01"s) == MediaType::png);
    CHECK(*sniff("%PDF-1.7\n") == MediaType::pdf);
    // Truncated or forged signatures.
    for (const std::string& bad :
         {"\xFF\xD8"s, "\x89PNG\r\n\x1A\n"s, "\x89PNG\r\n\x1A\n\0\0\0\x0DIHDX\0\0\0\x01"s, "%PDF-"s,
          "%PDF-x"s, "<html><script>"s, " %PDF-1.4"s}) {
        CAPTURE(bad);
        auto r = sniff(bad);
        REQUIRE_FALSE(r);
        CHECK(r.error().kind == ErrorKind::unsupported);
        CHECK(r.error().path == "body");
    }
    CHECK(sniff("<html>").error().message == "body: not a JPEG, PNG or PDF (starts with 3c 68 74 6d 6c 3e)");
    CHECK(sniff("").error().message == "body: empty (expected a JPEG, PNG or PDF)");
    // A forged JPEG (the signature, then HTML) passes the sniff but not the header read.
    const std::string forged = "\xFF\xD8\xFF\xE0<html><script>alert(1)</script></html>"s;
    CHECK(*sniff(forged) == MediaType::jpeg);
    CHECK(read_header(MediaType::jpeg, forged).error().kind == ErrorKind::unsupported);
    CHECK(read_header(MediaType::png, "\x89PNG\r\n\x1A\n\0\0\0\x0DIHDR\0\0"s).error().kind ==
          ErrorKind::unsupported);
}

TEST_CASE("documents: the EXIF orientation of a JPEG, with forged segments read as 1") {
    CHECK(exif_orientation(jpeg(16, 8)) == 1);
    for (int o = 1; o <= 8; ++o) CHECK(exif_orientation(jpeg(16, 8, o)) == o);
    CHECK(exif_orientation("") == 1);
    CHECK(exif_orientation("\xFF\xD8"s) == 1);
    // A little-endian TIFF header, as many phones write it: Orientation 6.
    const std::string le =
        "\xFF\xD8\xFF\xE1\x00\x22"
        "Exif\0\0II*\0\x08\0\0\0\x01\0\x12\x01\x03\0\x01\0\0\0\x06\0\0\0\0\0\0\0"s;
    CHECK(exif_orientation(le) == 6);
    // The segment's length beyond the file, an IFD offset beyond the segment, a wrong type, a value of 9.
    CHECK(exif_orientation("\xFF\xD8\xFF\xE1\x7F\xFF"
                           "Exif\0\0MM\0*"s) == 1);
    CHECK(exif_orientation("\xFF\xD8\xFF\xE1\x00\x22"
                           "Exif\0\0II*\0\xF0\0\0\0\x01\0\x12\x01\x03\0\x01\0\0\0\x06\0\0\0\0\0\0\0"s) == 1);
    CHECK(exif_orientation("\xFF\xD8\xFF\xE1\x00\x22"
                           "Exif\0\0II*\0\x08\0\0\0\x01\0\x12\x01\x04\0\x01\0\0\0\x06\0\0\0\0\0\0\0"s) == 1);
    CHECK(exif_orientation("\xFF\xD8\xFF\xE1\x00\x22"
                           "Exif\0\0II*\0\x08\0\0\0\x01\0\x12\x01\x03\0\x01\0\0\0\x09\0\0\0\0\0\0\0"s) == 1);
}

TEST_CASE("documents: JPEG and PNG resized to a long side, never enlarged, upright by their orientation") {
    SUBCASE("a landscape JPEG to 320 and 1280") {
        const std::string in = jpeg(2000, 1000);
        auto header = read_header(MediaType::jpeg, in);
        REQUIRE(header);
        CHECK(header->width == 2000);
        CHECK(header->height == 1000);
        auto thumb = decode_scaled(MediaType::jpeg, in, 320, 50'000'000);
        REQUIRE_MESSAGE(thumb, thumb.error().message);
        CHECK(thumb->width == 320);
        CHECK(thumb->height == 160);
        CHECK(reddish(thumb->at(2, 2)));
        CHECK(bluish(thumb->at(317, 157)));
        auto phone = resized_jpeg(MediaType::jpeg, in, 1280, 50'000'000);
        REQUIRE(phone);
        auto back = read_header(MediaType::jpeg, *phone);
        REQUIRE(back);
        CHECK(back->width == 1280);
        CHECK(back->height == 640);
    }
    SUBCASE("a small image keeps its size") {
        auto small = decode_scaled(MediaType::jpeg, jpeg(100, 60), 320, 50'000'000);
        REQUIRE(small);
        CHECK(small->width == 100);
        CHECK(small->height == 60);
    }
    SUBCASE(
        "a phone photo stored sideways (orientation 6) comes out portrait with its top left at the top "
        "right") {
        // Stored 400 × 200 with the red quarter top left; orientation 6 means "rotate 90° clockwise to view".
        auto upright = decode_scaled(MediaType::jpeg, jpeg(400, 200, 6), 320, 50'000'000);
        REQUIRE(upright);
        CHECK(upright->width == 160);
        CHECK(upright->height == 320);
        CHECK(reddish(upright->at(157, 2)));  // the stored top left, now top right
        CHECK(bluish(upright->at(2, 2)));
        CHECK(bluish(upright->at(157, 317)));
    }
    SUBCASE("orientations 3 and 8") {
        auto turned = decode_scaled(MediaType::jpeg, jpeg(400, 200, 3), 400, 50'000'000);
        REQUIRE(turned);
        CHECK(turned->width == 400);
        CHECK(reddish(turned->at(397, 197)));  // top left → bottom right
        auto ccw = decode_scaled(MediaType::jpeg, jpeg(400, 200, 8), 400, 50'000'000);
        REQUIRE(ccw);
        CHECK(ccw->width == 200);
        CHECK(ccw->height == 400);
        CHECK(reddish(ccw->at(2, 397)));  // top left → bottom left
    }
    SUBCASE("a PNG") {
        auto png = encode_png(quartered(900, 1800));
        REQUIRE(png);
        CHECK(*sniff(*png) == MediaType::png);
        auto thumb = decode_scaled(MediaType::png, *png, 320, 50'000'000);
        REQUIRE_MESSAGE(thumb, thumb.error().message);
        CHECK(thumb->width == 160);
        CHECK(thumb->height == 320);
        CHECK(reddish(thumb->at(2, 2)));
        CHECK(bluish(thumb->at(157, 317)));
        auto out = resized_jpeg(MediaType::png, *png, 320, 50'000'000);
        REQUIRE(out);
        CHECK(*sniff(*out) == MediaType::jpeg);
    }
    SUBCASE("a truncated JPEG is refused, not crashed on") {
        const std::string in = jpeg(300, 300);
        auto cut = decode_scaled(MediaType::jpeg, in.substr(0, 200), 320, 50'000'000);
        CHECK_FALSE(cut);
        auto cut_png =
            decode_scaled(MediaType::png, encode_png(quartered(50, 50))->substr(0, 60), 320, 50'000'000);
        CHECK_FALSE(cut_png);
    }
}

TEST_CASE("documents: a decompression bomb is refused from its header, before any pixel is decoded") {
    // 20000 × 20000 declared in a tiny PNG (one IDAT of a few rows): the header alone says 400 megapixels.
    RgbImage one = quartered(4, 4);
    auto small = encode_png(one);
    REQUIRE(small);
    std::string bomb = *small;
    // IHDR's width and height (big-endian) at bytes 16..23; its CRC is then wrong, so a decoder reading it
    // would fail there too — set it right so only the limit refuses it.
    const auto put32 = [&](std::size_t at, std::uint32_t v) {
        for (int i = 0; i < 4; ++i)
            bomb[at + static_cast<std::size_t>(i)] = static_cast<char>((v >> (24 - 8 * i)) & 0xFF);
    };
    put32(16, 20000);
    put32(20, 20000);
    // CRC-32 over "IHDR" and its 13 bytes.
    std::uint32_t crc = 0xFFFFFFFFu;
    for (std::size_t i = 12; i < 12 + 17; ++i) {
        crc ^= static_cast<std::uint8_t>(bomb[i]);
        for (int k = 0; k < 8; ++k) crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
    }
    put32(29, crc ^ 0xFFFFFFFFu);
    auto header = read_header(MediaType::png, bomb);
    REQUIRE_MESSAGE(header, header.error().message);
    CHECK(header->width == 20000);
    auto refused = decode_scaled(MediaType::png, bomb, 320, 50'000'000);
    REQUIRE_FALSE(refused);
    CHECK(refused.error().kind == ErrorKind::rejected);
    CHECK(refused.error().message ==
          "body: 20000 × 20000 pixels, more than the 50000000 this server decodes");
    // A JPEG over a lower limit likewise.
    auto jpeg_refused = decode_scaled(MediaType::jpeg, jpeg(400, 300), 320, 100'000);
    REQUIRE_FALSE(jpeg_refused);
    CHECK(jpeg_refused.error().kind == ErrorKind::rejected);
}

TEST_CASE("documents: display names are sanitised and never paths") {
    CHECK(sanitise_file_name("IMG_0042.JPG", MediaType::jpeg) == "IMG_0042.JPG");
    CHECK(sanitise_file_name("../../etc/passwd", MediaType::pdf) == "passwd.pdf");
    CHECK(sanitise_file_name("C:\\Users\\x\\Roof \"north\".png", MediaType::png) == "Roof north.png");
    CHECK(sanitise_file_name("..", MediaType::jpeg) == "document.jpg");
    CHECK(sanitise_file_name("", MediaType::pdf) == "document.pdf");
    CHECK(sanitise_file_name("photo.jpeg", MediaType::jpeg) == "photo.jpeg");
    CHECK(sanitise_file_name("contract.pdf.exe", MediaType::pdf) == "contract.pdf.exe.pdf");
    CHECK(sanitise_file_name("合同\xFF\x01.pdf", MediaType::pdf) == "合同.pdf");
    CHECK(sanitise_file_name(std::string(500, 'a'), MediaType::pdf).size() == kMaxFileNameBytes + 4);
    Document d;
    d.file_name = "合同 (1).pdf";
    d.media_type = MediaType::pdf;
    CHECK(download_name(d, Size::original) == "__ (1).pdf");
    d.file_name = "roof.png";
    d.media_type = MediaType::png;
    CHECK(download_name(d, Size::thumb) == "roof-thumb.jpg");
}
