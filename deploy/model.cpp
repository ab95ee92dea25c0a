// Reading and writing deploy models. The runtime has its own small safetensors reader and writer
// (it does not link the training engine): every size and offset read from the file is checked
// against the file before it is used.
#include "deploy/model.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>

#include "deploy/kernels/kernels.h"
#include "engine/error.h"
#include "engine/json_guard.h"

namespace sl::deploy {

namespace {

using nlohmann::json;

constexpr const char* kFormat = "shiftlab-deploy";
constexpr const char* kVersion = "1";
constexpr uint64_t kMaxHeader = 100u << 20;  // as the safetensors reference: 100 MB

json graph_json(const Graph& g) {
  json j;
  j["input"] = {g.in_c, g.in_h, g.in_w};
  j["output"] = g.output;
  for (const TensorSpec& t : g.tensors)
    j["tensors"].push_back({{"hwc", {t.h, t.w, t.c}}, {"scale", t.scale}, {"zero_point", t.zero_point},
                            {"dtype", t.f32 ? "f32" : "u8"}});
  for (const Op& op : g.ops) {
    if (op.kind == Op::Kind::pool) {
      const PoolSpec& p = g.pools[op.index];
      if (p.kind == PoolKind::max)
        j["ops"].push_back({{"op", "max_pool"}, {"input", p.input}, {"output", p.output}, {"kernel", p.kernel},
                            {"stride", p.stride}, {"pad", p.pad}});
      else
        j["ops"].push_back({{"op", "global_avg_pool"}, {"input", p.input}, {"output", p.output}});
      continue;
    }
    const ConvSpec& c = g.convs[op.index];
    json o = {{"op", "conv"},         {"name", c.name},     {"weights", c.weight_format},
              {"input", c.input},     {"output", c.output}, {"kernel", {c.kh, c.kw}},
              {"stride", c.stride},   {"pad", c.pad},       {"channels", {c.cin, c.cout}},
              {"code_bits", c.code_bits}, {"relu", c.relu}};
    if (!c.input_map.empty()) {
      o["input_scale"] = c.input_scale;
      o["input_zero_point"] = c.input_zero_point;
    }
    if (c.residual >= 0)
      o["residual"] = {{"tensor", c.residual},
                       {"stride", c.residual_stride},
                       {"channel_offset", c.residual_channel_offset},
                       {"relu_after_add", c.relu_after_add}};
    j["ops"].push_back(o);
  }
  return j;
}

std::vector<uint8_t> pack_codes(const ConvSpec& c) {
  const int bits = c.code_bits, per_byte = 8 / bits;
  std::vector<uint8_t> out((c.weights.size() + per_byte - 1) / per_byte, 0);
  for (size_t i = 0; i < c.weights.size(); ++i) {
    const auto it = std::lower_bound(c.levels.begin(), c.levels.end(), c.weights[i]);
    SL_CHECK(it != c.levels.end() && *it == c.weights[i], "{}: weight {} ({}) is not in its level table", c.name, i,
             c.weights[i]);
    const auto code = static_cast<unsigned>(it - c.levels.begin());
    out[i / per_byte] = static_cast<uint8_t>(out[i / per_byte] | (code << ((i % per_byte) * bits)));
  }
  return out;
}

struct RawTensor {
  std::string dtype;
  std::vector<int64_t> shape;
  std::vector<uint8_t> bytes;
};

template <class T>
RawTensor raw(const char* dtype, const std::vector<T>& v, std::vector<int64_t> shape) {
  RawTensor r{dtype, std::move(shape), std::vector<uint8_t>(v.size() * sizeof(T))};
  if (!v.empty()) std::memcpy(r.bytes.data(), v.data(), r.bytes.size());
  return r;
}

void write_file(const std::string& path, const std::vector<std::pair<std::string, RawTensor>>& tensors,
                const std::map<std::string, std::string>& metadata) {
  json header;
  header["__metadata__"] = metadata;
  uint64_t offset = 0;
  for (const auto& [name, t] : tensors) {
    header[name] = {{"dtype", t.dtype}, {"shape", t.shape}, {"data_offsets", {offset, offset + t.bytes.size()}}};
    offset += t.bytes.size();
  }
  std::string text = header.dump();
  while (text.size() % 8 != 0) text += ' ';  // data starts 8-byte aligned, as the reference pads
  const std::string tmp = path + ".tmp." + std::to_string(::getpid());
  {
    std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
    SL_CHECK(f.good(), "{}: cannot open for writing", tmp);
    uint8_t len[8];
    for (int i = 0; i < 8; ++i) len[i] = static_cast<uint8_t>(static_cast<uint64_t>(text.size()) >> (8 * i));
    f.write(reinterpret_cast<const char*>(len), 8);
    f.write(text.data(), static_cast<std::streamsize>(text.size()));
    for (const auto& kv : tensors)
      f.write(reinterpret_cast<const char*>(kv.second.bytes.data()), static_cast<std::streamsize>(kv.second.bytes.size()));
    f.flush();
    if (!f.good()) {
      std::remove(tmp.c_str());
      fail("{}: write failed (disk full?)", tmp);
    }
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    std::remove(tmp.c_str());
    fail("{}: cannot replace the file", path);
  }
}

// A parsed safetensors file: metadata and the byte range of each tensor, all checked.
struct Parsed {
  std::map<std::string, std::string> metadata;
  std::map<std::string, RawTensor> tensors;
};

size_t dtype_size(const std::string& d) {
  if (d == "U8" || d == "I8") return 1;
  if (d == "F32" || d == "I32") return 4;
  return 0;
}

Parsed read_file(const std::string& path) {
  // A FIFO or device would block or never end: only regular files are read.
  struct stat st {};
  SL_CHECK(::stat(path.c_str(), &st) != 0 || S_ISREG(st.st_mode), "{}: not a regular file", path);
  std::ifstream f(path, std::ios::binary | std::ios::ate);
  SL_CHECK(f.good(), "{}: cannot open the deploy model", path);
  const auto size = static_cast<uint64_t>(f.tellg());
  f.seekg(0);
  SL_CHECK(size >= 8, "{}: not a deploy model: {} bytes, too short for a safetensors header", path, size);
  uint8_t len_bytes[8];
  f.read(reinterpret_cast<char*>(len_bytes), 8);
  uint64_t len = 0;
  for (int i = 0; i < 8; ++i) len |= static_cast<uint64_t>(len_bytes[i]) << (8 * i);
  SL_CHECK(len <= kMaxHeader && len <= size - 8, "{}: header length {} exceeds the file ({} bytes)", path, len, size);
  std::string text(len, '\0');
  f.read(text.data(), static_cast<std::streamsize>(len));
  check_json_depth(text, 8, path + ": the safetensors header");  // the serializer and dump() recurse
  json header = json::parse(text, nullptr, false);
  SL_CHECK(!header.is_discarded() && header.is_object(), "{}: the safetensors header is not a JSON object", path);
  // The format first: a training checkpoint or another safetensors file gets the message that says so.
  const json* meta = header.contains("__metadata__") ? &header["__metadata__"] : nullptr;
  SL_CHECK(meta && meta->is_object() && meta->contains("format") && (*meta)["format"] == kFormat,
           "{}: not a shiftlab deploy model (no \"format\": \"{}\" metadata; make one with `shiftlab export`)", path,
           kFormat);
  const uint64_t data_size = size - 8 - len;
  Parsed p;
  uint64_t covered = 0;
  for (auto it = header.begin(); it != header.end(); ++it) {
    if (it.key() == "__metadata__") {
      SL_CHECK(it->is_object(), "{}: __metadata__ is not an object", path);
      for (auto m = it->begin(); m != it->end(); ++m) {
        SL_CHECK(m->is_string(), "{}: metadata \"{}\" is not a string", path, m.key());
        p.metadata[m.key()] = m->get<std::string>();
      }
      continue;
    }
    const json& t = *it;
    SL_CHECK(t.is_object() && t.contains("dtype") && t["dtype"].is_string() && t.contains("shape") &&
                 t["shape"].is_array() && t.contains("data_offsets") && t["data_offsets"].is_array() &&
                 t["data_offsets"].size() == 2 && t["data_offsets"][0].is_number_unsigned() &&
                 t["data_offsets"][1].is_number_unsigned(),
             "{}: tensor \"{}\" needs dtype, shape and two data_offsets", path, it.key());
    RawTensor r;
    r.dtype = t["dtype"].get<std::string>();
    const size_t elem = dtype_size(r.dtype);
    SL_CHECK(elem > 0, "{}: tensor \"{}\" has dtype {}; deploy models use U8, I8, I32 and F32", path, it.key(), r.dtype);
    uint64_t count = 1;
    for (const json& d : t["shape"]) {
      SL_CHECK(d.is_number_unsigned() && d.get<uint64_t>() <= data_size, "{}: tensor \"{}\" has a bad shape ({})", path,
               it.key(), describe_json(t["shape"]));
      count *= d.get<uint64_t>();
      SL_CHECK(count <= data_size, "{}: tensor \"{}\" ({}) is larger than the file", path, it.key(), describe_json(t["shape"]));
      r.shape.push_back(d.get<int64_t>());
    }
    const uint64_t begin = t["data_offsets"][0].get<uint64_t>(), end = t["data_offsets"][1].get<uint64_t>();
    SL_CHECK(begin <= end && end <= data_size && end - begin == count * elem,
             "{}: tensor \"{}\": data_offsets [{}, {}) do not hold {} {} values within the {} data bytes", path,
             it.key(), begin, end, count, r.dtype, data_size);
    covered += end - begin;
    r.bytes.resize(static_cast<size_t>(end - begin));
    f.seekg(static_cast<std::streamoff>(8 + len + begin));
    f.read(reinterpret_cast<char*>(r.bytes.data()), static_cast<std::streamsize>(r.bytes.size()));
    SL_CHECK(f.good(), "{}: truncated while reading tensor \"{}\"", path, it.key());
    p.tensors[it.key()] = std::move(r);
  }
  SL_CHECK(covered <= data_size, "{}: tensors overlap", path);
  return p;
}

template <class T>
std::vector<T> values(const Parsed& p, const std::string& path, const std::string& name, const char* dtype,
                      size_t count) {
  auto it = p.tensors.find(name);
  SL_CHECK(it != p.tensors.end(), "{}: tensor \"{}\" is missing", path, name);
  SL_CHECK(it->second.dtype == dtype && it->second.bytes.size() == count * sizeof(T),
           "{}: tensor \"{}\" should be {} values of {}, found {} bytes of {}", path, name, count, dtype,
           it->second.bytes.size(), it->second.dtype);
  std::vector<T> v(count);
  if (count > 0) std::memcpy(v.data(), it->second.bytes.data(), count * sizeof(T));
  return v;
}

int64_t int_in(const json& j, const char* key, int64_t lo, int64_t hi) {
  SL_CHECK(j.contains(key) && j[key].is_number_integer(), "graph: \"{}\" missing or not an integer in {}", key,
           describe_json(j));
  const int64_t v = j[key].get<int64_t>();
  SL_CHECK(v >= lo && v <= hi, "graph: \"{}\" = {} is outside [{}, {}]", key, v, lo, hi);
  return v;
}

int64_t int_at(const json& j, size_t i, int64_t lo, int64_t hi) {
  SL_CHECK(j.is_array() && i < j.size() && j[i].is_number_integer(), "graph: expected an integer array, got {}",
           describe_json(j));
  const int64_t v = j[i].get<int64_t>();
  SL_CHECK(v >= lo && v <= hi, "graph: {} is outside [{}, {}]", v, lo, hi);
  return v;
}

constexpr int64_t kMaxDim = 1 << 16;

// j[key] for untrusted JSON: const operator[] on a missing key is undefined behaviour in
// nlohmann_json (it dereferences end()), so a missing member reads as null.
const json& member(const json& j, const char* key) {
  static const json kNull;
  if (!j.is_object()) return kNull;
  auto it = j.find(key);
  return it == j.end() ? kNull : *it;
}

// value(key, default) that refuses a wrong type with sl::Error (nlohmann's value() throws its own).
bool bool_in(const json& j, const char* key, bool fallback) {
  const json& v = member(j, key);
  if (v.is_null()) return fallback;
  SL_CHECK(v.is_boolean(), "graph: \"{}\" is not true or false ({})", key, describe_json(v));
  return v.get<bool>();
}

std::string string_in(const json& j, const char* key) {
  const json& v = member(j, key);
  if (v.is_null()) return "";
  SL_CHECK(v.is_string(), "graph: \"{}\" is not a string ({})", key, describe_json(v));
  return v.get<std::string>();
}

// A float read from a double: converting one outside float's range is undefined behaviour.
float float_in(const json& j, const char* key) {
  const json& v = member(j, key);
  SL_CHECK(v.is_number(), "graph: \"{}\" missing or not a number", key);
  const double d = v.get<double>();
  SL_CHECK(std::isfinite(d) && std::abs(d) <= std::numeric_limits<float>::max(), "graph: \"{}\" = {} is not a finite "
           "float", key, d);
  return static_cast<float>(d);
}

Graph graph_from(const Parsed& p, const std::string& path) {
  check_json_depth(p.metadata.at("graph"), 8, path + ": metadata \"graph\"");
  const json j = json::parse(p.metadata.at("graph"), nullptr, false);
  SL_CHECK(!j.is_discarded() && j.is_object() && j.contains("tensors") && j["tensors"].is_array() &&
               j.contains("ops") && j["ops"].is_array(),
           "{}: metadata \"graph\" is not a deploy graph", path);
  Graph g;
  g.in_c = int_at(member(j, "input"), 0, 1, kMaxDim);
  g.in_h = int_at(member(j, "input"), 1, 1, kMaxDim);
  g.in_w = int_at(member(j, "input"), 2, 1, kMaxDim);
  g.output = static_cast<int>(int_in(j, "output", 0, static_cast<int64_t>(j["tensors"].size()) - 1));
  for (const json& t : j["tensors"]) {
    TensorSpec s;
    SL_CHECK(t.is_object() && t.contains("hwc") && t.contains("scale") && t["scale"].is_number() &&
                 t.contains("dtype") && t["dtype"].is_string(),
             "{}: bad tensor entry ({})", path, describe_json(t));
    s.h = int_at(t["hwc"], 0, 1, kMaxDim);
    s.w = int_at(t["hwc"], 1, 1, kMaxDim);
    s.c = int_at(t["hwc"], 2, 1, kMaxDim);
    s.scale = float_in(t, "scale");
    s.zero_point = static_cast<int32_t>(int_in(t, "zero_point", 0, 255));
    s.f32 = t["dtype"].get<std::string>() == "f32";
    // Sides up to 2^16 each could announce 2^48 bytes per image; the runtime allocates what it says.
    SL_CHECK(s.h * s.w * s.c <= (int64_t{1} << 30), "{}: tensor {}x{}x{} is larger than a deploy model holds", path,
             s.h, s.w, s.c);
    g.tensors.push_back(s);
  }
  const int64_t last_tensor = static_cast<int64_t>(g.tensors.size()) - 1;
  for (const json& o : j["ops"]) {
    SL_CHECK(o.is_object() && o.contains("op") && o["op"].is_string(), "{}: bad op entry", path);
    const std::string kind = o["op"].get<std::string>();
    if (kind == "max_pool" || kind == "max_pool_2x2" || kind == "global_avg_pool") {
      PoolSpec s;  // "max_pool_2x2": the first files' name of kernel 2, stride 2
      s.kind = kind == "global_avg_pool" ? PoolKind::global_avg : PoolKind::max;
      s.input = static_cast<int>(int_in(o, "input", 0, last_tensor));
      s.output = static_cast<int>(int_in(o, "output", 0, last_tensor));
      if (kind == "max_pool") {
        s.kernel = int_in(o, "kernel", 1, kMaxDim);
        s.stride = int_in(o, "stride", 1, kMaxDim);
        s.pad = int_in(o, "pad", 0, kMaxDim);
      }
      g.ops.push_back({Op::Kind::pool, g.pools.size()});
      g.pools.push_back(s);
      continue;
    }
    SL_CHECK(kind == "conv", "{}: unknown op \"{}\"", path, kind);
    ConvSpec c;
    SL_CHECK(o.contains("name") && o["name"].is_string(), "{}: a conv op has no name", path);
    c.name = o["name"].get<std::string>();
    c.weight_format = string_in(o, "weights");
    c.input = static_cast<int>(int_in(o, "input", 0, last_tensor));
    c.output = static_cast<int>(int_in(o, "output", 0, last_tensor));
    c.kh = int_at(member(o, "kernel"), 0, 1, kMaxDim);
    c.kw = int_at(member(o, "kernel"), 1, 1, kMaxDim);
    c.stride = int_in(o, "stride", 1, 64);
    c.pad = int_in(o, "pad", 0, 64);
    c.cin = int_at(member(o, "channels"), 0, 1, kMaxDim);
    c.cout = int_at(member(o, "channels"), 1, 1, kMaxDim);
    c.code_bits = static_cast<int>(int_in(o, "code_bits", 2, 8));
    SL_CHECK(c.code_bits == 2 || c.code_bits == 4 || c.code_bits == 8, "{}: {}: code_bits {} is not 2, 4 or 8", path,
             c.name, c.code_bits);
    c.relu = bool_in(o, "relu", false);
    if (o.contains("residual")) {
      const json& r = o["residual"];
      c.residual = static_cast<int>(int_in(r, "tensor", 0, last_tensor));
      c.residual_stride = int_in(r, "stride", 1, 64);
      c.residual_channel_offset = int_in(r, "channel_offset", 0, kMaxDim);
      c.relu_after_add = bool_in(r, "relu_after_add", false);
    }
    // Each factor is at most 2^16, so the product could reach 2^64 (0 in 64 bits): checked per step.
    uint64_t count = 1;
    for (int64_t f : {c.cout, c.kh, c.kw, c.cin})
      SL_CHECK(!__builtin_mul_overflow(count, static_cast<uint64_t>(f), &count) && count <= (uint64_t{1} << 32),
               "{}: {} has more weights ({} x {} x {} x {}) than a deploy model holds", path, c.name, c.cout, c.kh,
               c.kw, c.cin);
    const auto levels_it = p.tensors.find(c.name + ".levels");
    SL_CHECK(levels_it != p.tensors.end(), "{}: tensor \"{}.levels\" is missing", path, c.name);
    c.levels = values<int8_t>(p, path, c.name + ".levels", "I8", levels_it->second.bytes.size());
    SL_CHECK(!c.levels.empty() && c.levels.size() <= (size_t{1} << c.code_bits) &&
                 std::is_sorted(c.levels.begin(), c.levels.end()),
             "{}: {}.levels must hold 1 to {} ascending values", path, c.name, 1 << c.code_bits);
    const int per_byte = 8 / c.code_bits;
    const auto codes = values<uint8_t>(p, path, c.name + ".codes", "U8", (count + per_byte - 1) / per_byte);
    c.weights.resize(count);
    const unsigned mask = (1u << c.code_bits) - 1;
    for (size_t i = 0; i < count; ++i) {
      const unsigned code = (codes[i / per_byte] >> ((i % per_byte) * c.code_bits)) & mask;
      SL_CHECK(code < c.levels.size(), "{}: {}.codes: weight {} has code {} but the table has {} levels", path, c.name,
               i, code, c.levels.size());
      c.weights[i] = c.levels[code];
    }
    c.out_scale = values<float>(p, path, c.name + ".out_scale", "F32", static_cast<size_t>(c.cout));
    c.bias = values<float>(p, path, c.name + ".bias", "F32", static_cast<size_t>(c.cout));
    if (p.tensors.count(c.name + ".shift")) c.shift = values<int8_t>(p, path, c.name + ".shift", "I8", static_cast<size_t>(2 * c.cin));
    if (p.tensors.count(c.name + ".input_map")) {
      c.input_map = values<uint8_t>(p, path, c.name + ".input_map", "U8", 256);
      SL_CHECK(o.contains("input_scale") && o["input_scale"].is_number(), "{}: {} has an input map but no input_scale",
               path, c.name);
      c.input_scale = float_in(o, "input_scale");
      c.input_zero_point = static_cast<int32_t>(int_in(o, "input_zero_point", 0, 255));
    }
    g.ops.push_back({Op::Kind::conv, g.convs.size()});
    g.convs.push_back(std::move(c));
  }
  for (const auto& [k, v] : p.metadata)
    if (k != "graph" && k != "format" && k != "version") g.metadata[k] = v;
  return g;
}

int64_t window_out(int64_t in, int64_t k, int64_t s, int64_t pad) { return (in + 2 * pad - k) / s + 1; }

}  // namespace

int code_bits_for(size_t levels) { return levels <= 4 ? 2 : (levels <= 16 ? 4 : 8); }

void validate(const Graph& g) {
  const auto n = static_cast<int>(g.tensors.size());
  SL_CHECK(n >= 2 && g.output > 0 && g.output < n, "deploy graph: {} tensors, output {}", n, g.output);
  const TensorSpec& in = g.tensors[0];
  SL_CHECK(in.c == g.in_c && in.h == g.in_h && in.w == g.in_w && !in.f32,
           "deploy graph: tensor 0 must be the uint8 input image ({}x{}x{})", g.in_c, g.in_h, g.in_w);
  for (const TensorSpec& t : g.tensors)
    SL_CHECK(t.f32 || (t.scale > 0 && std::isfinite(t.scale) && t.zero_point >= 0 && t.zero_point <= 255),
             "deploy graph: a uint8 tensor needs a positive finite scale and a zero point in [0, 255], got {} and {}",
             t.scale, t.zero_point);
  std::vector<bool> defined(static_cast<size_t>(n), false);
  defined[0] = true;
  auto use = [&](int id, const char* what) {
    SL_CHECK(id >= 0 && id < n && defined[static_cast<size_t>(id)], "deploy graph: {} reads tensor {} before it is written",
             what, id);
    return g.tensors[static_cast<size_t>(id)];
  };
  auto define = [&](int id, const char* what) {
    SL_CHECK(id > 0 && id < n && !defined[static_cast<size_t>(id)], "deploy graph: {} writes tensor {} twice or out of range",
             what, id);
    defined[static_cast<size_t>(id)] = true;
    return g.tensors[static_cast<size_t>(id)];
  };
  for (const Op& op : g.ops) {
    if (op.kind == Op::Kind::pool) {
      SL_CHECK(op.index < g.pools.size(), "deploy graph: bad pool index");
      const PoolSpec& p = g.pools[op.index];
      const TensorSpec a = use(p.input, "a pool"), b = define(p.output, "a pool");
      SL_CHECK(!a.f32 && !b.f32 && a.c == b.c, "deploy graph: pool channels {} -> {}", a.c, b.c);
      if (p.kind == PoolKind::max) {
        SL_CHECK(p.kernel >= 1 && p.stride >= 1 && p.pad >= 0 && 2 * p.pad <= p.kernel && a.h + 2 * p.pad >= p.kernel &&
                     a.w + 2 * p.pad >= p.kernel,
                 "deploy graph: a {}x{} max pool (stride {}, pad {}) cannot pool a {}x{} map", p.kernel, p.kernel, p.stride,
                 p.pad, a.h, a.w);
        const int64_t ho = (a.h + 2 * p.pad - p.kernel) / p.stride + 1, wo = (a.w + 2 * p.pad - p.kernel) / p.stride + 1;
        SL_CHECK(b.h == ho && b.w == wo && b.scale == a.scale && b.zero_point == a.zero_point,
                 "deploy graph: a {}x{} max pool (stride {}, pad {}) maps {}x{} to {}x{} with the same quantisation",
                 p.kernel, p.kernel, p.stride, p.pad, a.h, a.w, ho, wo);
      } else {
        SL_CHECK(b.h == 1 && b.w == 1, "deploy graph: global average pooling gives 1x1, not {}x{}", b.h, b.w);
      }
      continue;
    }
    SL_CHECK(op.index < g.convs.size(), "deploy graph: bad conv index");
    const ConvSpec& c = g.convs[op.index];
    const TensorSpec a = use(c.input, c.name.c_str()), b = define(c.output, c.name.c_str());
    SL_CHECK(!a.f32 && a.c == c.cin && b.c == c.cout, "{}: channels {} -> {} but tensors have {} -> {}", c.name, c.cin,
             c.cout, a.c, b.c);
    SL_CHECK(b.h == window_out(a.h, c.kh, c.stride, c.pad) && b.w == window_out(a.w, c.kw, c.stride, c.pad) && b.h > 0 &&
                 b.w > 0,
             "{}: a {}x{} conv (stride {}, pad {}) maps {}x{} to {}x{}, not {}x{}", c.name, c.kh, c.kw, c.stride, c.pad,
             a.h, a.w, window_out(a.h, c.kh, c.stride, c.pad), window_out(a.w, c.kw, c.stride, c.pad), b.h, b.w);
    SL_CHECK(c.weights.size() == static_cast<size_t>(c.cout * c.kh * c.kw * c.cin) &&
                 c.out_scale.size() == static_cast<size_t>(c.cout) && c.bias.size() == static_cast<size_t>(c.cout),
             "{}: weight, scale or bias count does not match {} x {}x{} x {}", c.name, c.cout, c.kh, c.kw, c.cin);
    for (int8_t v : c.levels)
      SL_CHECK(v >= -kMaxWeight && v <= kMaxWeight, "{}: level {} is outside the weight range [-{}, {}]", c.name, v,
               kMaxWeight, kMaxWeight);
    SL_CHECK(c.input_map.empty() || (c.input_map.size() == 256 && c.input_scale > 0 && std::isfinite(c.input_scale) &&
                                     c.input_zero_point >= 0 && c.input_zero_point <= 255),
             "{}: an input map has 256 entries, a positive finite scale and a zero point in [0, 255]", c.name);
    SL_CHECK(c.shift.empty() || (c.shift.size() == static_cast<size_t>(2 * c.cin) && c.kh == 1 && c.kw == 1 && c.pad == 0),
             "{}: shift offsets need a 1x1 conv without padding and one (dy, dx) per input channel", c.name);
    if (c.residual >= 0) {
      const TensorSpec r = use(c.residual, c.name.c_str());
      SL_CHECK(!r.f32 && (b.h - 1) * c.residual_stride < r.h && (b.w - 1) * c.residual_stride < r.w &&
                   c.residual_channel_offset + r.c <= c.cout,
               "{}: residual tensor {} ({}x{}x{}) does not cover the output at stride {}, channel offset {}", c.name,
               c.residual, r.h, r.w, r.c, c.residual_stride, c.residual_channel_offset);
    }
  }
  SL_CHECK(defined[static_cast<size_t>(g.output)] && g.tensors[static_cast<size_t>(g.output)].f32,
           "deploy graph: the output tensor {} must be written as float", g.output);
}

void save_model(const std::string& path, const Graph& g) {
  validate(g);
  std::vector<std::pair<std::string, RawTensor>> tensors;
  for (const ConvSpec& c : g.convs) {
    const std::vector<uint8_t> codes = pack_codes(c);
    tensors.emplace_back(c.name + ".codes", raw("U8", codes, {static_cast<int64_t>(codes.size())}));
    tensors.emplace_back(c.name + ".levels", raw("I8", c.levels, {static_cast<int64_t>(c.levels.size())}));
    tensors.emplace_back(c.name + ".out_scale", raw("F32", c.out_scale, {c.cout}));
    tensors.emplace_back(c.name + ".bias", raw("F32", c.bias, {c.cout}));
    if (!c.shift.empty()) tensors.emplace_back(c.name + ".shift", raw("I8", c.shift, {c.cin, 2}));
    if (!c.input_map.empty()) tensors.emplace_back(c.name + ".input_map", raw("U8", c.input_map, {256}));
  }
  std::map<std::string, std::string> metadata = g.metadata;
  metadata["format"] = kFormat;
  metadata["version"] = kVersion;
  metadata["graph"] = graph_json(g).dump();
  write_file(path, tensors, metadata);
}

Graph load_model(const std::string& path) {
  const Parsed p = read_file(path);
  auto version = p.metadata.find("version");
  SL_CHECK(version != p.metadata.end() && version->second == kVersion,
           "{}: deploy model version {} is not supported (this shiftlab reads version {})", path,
           version == p.metadata.end() ? "?" : version->second, kVersion);
  SL_CHECK(p.metadata.count("graph"), "{}: no \"graph\" metadata", path);
  Graph g;
  try {
    g = graph_from(p, path);
    validate(g);
  } catch (const Error& e) {
    std::string what = e.what();
    if (what.rfind(path, 0) == 0) throw;
    fail("{}: {}", path, what);
  }
  return g;
}

}  // namespace sl::deploy
