// Flush-to-zero and denormals-are-zero for every thread that runs CPU kernels. Subnormal floats
// (below 1.2e-38) take a slow microcode path on x86, 10-100x per operation; training produces them
// in vanishing gradients and optimizer moments, where their value does not matter.
#pragma once

namespace sl::cpu {

// Sets FTZ/DAZ (x86 MXCSR) or FZ (AArch64 FPCR) on the calling thread.
void flush_denormals_on_this_thread();

// The calling thread now, and every oneTBB worker thread when it joins the calling thread's arena
// (a task_scheduler_observer). Idempotent.
void flush_denormals_in_kernel_threads();

}  // namespace sl::cpu
