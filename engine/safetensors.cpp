#include "engine/safetensors.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstring>
#include <limits>
#include <set>

#include "engine/file_io.h"
#include "engine/json_guard.h"

namespace sl {

namespace {

constexpr uint64_t kMaxHeader = 100'000'000;  // as the reference reader
constexpr int kMaxDepth = 8;

const char* st_name(DType d) {
  switch (d) {
    case DType::f32: return "F32";
    case DType::f64: return "F64";
    case DType::i32: return "I32";
    case DType::i64: return "I64";
    case DType::i8: return "I8";
    case DType::u8: return "U8";
    default: fail("safetensors: invalid dtype");
  }
}

DType st_dtype(const std::string& name, const std::string& path, const std::string& tensor) {
  if (name == "F32") return DType::f32;
  if (name == "F64") return DType::f64;
  if (name == "I32") return DType::i32;
  if (name == "I64") return DType::i64;
  if (name == "I8") return DType::i8;
  if (name == "U8" || name == "BOOL") return DType::u8;
  fail("{}: tensor '{}' has dtype '{}', which shiftlab does not read (F32 F64 I32 I64 I8 U8 BOOL)", path, tensor, name);
}

}  // namespace

std::map<std::string, Tensor> SafetensorsContent::as_map() const {
  return std::map<std::string, Tensor>(tensors.begin(), tensors.end());
}

const Tensor* SafetensorsContent::find(const std::string& name) const {
  for (const auto& kv : tensors)
    if (kv.first == name) return &kv.second;
  return nullptr;
}

void save_safetensors(const std::string& path, const std::vector<std::pair<std::string, Tensor>>& tensors,
                      const Metadata& metadata) {
  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  std::vector<Tensor> host;
  std::set<std::string> names;
  uint64_t offset = 0;
  for (const auto& [name, t] : tensors) {
    SL_CHECK(!name.empty() && name != "__metadata__", "safetensors: invalid tensor name '{}'", name);
    SL_CHECK(names.insert(name).second, "safetensors: tensor name '{}' appears twice", name);
    Tensor h = t.detach().to(Device::cpu);
    header[name] = {{"dtype", st_name(h.dtype())}, {"shape", h.shape()}, {"data_offsets", {offset, offset + h.nbytes()}}};
    offset += h.nbytes();
    host.push_back(h);
  }
  std::string json = header.dump();
  json.append((8 - json.size() % 8) % 8, ' ');  // data starts 8-byte aligned, as the reference writer
  std::string out(8, '\0');
  uint64_t n = json.size();
  for (int i = 0; i < 8; ++i) out[static_cast<size_t>(i)] = static_cast<char>((n >> (8 * i)) & 0xff);
  out += json;
  out.reserve(out.size() + offset);
  for (const Tensor& h : host) out.append(static_cast<const char*>(h.raw_data()), h.nbytes());
  write_file_atomic(path, out);
}

SafetensorsContent load_safetensors(const std::string& path) {
  std::vector<char> bytes = read_file(path);
  return parse_safetensors(bytes.data(), bytes.size(), path);
}

SafetensorsContent parse_safetensors(const char* file, size_t size, const std::string& path) {
  SL_CHECK(size >= 8, "{}: not a safetensors file ({} bytes, shorter than the 8-byte header length)", path,
           size);
  uint64_t n = 0;
  for (int i = 0; i < 8; ++i) n |= static_cast<uint64_t>(static_cast<unsigned char>(file[i])) << (8 * i);
  SL_CHECK(n <= kMaxHeader, "{}: header length {} exceeds the 100 MB limit (corrupt or not safetensors)", path, n);
  SL_CHECK(n <= size - 8, "{}: header length {} is larger than the file ({} bytes): truncated or corrupt", path, n,
           size);
  std::string text(file + 8, n);
  SL_CHECK(!text.empty() && text[0] == '{', "{}: the header does not start with '{{'", path);
  // {name: {dtype, shape: [...], data_offsets: [...]}, __metadata__: {...}} nests 3 levels.
  check_json_depth(text, kMaxDepth, path + ": the header");

  // Parse, rejecting duplicate top-level keys (nlohmann would silently keep the last one).
  std::set<std::string> seen;
  std::string duplicate;
  nlohmann::json header;
  try {
    header = nlohmann::json::parse(text, [&](int depth, nlohmann::json::parse_event_t event, nlohmann::json& parsed) {
      if (depth == 1 && event == nlohmann::json::parse_event_t::key && !seen.insert(parsed.get<std::string>()).second)
        duplicate = parsed.get<std::string>();
      return true;
    });
  } catch (const nlohmann::json::exception& e) {
    fail("{}: the header is not valid JSON: {}", path, e.what());
  }
  SL_CHECK(duplicate.empty(), "{}: tensor '{}' appears twice in the header", path, duplicate);
  SL_CHECK(header.is_object(), "{}: the header is not a JSON object", path);

  SafetensorsContent content;
  struct Entry {
    std::string name;
    DType dtype;
    Shape shape;
    uint64_t begin, end;
  };
  std::vector<Entry> entries;
  for (auto it = header.begin(); it != header.end(); ++it) {
    const std::string& name = it.key();
    const auto& v = it.value();
    if (name == "__metadata__") {
      if (v.is_null()) continue;  // as the reference reader (an Option): no metadata
      SL_CHECK(v.is_object(), "{}: __metadata__ must be an object of strings", path);
      for (auto m = v.begin(); m != v.end(); ++m) {
        SL_CHECK(m.value().is_string(), "{}: __metadata__ value '{}' is not a string", path, m.key());
        content.metadata[m.key()] = m.value().get<std::string>();
      }
      continue;
    }
    SL_CHECK(v.is_object() && v.contains("dtype") && v.contains("shape") && v.contains("data_offsets"),
             "{}: tensor '{}' needs dtype, shape and data_offsets", path, name);
    SL_CHECK(v["dtype"].is_string(), "{}: tensor '{}' has a non-string dtype", path, name);
    Entry e{name, st_dtype(v["dtype"].get<std::string>(), path, name), {}, 0, 0};
    SL_CHECK(v["shape"].is_array(), "{}: tensor '{}' has a shape that is not an array", path, name);
    uint64_t count = 1;
    for (const auto& d : v["shape"]) {
      SL_CHECK(d.is_number_unsigned(), "{}: tensor '{}' has an invalid dimension {}", path, name, describe_json(d));
      uint64_t dim = d.get<uint64_t>();
      SL_CHECK(dim <= (uint64_t{1} << 62), "{}: tensor '{}' has an implausible dimension {}", path, name, dim);
      SL_CHECK(dim == 0 || count <= std::numeric_limits<uint64_t>::max() / 8 / dim, "{}: tensor '{}' is too large",
               path, name);
      count *= dim;
      e.shape.push_back(static_cast<int64_t>(dim));
    }
    const auto& off = v["data_offsets"];
    SL_CHECK(off.is_array() && off.size() == 2 && off[0].is_number_unsigned() && off[1].is_number_unsigned(),
             "{}: tensor '{}' has invalid data_offsets ({})", path, name, describe_json(off));
    e.begin = off[0].get<uint64_t>();
    e.end = off[1].get<uint64_t>();
    SL_CHECK(e.begin <= e.end && e.end - e.begin == count * dtype_size(e.dtype),
             "{}: tensor '{}' of shape {} {} needs {} bytes but its offsets [{}, {}] span {}", path, name,
             shape_str(e.shape), dtype_name(e.dtype), count * dtype_size(e.dtype), e.begin, e.end,
             e.end >= e.begin ? e.end - e.begin : 0);
    entries.push_back(std::move(e));
  }
  std::sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) {
    return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;  // empty tensors first: a deterministic order
  });
  uint64_t buffer = size - 8 - n, pos = 0;
  for (const Entry& e : entries) {
    SL_CHECK(e.begin == pos, "{}: tensor '{}' starts at byte {} but the previous one ends at {} (overlap or hole)", path,
             e.name, e.begin, pos);
    pos = e.end;
  }
  SL_CHECK(pos == buffer, "{}: the tensors cover {} bytes but the data section has {}: truncated or corrupt", path, pos,
           buffer);
  const char* data = file + 8 + n;
  for (const Entry& e : entries) {
    Tensor t = Tensor::empty(e.shape, e.dtype);
    if (t.nbytes() > 0) std::memcpy(t.raw_data(), data + e.begin, t.nbytes());
    content.tensors.emplace_back(e.name, t);
  }
  return content;
}

}  // namespace sl
