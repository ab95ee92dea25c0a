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

}  // namespace sl::test
