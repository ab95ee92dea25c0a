// Helpers of the layer / model / optimizer tests: reference files under test/data and tensor
// comparisons with a tolerance.
#pragma once
#include <algorithm>
#include <cmath>
#include <map>
#include <string>

#include "engine/npy.h"
#include "helpers.h"
#include "layers/module.h"

namespace sl::test {

inline std::string data_path(const std::string& rel) { return std::string(SHIFTLAB_TEST_DATA) + "/" + rel; }
inline Tensor load_data(const std::string& rel) { return load_npy(data_path(rel)); }

// Checks |got - want| <= atol + rtol * |want| elementwise (shapes must match), reporting the worst element.
inline void check_close(const Tensor& got, const Tensor& want, double atol, double rtol = 0) {
  REQUIRE(shape_str(got.shape()) == shape_str(want.shape()));
  std::vector<double> g = got.detach().to_vector<double>(), w = want.to_vector<double>();
  double worst = 0;
  size_t at = 0;
  size_t bad = 0;
  for (size_t i = 0; i < g.size(); ++i) {
    double err = std::abs(g[i] - w[i]);
    if (!(err <= atol + rtol * std::abs(w[i]))) ++bad;
    if (!(err <= worst)) {
      worst = err;
      at = i;
    }
  }
  INFO("worst element " << at << ": got " << (g.empty() ? 0 : g[at]) << " want " << (w.empty() ? 0 : w[at])
                        << " (|diff| " << worst << "); " << bad << " of " << g.size()
                        << " elements outside the tolerance");
  CHECK(bad == 0);
}

inline std::map<std::string, Tensor> to_map(const NamedTensors& named) {
  return std::map<std::string, Tensor>(named.begin(), named.end());
}

inline bool has_name(const NamedTensors& named, const std::string& name) {
  return std::any_of(named.begin(), named.end(), [&](const auto& kv) { return kv.first == name; });
}

// gen_models.py's fill_values and make_input, in the same integer and double arithmetic.
inline uint32_t fnv1a(const std::string& s) {
  uint32_t h = 2166136261u;
  for (unsigned char c : s) h = (h ^ c) * 16777619u;
  return h;
}

inline double weyl(int64_t i, uint32_t offset) {  // ((i + 1) * 2654435761 + offset) mod 2^32 / 2^32
  uint32_t u = static_cast<uint32_t>(i + 1) * 2654435761u + offset;
  return static_cast<double>(u) / 4294967296.0;
}

inline Tensor fill_values(const std::string& name, const Shape& shape) {
  int64_t n = shape_numel(shape);
  uint32_t h = fnv1a(name);
  auto ends = [&](const std::string& s) {
    return name.size() >= s.size() && name.compare(name.size() - s.size(), s.size(), s) == 0;
  };
  std::vector<float> v(static_cast<size_t>(n));
  double amp = shape.size() >= 2 ? std::sqrt(2.0 / static_cast<double>(n / shape[0])) : 0;
  for (int64_t i = 0; i < n; ++i) {
    double b = 2 * weyl(i, h) - 1, x;
    if (ends("running_var"))
      x = 1 + 0.25 * (b + 1);
    else if (ends("running_mean"))
      x = 0.1 * b;
    else if (shape.size() >= 2)
      x = b * amp;
    else if (ends("weight"))
      x = 1 + 0.1 * b;
    else
      x = 0.1 * b;
    v[static_cast<size_t>(i)] = static_cast<float>(x);
  }
  return from_vector(v, shape.empty() ? Shape{} : shape);
}

inline Tensor make_input(const Shape& shape) {
  int64_t n = shape_numel(shape);
  std::vector<float> v(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    uint32_t u = static_cast<uint32_t>(i + 1) * 2654435761u;
    v[static_cast<size_t>(i)] = static_cast<float>(static_cast<double>(u) / 2147483648.0 - 1);
  }
  return from_vector(v, shape);
}

// Every float state-dict entry set to fill_values (integer buffers kept).
inline void load_deterministic(Module& m) {
  std::map<std::string, Tensor> state;
  for (const auto& kv : m.state_dict())
    state[kv.first] = kv.second.dtype() == DType::i64 ? kv.second : fill_values(kv.first, kv.second.shape());
  m.load_state_dict(state);
}

}  // namespace sl::test
