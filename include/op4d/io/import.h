// Importers for what beamlines deliver. Every reader returns volumes in ZYX order with spacing in µm
// and throws IoError naming the file (and page/dataset) at fault.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "op4d/core/volume.h"

namespace op4d {

enum class InputFormat {
  kAuto,       // from the path: directory → TIFF slices, .tif/.tiff → TIFF stack, .raw → raw, .h5/.hdf5/.nxs → HDF5
  kTiffStack,  // one multi-page TIFF, one page per z slice (ImageJ stacks, BigTIFF)
  kTiffSlices, // a directory of single-page TIFFs, one per z slice, in natural name order
  kRaw,        // headerless or fixed-header binary (RawSpec)
  kItk,        // MetaImage (.mha/.mhd), NRRD (.nrrd/.nhdr), NIfTI (.nii/.nii.gz) through ITK
  kDxchange,   // HDF5 with /exchange/data (3D, or 4D t,z,y,x)
  kNexus,      // NeXus NXtomoproc-style reconstruction: the NXdata signal of the first NXentry
};
const char* ToString(InputFormat f);
InputFormat InputFormatFromString(const std::string& s);  // throws ConfigError

// Layout of a raw binary file.
struct RawSpec {
  Index3 shape{0, 0, 0};            // voxels along z, y, x
  DataType dtype = DataType::kUInt16;
  bool big_endian = false;
  std::uint64_t header_bytes = 0;  // bytes to skip before the data
  bool IsValid(std::string* why) const;
};

struct ImportOptions {
  InputFormat format = InputFormat::kAuto;
  std::optional<Vec3> spacing_um;  // overrides what the file says (z, y, x in µm)
  RawSpec raw;                     // for kRaw
  std::string dataset;             // HDF5 dataset path; empty = the format's default
};

// One input path may hold several frames (a 4D HDF5 dataset) or one.
class FrameSource {
 public:
  virtual ~FrameSource() = default;
  virtual std::int64_t frame_count() const = 0;
  virtual AnyVolume ReadFrame(std::int64_t k) const = 0;
  // What was read and how (format, dataset, conversions, where the spacing came from).
  virtual std::string Describe() const = 0;
};

std::unique_ptr<FrameSource> OpenInput(const std::string& path, const ImportOptions& options);
InputFormat DetectFormat(const std::string& path);

// Individual readers (OpenInput dispatches to these).
AnyVolume ReadTiffStack(const std::string& path, std::string* notes = nullptr);
AnyVolume ReadTiffSlices(const std::string& directory, std::string* notes = nullptr);
AnyVolume ReadRaw(const std::string& path, const RawSpec& spec);
AnyVolume ReadItkImage(const std::string& path, std::string* notes = nullptr);

}  // namespace op4d
