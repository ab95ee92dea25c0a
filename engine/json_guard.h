// Limits for JSON read from files (configs, safetensors headers): nlohmann_json's serializer and
// some of its algorithms recurse once per nesting level, so a deeply nested document could
// overflow the stack. Every document is scanned (iteratively) before it is parsed.
#pragma once
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace sl {

// Throws "<name>: JSON nested deeper than <max_depth> levels" when an array/object nests deeper.
void check_json_depth(std::string_view text, int max_depth, const std::string& name);

// A short, safe description of an untrusted value for an error message: scalars as JSON (strings
// cut to 60 characters), arrays and objects by kind and size only (never serialized).
std::string describe_json(const nlohmann::json& value);

}  // namespace sl
