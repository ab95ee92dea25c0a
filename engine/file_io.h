// Whole-file reads with clear errors, and atomic writes (temp file in the same directory, fsync,
// rename, fsync of the directory) so a crash never leaves a torn file behind.
#pragma once
#include <string>
#include <vector>

namespace sl {

// Reads a regular file whole. Anything else (a FIFO, a device, a directory) is refused without
// blocking: "cannot read '<path>': not a regular file".
std::vector<char> read_file(const std::string& path);
// True when path (symlinks followed) is a regular file.
bool is_regular_file(const std::string& path);
// Writes `<path>.tmp.<pid>`, then renames it over path. First removes the temp files earlier
// writers of the same path left behind when they were killed (their pid no longer exists).
void write_file_atomic(const std::string& path, const std::string& bytes);
void write_file_atomic(const std::string& path, const char* data, size_t size);
// Removes `<path>.tmp.<pid>` files whose process is gone; returns how many.
int remove_stale_temp_files(const std::string& path);

}  // namespace sl
