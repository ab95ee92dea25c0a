// The optimizers' update loops, compiled per SIMD target: plain loops over the per-element rules of
// backends/optim_rules.h (shared with the CUDA kernels). std::fma is exactly rounded everywhere: on
// targets with FMA (AVX2, AVX-512, NEON) it is one instruction, and the compiler vectorises what it
// can; without (SSE4, scalar) it is the C library's correctly rounded fma. Either way every target
// computes the same bits.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "backends/cpu/simd/optim_kernels.cpp"
#include <hwy/foreach_target.h>  // IWYU pragma: keep
#include <hwy/highway.h>

#include "backends/cpu/simd/kernels.h"
#include "backends/optim_rules.h"

HWY_BEFORE_NAMESPACE();
namespace sl::cpu::HWY_NAMESPACE {

namespace {

template <class T>
void SgdStepRange(const SgdStep& s, T* HWY_RESTRICT p, const T* HWY_RESTRICT g, T* HWY_RESTRICT b, int64_t n) {
  const optim_rules::Sgd<T> update(s);
  if (b)
    for (int64_t i = 0; i < n; ++i) update(p[i], g[i], b[i]);
  else
    for (int64_t i = 0; i < n; ++i) update(p[i], g[i]);
}

template <class T>
void AdamStepRange(const AdamStep& s, T* HWY_RESTRICT p, const T* HWY_RESTRICT g, T* HWY_RESTRICT m,
                   T* HWY_RESTRICT v, T* HWY_RESTRICT vmax, int64_t n) {
  const optim_rules::Adam<T> update(s);
  if (vmax)
    for (int64_t i = 0; i < n; ++i) update(p[i], g[i], m[i], v[i], vmax[i]);
  else
    for (int64_t i = 0; i < n; ++i) update(p[i], g[i], m[i], v[i]);
}

template <class T>
void RAdamStepRange(const RAdamStep& s, T* HWY_RESTRICT p, const T* HWY_RESTRICT g, T* HWY_RESTRICT m,
                    T* HWY_RESTRICT v, T* HWY_RESTRICT slow, int64_t n) {
  const optim_rules::RAdam<T> update(s);
  if (slow)
    for (int64_t i = 0; i < n; ++i) update(p[i], g[i], m[i], v[i], slow[i]);
  else
    for (int64_t i = 0; i < n; ++i) update(p[i], g[i], m[i], v[i]);
}

template <class T>
void FillTyped(TypedKernels<T>& t) {
  t.sgd_step = SgdStepRange<T>;
  t.adam_step = AdamStepRange<T>;
  t.radam_step = RAdamStepRange<T>;
}

}  // namespace

void FillOptimKernels(SimdKernels* k) {
  FillTyped(k->f32);
  FillTyped(k->f64);
}

}  // namespace sl::cpu::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace sl::cpu {
HWY_EXPORT(FillOptimKernels);
void fill_optim_kernels(SimdKernels& k) { HWY_DYNAMIC_DISPATCH(FillOptimKernels)(&k); }
}  // namespace sl::cpu
#endif
