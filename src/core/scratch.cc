#include "op4d/core/scratch.h"

#include <fcntl.h>
#include <sys/types.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "op4d/core/error.h"

namespace op4d {

ScratchFile::ScratchFile(const std::string& dir, const std::string& what) : what_(what) {
  const std::string templ = (dir.empty() ? std::string("/tmp") : dir) + "/op4d-scratch-XXXXXX";
  std::vector<char> name(templ.begin(), templ.end());
  name.push_back('\0');
  fd_ = ::mkstemp(name.data());
  if (fd_ < 0) throw IoError(templ, "scratch file", "cannot create the scratch file for " + what_ + ": " + std::strerror(errno));
  ::unlink(name.data());
  path_ = name.data();
}

ScratchFile::~ScratchFile() {
  if (fd_ >= 0) ::close(fd_);
}

void ScratchFile::Write(const void* p, std::size_t bytes, std::int64_t offset) {
  const char* c = static_cast<const char*>(p);
  while (bytes > 0) {
    const ssize_t n = ::pwrite(fd_, c, bytes, off_t(offset));
    if (n <= 0) throw IoError(path_, "scratch file", "writing " + what_ + ": " + std::strerror(errno));
    c += n, bytes -= std::size_t(n), offset += n;
  }
}

void ScratchFile::Read(void* p, std::size_t bytes, std::int64_t offset) const {
  char* c = static_cast<char*>(p);
  while (bytes > 0) {
    const ssize_t n = ::pread(fd_, c, bytes, off_t(offset));
    if (n <= 0) throw IoError(path_, "scratch file", "reading " + what_ + ": " + (n == 0 ? std::string("truncated") : std::strerror(errno)));
    c += n, bytes -= std::size_t(n), offset += n;
  }
}

}  // namespace op4d
