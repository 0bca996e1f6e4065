#include "core/fcgi_records.h"

#include <cstdint>

namespace popup {
namespace {

constexpr uint8_t kBeginRequest = 1, kParams = 4, kStdin = 5;

struct Header {
  uint8_t version, type;
  unsigned id;
  size_t content, padding;
};

Header header_at(std::string_view b, size_t at) {
  auto u = [&](size_t i) { return static_cast<unsigned>(static_cast<uint8_t>(b[at + i])); };
  return Header{static_cast<uint8_t>(u(0)), static_cast<uint8_t>(u(1)), (u(2) << 8) | u(3),
                (u(4) << 8) | u(5), u(6)};
}

// One FastCGI name or value length at *at (1 byte, or 4 with the high bit
// set). false when the bytes end first.
bool read_length(std::string_view b, size_t* at, size_t* len) {
  if (*at >= b.size()) return false;
  auto u = [&](size_t i) { return static_cast<size_t>(static_cast<uint8_t>(b[*at + i])); };
  if (!(u(0) & 0x80)) {
    *len = u(0);
    *at += 1;
    return true;
  }
  if (*at + 4 > b.size()) return false;
  *len = ((u(0) & 0x7f) << 24) | (u(1) << 16) | (u(2) << 8) | u(3);
  *at += 4;
  return true;
}

// Name-value pairs in `pairs`: "" when every complete length is at most
// `max` (a pair cut off at the end is fine), else why not.
std::string check_pairs(std::string_view pairs, size_t max) {
  size_t at = 0, name = 0, value = 0;
  while (read_length(pairs, &at, &name) && read_length(pairs, &at, &value)) {
    if (name > max || value > max) {
      return "a parameter claims " + std::to_string(name) + " + " + std::to_string(value) +
             " bytes, more than " + std::to_string(max);
    }
    at += name + value;
  }
  if (name > max) return "a parameter name claims " + std::to_string(name) + " bytes";
  return "";
}

// Whether `pairs` ends exactly after its last name-value pair.
bool pairs_whole(std::string_view pairs) {
  size_t at = 0, name = 0, value = 0;
  while (at < pairs.size()) {
    if (!read_length(pairs, &at, &name) || !read_length(pairs, &at, &value)) return false;
    at += name + value;
  }
  return at == pairs.size();
}

RecordCheck bad(std::string why) { return {RecordVerdict::bad, std::move(why), false}; }

// The scan behind both checks; through_stdin: go on past the parameters'
// end to the body's.
RecordCheck scan(std::string_view bytes, size_t max_params, size_t max_scan, bool through_stdin) {
  size_t at = 0;
  bool begun = false, params_ended = false;
  unsigned id = 0;
  std::string params;
  while (at + 8 <= bytes.size()) {
    Header h = header_at(bytes, at);
    if (h.version != 1) return {RecordVerdict::complete, "", params_ended};
    size_t end = at + 8 + h.content + h.padding;
    std::string_view content = bytes.substr(at + 8, h.content);
    if (h.type == kBeginRequest && !params_ended) {
      begun = true;
      id = h.id;
      params.clear();
    } else if (h.id == 0) {
      // A management record's pairs must fit in its own content, which
      // libfcgi reads them from (each length is bounded by what is left).
      std::string why = check_pairs(content, h.content);
      if (!why.empty()) return bad("management record: " + why);
    } else if (params_ended) {
      // Only the request's own records matter now; libfcgi skips others.
      if (h.id == id && (h.type != kStdin || h.content == 0))
        return {RecordVerdict::complete, "", true};
    } else if (begun && h.id == id) {
      if (h.type != kParams) return {RecordVerdict::complete, ""};
      if (h.content == 0) {
        // Nothing more will complete a pair cut off here.
        if (!pairs_whole(params)) return bad("the parameters end inside a name-value pair");
        if (!through_stdin) return {RecordVerdict::complete, ""};
        params_ended = true;
      }
      params.append(content);
      if (params.size() > max_params) {
        return bad("parameters longer than " + std::to_string(max_params) + " bytes");
      }
      std::string why = check_pairs(params, max_params);
      if (!why.empty()) return bad(why);
    }
    at = end;
    if (at > max_scan && !params_ended) {
      return bad("no end of parameters within " + std::to_string(max_scan) + " bytes");
    }
  }
  return {RecordVerdict::need_more, "", params_ended};
}

}  // namespace

RecordCheck check_fcgi_records(std::string_view bytes, size_t max_params, size_t max_scan) {
  return scan(bytes, max_params, max_scan, false);
}

RecordCheck check_fcgi_request(std::string_view bytes, size_t max_params, size_t max_scan) {
  return scan(bytes, max_params, max_scan, true);
}

}  // namespace popup
