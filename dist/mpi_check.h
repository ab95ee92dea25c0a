// One error for a failed MPI call, with MPI's own text (the files of dist/ that call MPI).
#pragma once
#include <mpi.h>

#include <string>

#include "engine/error.h"

namespace sl::dist {

inline void check_mpi(int code, const char* what) {
  if (code == MPI_SUCCESS) return;
  char text[MPI_MAX_ERROR_STRING];
  int len = 0;
  MPI_Error_string(code, text, &len);
  fail("MPI {} failed: {}", what, std::string(text, static_cast<size_t>(len)));
}

}  // namespace sl::dist
