// libjpeg and libpng report errors by longjmp. Each call into them runs inside guarded(): the setjmp is in a
// frame that holds nothing but the jump buffer, and the work it runs keeps its state in a context object
// owned by the caller, so no C++ object is skipped or clobbered by a jump.
#include "pvfleet/documents/image.hpp"

#include <jpeglib.h>
#include <png.h>

#include <algorithm>
#include <csetjmp>
#include <cstdio>
#include <cstring>

namespace pvfleet::documents {
namespace {

// ---- EXIF ----

std::uint16_t u16(const unsigned char* p, bool little) {
    return little ? static_cast<std::uint16_t>(p[0] | (p[1] << 8))
                  : static_cast<std::uint16_t>((p[0] << 8) | p[1]);
}
std::uint32_t u32(const unsigned char* p, bool little) {
    return little ? (std::uint32_t{p[0]} | (std::uint32_t{p[1]} << 8) | (std::uint32_t{p[2]} << 16) |
                     (std::uint32_t{p[3]} << 24))
                  : ((std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) |
                     std::uint32_t{p[3]});
}

// Orientation from a TIFF structure (the APP1 segment after "Exif\0\0"), 0 when it has none.
int tiff_orientation(const unsigned char* t, std::size_t n) {
    if (n < 8) return 0;
    bool little;
    if (t[0] == 'I' && t[1] == 'I')
        little = true;
    else if (t[0] == 'M' && t[1] == 'M')
        little = false;
    else
        return 0;
    if (u16(t + 2, little) != 42) return 0;
    const std::uint32_t ifd = u32(t + 4, little);
    if (ifd < 8 || ifd > n - 2) return 0;
    const std::uint16_t count = u16(t + ifd, little);
    for (std::uint32_t i = 0; i < count; ++i) {
        const std::size_t e = std::size_t{ifd} + 2 + 12 * std::size_t{i};
        if (e + 12 > n) return 0;
        if (u16(t + e, little) != 0x0112) continue;
        if (u16(t + e + 2, little) != 3 || u32(t + e + 4, little) != 1) return 0;  // one SHORT
        const int v = u16(t + e + 8, little);
        return v >= 1 && v <= 8 ? v : 0;
    }
    return 0;
}

// ---- the box filter: source rows in, the scaled image out; one row of sums in memory ----

class BoxScaler {
public:
    void start(int src_w, int src_h, int dst_w, int dst_h) {
        sw_ = src_w;
        sh_ = src_h;
        out_.width = std::clamp(dst_w, 1, src_w);
        out_.height = std::clamp(dst_h, 1, src_h);
        out_.pixels.assign(static_cast<std::size_t>(out_.width) * static_cast<std::size_t>(out_.height) * 3,
                           0);
        sums_.assign(static_cast<std::size_t>(out_.width) * 3, 0);
        counts_.assign(static_cast<std::size_t>(out_.width), 0);
        column_.resize(static_cast<std::size_t>(sw_));
        for (int x = 0; x < sw_; ++x)
            column_[static_cast<std::size_t>(x)] = static_cast<int>(std::int64_t{x} * out_.width / sw_);
        y_ = 0;
        row_ = 0;
    }
    void add_row(const std::uint8_t* rgb) {
        if (y_ >= sh_) return;
        const int target = static_cast<int>(std::int64_t{y_} * out_.height / sh_);
        if (target != row_) flush();
        row_ = target;
        for (int x = 0; x < sw_; ++x) {
            const auto c = static_cast<std::size_t>(column_[static_cast<std::size_t>(x)]);
            for (std::size_t k = 0; k < 3; ++k) sums_[c * 3 + k] += rgb[static_cast<std::size_t>(x) * 3 + k];
            ++counts_[c];
        }
        ++y_;
    }
    RgbImage finish() {
        flush();
        return std::move(out_);
    }
    [[nodiscard]] int rows_seen() const { return y_; }

private:
    void flush() {
        std::uint8_t* dst =
            out_.pixels.data() + static_cast<std::size_t>(row_) * static_cast<std::size_t>(out_.width) * 3;
        for (std::size_t c = 0; c < counts_.size(); ++c) {
            if (counts_[c] == 0) continue;
            for (std::size_t k = 0; k < 3; ++k) {
                dst[c * 3 + k] = static_cast<std::uint8_t>((sums_[c * 3 + k] + counts_[c] / 2) / counts_[c]);
                sums_[c * 3 + k] = 0;
            }
            counts_[c] = 0;
        }
    }
    int sw_ = 0, sh_ = 0, y_ = 0, row_ = 0;
    RgbImage out_;
    std::vector<std::uint64_t> sums_;
    std::vector<std::uint32_t> counts_;
    std::vector<int> column_;
};

// The size an image of w × h gets for a long side of at most `long_side` (never enlarged).
std::pair<int, int> fitted(int w, int h, int long_side) {
    const int longest = std::max(w, h);
    if (longest <= long_side) return {w, h};
    const auto scale = [&](int v) {
        return std::max(1, static_cast<int>((std::int64_t{v} * long_side + longest / 2) / longest));
    };
    return {scale(w), scale(h)};
}

Error too_many_pixels(std::uint64_t w, std::uint64_t h, std::uint64_t max_pixels) {
    return Error{"body: " + std::to_string(w) + " × " + std::to_string(h) + " pixels, more than the " +
                     std::to_string(max_pixels) + " this server decodes",
                 ErrorKind::rejected, "body"};
}

// ---- libjpeg ----

struct JpegErrors {
    jpeg_error_mgr mgr{};
    std::jmp_buf jump{};
    char message[JMSG_LENGTH_MAX] = {};
};

void on_jpeg_error(j_common_ptr cinfo) {
    auto* e = reinterpret_cast<JpegErrors*>(cinfo->err);
    (*cinfo->err->format_message)(cinfo, e->message);
    std::longjmp(e->jump, 1);
}
void on_jpeg_message(j_common_ptr, int) {}  // warnings (a truncated file's end) are not logged

// Runs work(ctx) with `jump` armed; false when libjpeg or libpng jumped out.
bool guarded(std::jmp_buf& jump, void (*work)(void*), void* ctx) {
    if (setjmp(jump)) return false;
    work(ctx);
    return true;
}

struct JpegDecode {
    std::string_view bytes;
    int long_side = 0;  // 0: the header only
    std::uint64_t max_pixels = 0;
    jpeg_decompress_struct cinfo{};
    JpegErrors errors;
    bool created = false, over_limit = false;
    ImageHeader header;
    BoxScaler scaler;
    std::vector<std::uint8_t> row;
};

void jpeg_decode_work(void* p) {
    auto& d = *static_cast<JpegDecode*>(p);
    jpeg_create_decompress(&d.cinfo);
    d.created = true;
    jpeg_mem_src(&d.cinfo, reinterpret_cast<const unsigned char*>(d.bytes.data()),
                 static_cast<unsigned long>(d.bytes.size()));
    jpeg_read_header(&d.cinfo, TRUE);
    d.header.width = static_cast<int>(d.cinfo.image_width);
    d.header.height = static_cast<int>(d.cinfo.image_height);
    if (d.long_side == 0) return;
    if (std::uint64_t{d.cinfo.image_width} * d.cinfo.image_height > d.max_pixels) {
        d.over_limit = true;
        return;
    }
    const auto [tw, th] = fitted(d.header.width, d.header.height, d.long_side);
    // The smallest DCT scale n/8 whose output is still at least the target's size.
    const int longest = std::max(d.header.width, d.header.height);
    d.cinfo.scale_num = static_cast<unsigned>(
        std::clamp<std::int64_t>((std::int64_t{std::max(tw, th)} * 8 + longest - 1) / longest, 1, 8));
    d.cinfo.scale_denom = 8;
    d.cinfo.out_color_space = JCS_RGB;
    d.cinfo.dct_method = JDCT_ISLOW;
    d.cinfo.mem->max_memory_to_use = 512L * 1024 * 1024;  // a progressive file's coefficients, bounded
    jpeg_start_decompress(&d.cinfo);
    const int ow = static_cast<int>(d.cinfo.output_width), oh = static_cast<int>(d.cinfo.output_height);
    d.scaler.start(ow, oh, std::min(tw, ow), std::min(th, oh));
    d.row.resize(static_cast<std::size_t>(ow) * 3);
    while (d.cinfo.output_scanline < d.cinfo.output_height) {
        JSAMPROW r = d.row.data();
        jpeg_read_scanlines(&d.cinfo, &r, 1);
        d.scaler.add_row(d.row.data());
    }
    jpeg_finish_decompress(&d.cinfo);
}

Result<RgbImage> decode_jpeg(std::string_view bytes, int long_side, std::uint64_t max_pixels,
                             ImageHeader* header) {
    JpegDecode d;
    d.bytes = bytes;
    d.long_side = long_side;
    d.max_pixels = max_pixels;
    d.cinfo.err = jpeg_std_error(&d.errors.mgr);
    d.errors.mgr.error_exit = on_jpeg_error;
    d.errors.mgr.emit_message = on_jpeg_message;
    const bool ok = guarded(d.errors.jump, jpeg_decode_work, &d);
    if (d.created) jpeg_destroy_decompress(&d.cinfo);
    if (!ok)
        return Error{std::string("body: not a readable JPEG (") + d.errors.message + ")",
                     ErrorKind::unsupported, "body"};
    if (d.over_limit) return too_many_pixels(d.cinfo.image_width, d.cinfo.image_height, max_pixels);
    d.header.orientation = exif_orientation(bytes);
    if (header != nullptr) *header = d.header;
    if (long_side == 0) return RgbImage{};
    return d.scaler.finish();
}

struct JpegEncode {
    const RgbImage* image = nullptr;
    int quality = 82, orientation = 1;
    jpeg_compress_struct cinfo{};
    JpegErrors errors;
    bool created = false;
    unsigned char* out = nullptr;
    unsigned long size = 0;
};

void jpeg_encode_work(void* p) {
    auto& e = *static_cast<JpegEncode*>(p);
    jpeg_create_compress(&e.cinfo);
    e.created = true;
    jpeg_mem_dest(&e.cinfo, &e.out, &e.size);
    e.cinfo.image_width = static_cast<JDIMENSION>(e.image->width);
    e.cinfo.image_height = static_cast<JDIMENSION>(e.image->height);
    e.cinfo.input_components = 3;
    e.cinfo.in_color_space = JCS_RGB;
    jpeg_set_defaults(&e.cinfo);
    jpeg_set_quality(&e.cinfo, e.quality, TRUE);
    jpeg_start_compress(&e.cinfo, TRUE);
    if (e.orientation != 1) {
        // "Exif\0\0", a big-endian TIFF header, IFD0 with one entry: Orientation, SHORT, count 1.
        const unsigned char exif[] = {
            'E', 'x', 'i', 'f',  0,    0, 'M', 'M', 0, 42, 0, 0, 0,
            8,   0,   1,   0x01, 0x12, 0, 3,   0,   0, 0,  1, 0, static_cast<unsigned char>(e.orientation),
            0,   0,   0,   0,    0,    0};
        jpeg_write_marker(&e.cinfo, JPEG_APP0 + 1, exif, sizeof exif);
    }
    const auto stride = static_cast<std::size_t>(e.image->width) * 3;
    while (e.cinfo.next_scanline < e.cinfo.image_height) {
        JSAMPROW r = const_cast<JSAMPROW>(e.image->pixels.data() + e.cinfo.next_scanline * stride);
        jpeg_write_scanlines(&e.cinfo, &r, 1);
    }
    jpeg_finish_compress(&e.cinfo);
}

// ---- libpng ----

struct PngDecode {
    std::string_view bytes;
    std::size_t offset = 0;
    int long_side = 0;
    std::uint64_t max_pixels = 0;
    png_structp png = nullptr;
    png_infop info = nullptr;
    std::jmp_buf* jump = nullptr;
    std::string message;
    bool over_limit = false;
    ImageHeader header;
    BoxScaler scaler;
    std::vector<std::uint8_t> rows;  // an interlaced image whole; otherwise one row
};

void on_png_error(png_structp png, png_const_charp message) {
    auto* d = static_cast<PngDecode*>(png_get_error_ptr(png));
    d->message = message != nullptr ? message : "error";
    std::longjmp(*d->jump, 1);
}
void on_png_warning(png_structp, png_const_charp) {}
void on_png_read(png_structp png, png_bytep out, png_size_t n) {
    auto* d = static_cast<PngDecode*>(png_get_io_ptr(png));
    if (n > d->bytes.size() - d->offset) png_error(png, "the file ends early");
    std::memcpy(out, d->bytes.data() + d->offset, n);
    d->offset += n;
}

void png_decode_work(void* p) {
    auto& d = *static_cast<PngDecode*>(p);
    png_set_read_fn(d.png, &d, on_png_read);
    png_set_user_limits(d.png, 1U << 16, 1U << 16);
    png_set_chunk_malloc_max(d.png, 8 * 1024 * 1024);  // a text chunk that inflates to gigabytes is an error
    png_read_info(d.png, d.info);
    const png_uint_32 w = png_get_image_width(d.png, d.info), h = png_get_image_height(d.png, d.info);
    d.header.width = static_cast<int>(w);
    d.header.height = static_cast<int>(h);
    if (d.long_side == 0) return;
    if (std::uint64_t{w} * h > d.max_pixels) {
        d.over_limit = true;
        return;
    }
    // Whatever it holds, 8-bit RGB: palettes expanded, 16 bits stripped, grey made RGB, alpha dropped.
    png_set_expand(d.png);
    png_set_strip_16(d.png);
    png_set_gray_to_rgb(d.png);
    png_set_strip_alpha(d.png);
    const int passes = png_set_interlace_handling(d.png);
    png_read_update_info(d.png, d.info);
    if (png_get_rowbytes(d.png, d.info) != std::size_t{w} * 3) png_error(d.png, "unexpected row layout");
    const auto [tw, th] = fitted(static_cast<int>(w), static_cast<int>(h), d.long_side);
    d.scaler.start(static_cast<int>(w), static_cast<int>(h), tw, th);
    const std::size_t stride = std::size_t{w} * 3;
    if (passes >
        1) {  // interlaced: the passes fill the whole image (bounded by max_pixels) before any row is done
        d.rows.resize(stride * h);
        for (int pass = 0; pass < passes; ++pass)
            for (png_uint_32 y = 0; y < h; ++y) png_read_row(d.png, d.rows.data() + y * stride, nullptr);
        for (png_uint_32 y = 0; y < h; ++y) d.scaler.add_row(d.rows.data() + y * stride);
    } else {
        d.rows.resize(stride);
        for (png_uint_32 y = 0; y < h; ++y) {
            png_read_row(d.png, d.rows.data(), nullptr);
            d.scaler.add_row(d.rows.data());
        }
    }
}

Result<RgbImage> decode_png(std::string_view bytes, int long_side, std::uint64_t max_pixels,
                            ImageHeader* header) {
    PngDecode d;
    d.bytes = bytes;
    d.long_side = long_side;
    d.max_pixels = max_pixels;
    d.png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &d, on_png_error, on_png_warning);
    if (d.png == nullptr) return Error{"libpng: out of memory", ErrorKind::io};
    d.info = png_create_info_struct(d.png);
    if (d.info == nullptr) {
        png_destroy_read_struct(&d.png, nullptr, nullptr);
        return Error{"libpng: out of memory", ErrorKind::io};
    }
    std::jmp_buf& jump = png_jmpbuf(d.png);
    d.jump = &jump;
    const bool ok = guarded(jump, png_decode_work, &d);
    png_destroy_read_struct(&d.png, &d.info, nullptr);
    if (!ok) return Error{"body: not a readable PNG (" + d.message + ")", ErrorKind::unsupported, "body"};
    if (d.over_limit)
        return too_many_pixels(static_cast<std::uint64_t>(d.header.width),
                               static_cast<std::uint64_t>(d.header.height), max_pixels);
    if (header != nullptr) *header = d.header;
    if (long_side == 0) return RgbImage{};
    return d.scaler.finish();
}

struct PngEncode {
    const RgbImage* image = nullptr;
    png_structp png = nullptr;
    png_infop info = nullptr;
    std::jmp_buf* jump = nullptr;
    std::string out, message;
};

void on_png_write_error(png_structp png, png_const_charp message) {
    auto* e = static_cast<PngEncode*>(png_get_error_ptr(png));
    e->message = message != nullptr ? message : "error";
    std::longjmp(*e->jump, 1);
}
void on_png_write(png_structp png, png_bytep data, png_size_t n) {
    static_cast<PngEncode*>(png_get_io_ptr(png))->out.append(reinterpret_cast<const char*>(data), n);
}
void on_png_flush(png_structp) {}

void png_encode_work(void* p) {
    auto& e = *static_cast<PngEncode*>(p);
    png_set_write_fn(e.png, &e, on_png_write, on_png_flush);
    png_set_IHDR(e.png, e.info, static_cast<png_uint_32>(e.image->width),
                 static_cast<png_uint_32>(e.image->height), 8, PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(e.png, e.info);
    for (int y = 0; y < e.image->height; ++y) png_write_row(e.png, e.image->at(0, y));
    png_write_end(e.png, nullptr);
}

}  // namespace

int exif_orientation(std::string_view jpeg) {
    const auto* b = reinterpret_cast<const unsigned char*>(jpeg.data());
    const std::size_t n = jpeg.size();
    if (n < 4 || b[0] != 0xFF || b[1] != 0xD8) return 1;
    std::size_t p = 2;
    while (p + 4 <= n) {
        if (b[p] != 0xFF) return 1;
        const unsigned char marker = b[p + 1];
        if (marker == 0xFF) {  // fill byte
            ++p;
            continue;
        }
        if (marker == 0xDA || marker == 0xD9) return 1;  // the image data: no more header segments
        if (marker == 0x01 || (marker >= 0xD0 && marker <= 0xD8)) {
            p += 2;
            continue;
        }
        const std::size_t length = u16(b + p + 2, false);
        if (length < 2 || p + 2 + length > n) return 1;
        if (marker == 0xE1 && length >= 8 && std::memcmp(b + p + 4, "Exif\0\0", 6) == 0) {
            const int o = tiff_orientation(b + p + 10, length - 8);
            return o == 0 ? 1 : o;
        }
        p += 2 + length;
    }
    return 1;
}

RgbImage apply_orientation(const RgbImage& in, int orientation) {
    if (orientation < 2 || orientation > 8) return in;
    const int w = in.width, h = in.height;
    const bool swapped = orientation >= 5;
    RgbImage out;
    out.width = swapped ? h : w;
    out.height = swapped ? w : h;
    out.pixels.resize(in.pixels.size());
    for (int dy = 0; dy < out.height; ++dy) {
        for (int dx = 0; dx < out.width; ++dx) {
            int sx = dx, sy = dy;
            switch (orientation) {
                case 2:
                    sx = w - 1 - dx;
                    break;
                case 3:
                    sx = w - 1 - dx;
                    sy = h - 1 - dy;
                    break;
                case 4:
                    sy = h - 1 - dy;
                    break;
                case 5:
                    sx = dy;
                    sy = dx;
                    break;
                case 6:
                    sx = dy;
                    sy = h - 1 - dx;
                    break;
                case 7:
                    sx = w - 1 - dy;
                    sy = h - 1 - dx;
                    break;
                case 8:
                    sx = w - 1 - dy;
                    sy = dx;
                    break;
                default:
                    break;
            }
            std::memcpy(
                out.pixels.data() + (static_cast<std::size_t>(dy) * static_cast<std::size_t>(out.width) +
                                     static_cast<std::size_t>(dx)) *
                                        3,
                in.at(sx, sy), 3);
        }
    }
    return out;
}

Result<ImageHeader> read_header(MediaType type, std::string_view bytes) {
    ImageHeader header;
    if (type == MediaType::jpeg) {
        PVF_CHECK(decode_jpeg(bytes, 0, 0, &header));
    } else if (type == MediaType::png) {
        PVF_CHECK(decode_png(bytes, 0, 0, &header));
    } else {
        return Error{"body: a PDF is not an image", ErrorKind::unsupported, "body"};
    }
    return header;
}

Result<RgbImage> decode_scaled(MediaType type, std::string_view bytes, int long_side,
                               std::uint64_t max_pixels) {
    if (long_side < 1) return Error{"long side: expected at least 1 pixel"};
    ImageHeader header;
    if (type == MediaType::jpeg) {
        PVF_TRY(auto image, decode_jpeg(bytes, long_side, max_pixels, &header));
        return apply_orientation(image, header.orientation);
    }
    if (type == MediaType::png) return decode_png(bytes, long_side, max_pixels, &header);
    return Error{"a PDF is not an image", ErrorKind::unsupported, "size"};
}

Result<std::string> encode_jpeg(const RgbImage& image, int quality, int orientation) {
    if (image.width < 1 || image.height < 1 ||
        image.pixels.size() !=
            static_cast<std::size_t>(image.width) * static_cast<std::size_t>(image.height) * 3)
        return Error{"encode_jpeg: the image's size does not match its pixels"};
    JpegEncode e;
    e.image = &image;
    e.quality = std::clamp(quality, 1, 100);
    e.orientation = std::clamp(orientation, 1, 8);
    e.cinfo.err = jpeg_std_error(&e.errors.mgr);
    e.errors.mgr.error_exit = on_jpeg_error;
    e.errors.mgr.emit_message = on_jpeg_message;
    const bool ok = guarded(e.errors.jump, jpeg_encode_work, &e);
    if (e.created) jpeg_destroy_compress(&e.cinfo);
    std::string out;
    if (ok && e.out != nullptr) out.assign(reinterpret_cast<const char*>(e.out), e.size);
    std::free(e.out);
    if (!ok) return Error{std::string("JPEG encoding failed: ") + e.errors.message, ErrorKind::io};
    return out;
}

Result<std::string> encode_png(const RgbImage& image) {
    if (image.width < 1 || image.height < 1 ||
        image.pixels.size() !=
            static_cast<std::size_t>(image.width) * static_cast<std::size_t>(image.height) * 3)
        return Error{"encode_png: the image's size does not match its pixels"};
    PngEncode e;
    e.image = &image;
    e.png = png_create_write_struct(PNG_LIBPNG_VER_STRING, &e, on_png_write_error, on_png_warning);
    if (e.png == nullptr) return Error{"libpng: out of memory", ErrorKind::io};
    e.info = png_create_info_struct(e.png);
    if (e.info == nullptr) {
        png_destroy_write_struct(&e.png, nullptr);
        return Error{"libpng: out of memory", ErrorKind::io};
    }
    std::jmp_buf& jump = png_jmpbuf(e.png);
    e.jump = &jump;
    const bool ok = guarded(jump, png_encode_work, &e);
    png_destroy_write_struct(&e.png, &e.info);
    if (!ok) return Error{"PNG encoding failed: " + e.message, ErrorKind::io};
    return std::move(e.out);
}

Result<std::string> resized_jpeg(MediaType type, std::string_view bytes, int long_side,
                                 std::uint64_t max_pixels) {
    PVF_TRY(auto image, decode_scaled(type, bytes, long_side, max_pixels));
    return encode_jpeg(image);
}

}  // namespace pvfleet::documents
