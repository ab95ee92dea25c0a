// Whole-file reads with clear errors, and atomic writes (temp file in the same directory, fsync,
// rename, fsync of the directory) so a crash never leaves a torn file behind.
#pragma once
#include <string>
#include <vector>

namespace sl {

std::vector<char> read_file(const std::string& path);
void write_file_atomic(const std::string& path, const std::string& bytes);
void write_file_atomic(const std::string& path, const char* data, size_t size);

}  // namespace sl
