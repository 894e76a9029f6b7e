#pragma once
// A document's type from its first bytes (never from its name or the request's Content-Type): JPEG, PNG or
// PDF; anything else is refused with an error naming `body` and the bytes it starts with.
#include <optional>
#include <string>
#include <string_view>

#include "pvfleet/util/enum_names.hpp"
#include "pvfleet/util/result.hpp"

namespace pvfleet::documents {

enum class MediaType { jpeg, png, pdf };
// The stored names are the media types themselves.
inline constexpr EnumNames<MediaType, 3> kMediaTypeNames{
    {{MediaType::jpeg, "image/jpeg"}, {MediaType::png, "image/png"}, {MediaType::pdf, "application/pdf"}}};

inline bool is_image(MediaType t) {
    return t != MediaType::pdf;
}

// The file name extension of a type, with its dot: ".jpg", ".png", ".pdf".
std::string_view extension_of(MediaType t);

// How many leading bytes sniff() wants (fewer are fine for a short file).
inline constexpr std::size_t kSniffBytes = 32;

// JPEG: FF D8 FF; PNG: its 8-byte signature followed by an IHDR chunk of 13 bytes; PDF: "%PDF-" and a digit.
// Refusals: ErrorKind::unsupported at path "body", e.g. "body: not a JPEG, PNG or PDF (starts with 3c 68 74
// 6d 6c 3e)"; an empty body says so.
Result<MediaType> sniff(std::string_view head);

}  // namespace pvfleet::documents
