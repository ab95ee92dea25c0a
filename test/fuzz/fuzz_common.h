// Shared by the libFuzzer targets: a parser error is an sl::Error naming the input, anything else
// escaping (another exception, a crash, a sanitizer report, a leak, a timeout) is a finding.
#pragma once
#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <string>

#include "engine/error.h"

namespace sl::fuzz {

// The input as a file the path-based readers can open (gzopen, ifstream): an in-memory file
// (memfd), reached through /proc/self/fd, so fuzzing does no disk I/O.
class MemFile {
 public:
  MemFile(const uint8_t* data, size_t size) : fd_(::memfd_create("fuzz", MFD_CLOEXEC)) {
    if (fd_ < 0) std::abort();
    size_t done = 0;
    while (done < size) {
      ssize_t n = ::write(fd_, data + done, size - done);
      if (n <= 0) std::abort();
      done += static_cast<size_t>(n);
    }
    path_ = "/proc/self/fd/" + std::to_string(fd_);
  }
  ~MemFile() { ::close(fd_); }
  MemFile(const MemFile&) = delete;
  MemFile& operator=(const MemFile&) = delete;
  const std::string& path() const { return path_; }

 private:
  int fd_;
  std::string path_;
};

// A finding: libFuzzer keeps the input when the process aborts; the unit tests that replay the
// corpus (test/test_fuzz_corpus.cpp, SHIFTLAB_FUZZ_REPLAY) get an exception that fails the test.
[[noreturn]] inline void finding(const char* what, const char* message) {
#ifdef SHIFTLAB_FUZZ_REPLAY
  throw std::logic_error(std::string(what) + ": " + message);
#else
  std::fprintf(stderr, "%s: %s\n", what, message);
  std::abort();
#endif
}

// Runs f; an sl::Error must name the input (`name`), every other exception aborts (a finding).
template <class F>
void expect_clean(const std::string& name, F&& f) {
  try {
    f();
  } catch (const Error& e) {
    if (std::string(e.what()).find(name) == std::string::npos) finding("the error does not name the input", e.what());
  }
}

}  // namespace sl::fuzz
