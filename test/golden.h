// Loading the golden vectors produced by the original implementations (test/data/golden/).
#pragma once
#include "engine/npy.h"
#include "helpers.h"

namespace sl::test {

// `name` is "<folder>/<file stem>", e.g. "deepshift/q_w".
inline Tensor golden(const std::string& name) { return load_npy(golden_path(name + ".npy")); }

// A golden tensor as a fresh leaf with requires_grad set.
inline Tensor golden_param(const std::string& name) {
  Tensor t = golden(name).clone();
  t.requires_grad_();
  return t;
}

}  // namespace sl::test
