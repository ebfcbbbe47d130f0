#include <sys/stat.h>

#include <algorithm>
#include <cstring>
#include <fstream>

#include "op4d/core/error.h"
#include "op4d/io/import.h"

namespace op4d {

bool RawSpec::IsValid(std::string* why) const {
  for (int a = 0; a < 3; ++a)
    if (shape[a] <= 0) {
      if (why) *why = "raw shape must be three positive sizes (z y x)";
      return false;
    }
  return true;
}

AnyVolume ReadRaw(const std::string& path, const RawSpec& spec) {
  std::string why;
  if (!spec.IsValid(&why)) throw ConfigError("--shape", why);
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) throw IoError(path, "", "does not exist");
  Geometry g;
  g.shape = spec.shape;
  const std::uint64_t want = std::uint64_t(g.voxel_count()) * ByteSize(spec.dtype);
  const std::uint64_t have = std::uint64_t(st.st_size);
  if (have != spec.header_bytes + want)
    throw IoError(path, "", "size is " + std::to_string(have) + " bytes but shape " + std::to_string(spec.shape[0]) +
                                "x" + std::to_string(spec.shape[1]) + "x" + std::to_string(spec.shape[2]) + " of " +
                                ToString(spec.dtype) + " with a " + std::to_string(spec.header_bytes) +
                                "-byte header needs " + std::to_string(spec.header_bytes + want));
  AnyVolume out = MakeVolume(spec.dtype, g);
  std::ifstream in(path, std::ios::binary);
  in.seekg(std::streamoff(spec.header_bytes));
  if (!in.read(static_cast<char*>(RawData(out)), std::streamsize(want))) throw IoError(path, "", "read failed");
  const std::size_t bs = ByteSize(spec.dtype);
  if (spec.big_endian && bs > 1) {
    std::uint8_t* p = static_cast<std::uint8_t*>(RawData(out));
    for (std::uint64_t i = 0; i < want; i += bs) std::reverse(p + i, p + i + bs);
  }
  return out;
}

}  // namespace op4d
