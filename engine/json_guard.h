// Limits for JSON read from files (configs, safetensors headers): nlohmann_json's serializer and
// some of its algorithms recurse once per nesting level, so a deeply nested document could
// overflow the stack. Every document is scanned (iteratively) before it is parsed.
#pragma once
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "engine/error.h"

namespace sl {

// Throws "<name>: JSON nested deeper than <max_depth> levels" when an array/object nests deeper.
// A short, safe description of an untrusted value for an error message: scalars as JSON (strings
// cut to 60 characters), arrays and objects by kind and size only (never serialized).
// Header-only: the deploy runtime, which links no training code, uses them too.
inline void check_json_depth(std::string_view text, int max_depth, const std::string& name) {
  int depth = 0;
  bool in_string = false, escaped = false;
  for (char ch : text) {
    if (in_string) {
      if (escaped) escaped = false;
      else if (ch == '\\') escaped = true;
      else if (ch == '"') in_string = false;
      continue;
    }
    if (ch == '"') {
      in_string = true;
    } else if (ch == '[' || ch == '{') {
      if (++depth > max_depth) fail("{}: JSON nested deeper than {} levels", name, max_depth);
    } else if (ch == ']' || ch == '}') {
      --depth;  // unbalanced brackets are the parser's to report
    }
  }
}

inline std::string describe_json(const nlohmann::json& value) {
  if (value.is_array()) return fmt::format("an array of {} elements", value.size());
  if (value.is_object()) return fmt::format("an object of {} keys", value.size());
  if (value.is_string()) {
    const std::string& s = value.get_ref<const std::string&>();
    if (s.size() > 60) return nlohmann::json(s.substr(0, 60)).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "...";
  }
  return value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}


}  // namespace sl
