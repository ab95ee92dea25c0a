#include "backends/cpu/denormals.h"

#include <tbb/task_scheduler_observer.h>

#include <cstdint>

#if defined(__x86_64__) || defined(__i386__)
#include <xmmintrin.h>
#endif

namespace sl::cpu {

void flush_denormals_on_this_thread() {
#if defined(__x86_64__) || defined(__i386__)
  _mm_setcsr(_mm_getcsr() | 0x8040u);  // bit 15: flush results to zero; bit 6: read inputs as zero
#elif defined(__aarch64__)
  uint64_t fpcr;
  __asm__ __volatile__("mrs %0, fpcr" : "=r"(fpcr));
  __asm__ __volatile__("msr fpcr, %0" : : "r"(fpcr | (uint64_t{1} << 24)));
#endif
}

namespace {

class FlushDenormalsObserver : public tbb::task_scheduler_observer {
 public:
  FlushDenormalsObserver() { observe(true); }
  void on_scheduler_entry(bool) override { flush_denormals_on_this_thread(); }
};

}  // namespace

void flush_denormals_in_kernel_threads() {
  flush_denormals_on_this_thread();
  static FlushDenormalsObserver observer;  // lives for the whole process
}

}  // namespace sl::cpu
