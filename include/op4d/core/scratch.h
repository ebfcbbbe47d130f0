// A scratch file for block-wise kernels: intermediate frame-sized data (squared distances, denoised
// grey values, labels) kept on disk instead of in memory. Created in a directory, unlinked at once
// (nothing is left behind if the process dies), read and written by byte offset.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace op4d {

class ScratchFile {
 public:
  // IoError naming the directory when the file cannot be created. `what` names the data in errors.
  ScratchFile(const std::string& dir, const std::string& what);
  ~ScratchFile();
  ScratchFile(const ScratchFile&) = delete;
  ScratchFile& operator=(const ScratchFile&) = delete;
  void Write(const void* p, std::size_t bytes, std::int64_t offset);
  // IoError ("truncated") when fewer bytes are there than asked for.
  void Read(void* p, std::size_t bytes, std::int64_t offset) const;

 private:
  int fd_ = -1;
  std::string path_, what_;
};

}  // namespace op4d
