#pragma once

#include <array>
#include <optional>
#include <string>

#include "op4d/io/import.h"

namespace op4d::internal {

// A 3D (z,y,x) or 4D (t,z,y,x) volume dataset in an HDF5 file (DXchange, NeXus, or named).
class Hdf5TomoSource : public FrameSource {
 public:
  Hdf5TomoSource(std::string path, InputFormat format, std::string dataset, std::optional<Vec3> spacing_override);
  std::int64_t frame_count() const override { return frames_; }
  AnyVolume ReadFrame(std::int64_t k) const override;
  std::string Describe() const override { return describe_; }

 private:
  std::string path_, dataset_, describe_;
  std::int64_t frames_ = 1;
  std::array<std::int64_t, 3> file_dims_{};
  std::array<int, 3> perm_{0, 1, 2};  // file dim d → ZYX axis perm_[d]
  DataType dtype_ = DataType::kFloat32;
  Geometry geometry_;
};

}  // namespace op4d::internal
