#include "op4d/io/import.h"

#include <sys/stat.h>

#include <cctype>
#include <functional>

#include "hdf5_tomo.h"
#include "op4d/core/error.h"

namespace op4d {
namespace {

std::string LowerExt(const std::string& path) {
  std::string p;
  for (char c : path) p += char(std::tolower(static_cast<unsigned char>(c)));
  if (p.size() > 7 && p.compare(p.size() - 7, 7, ".nii.gz") == 0) return ".nii.gz";
  const auto dot = p.find_last_of('.');
  const auto slash = p.find_last_of('/');
  if (dot == std::string::npos || (slash != std::string::npos && dot < slash)) return "";
  return p.substr(dot);
}

// A file holding exactly one 3D volume, read on demand.
class SingleVolumeSource : public FrameSource {
 public:
  SingleVolumeSource(std::function<AnyVolume(std::string*)> read, std::optional<Vec3> spacing)
      : read_(std::move(read)), spacing_(spacing) {}
  std::int64_t frame_count() const override { return 1; }
  AnyVolume ReadFrame(std::int64_t k) const override {
    if (k != 0) throw InvalidArgument("a single-volume input has only frame 0");
    AnyVolume v = read_(&describe_);
    if (spacing_) {
      Geometry g = GeometryOf(v);
      g.spacing_um = *spacing_;
      SetGeometry(v, g);
      describe_ += ", spacing given";
    }
    return v;
  }
  std::string Describe() const override { return describe_; }

 private:
  std::function<AnyVolume(std::string*)> read_;
  std::optional<Vec3> spacing_;
  mutable std::string describe_;
};

}  // namespace

const char* ToString(InputFormat f) {
  switch (f) {
    case InputFormat::kAuto: return "auto";
    case InputFormat::kTiffStack: return "tiff";
    case InputFormat::kTiffSlices: return "tiff-slices";
    case InputFormat::kRaw: return "raw";
    case InputFormat::kItk: return "itk";
    case InputFormat::kDxchange: return "dxchange";
    case InputFormat::kNexus: return "nexus";
  }
  return "auto";
}

InputFormat InputFormatFromString(const std::string& s) {
  for (InputFormat f : {InputFormat::kAuto, InputFormat::kTiffStack, InputFormat::kTiffSlices, InputFormat::kRaw,
                        InputFormat::kItk, InputFormat::kDxchange, InputFormat::kNexus})
    if (s == ToString(f)) return f;
  throw ConfigError("--format", "'" + s + "' is not one of auto, tiff, tiff-slices, raw, itk, dxchange, nexus");
}

InputFormat DetectFormat(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) throw IoError(path, "", "does not exist");
  if (S_ISDIR(st.st_mode)) return InputFormat::kTiffSlices;
  const std::string ext = LowerExt(path);
  if (ext == ".tif" || ext == ".tiff") return InputFormat::kTiffStack;
  if (ext == ".raw" || ext == ".bin" || ext == ".vol") return InputFormat::kRaw;
  if (ext == ".mha" || ext == ".mhd" || ext == ".nrrd" || ext == ".nhdr" || ext == ".nii" || ext == ".nii.gz")
    return InputFormat::kItk;
  if (ext == ".h5" || ext == ".hdf5" || ext == ".hdf" || ext == ".nxs" || ext == ".nx5") return InputFormat::kAuto;
  throw IoError(path, "", "format not recognised from the name '" + ext +
                              "' (give --format tiff|tiff-slices|raw|itk|dxchange|nexus)");
}

std::unique_ptr<FrameSource> OpenInput(const std::string& path, const ImportOptions& options) {
  InputFormat f = options.format;
  bool hdf5_auto = false;
  if (f == InputFormat::kAuto) {
    f = DetectFormat(path);
    hdf5_auto = f == InputFormat::kAuto;
  }
  const auto sp = options.spacing_um;
  if (hdf5_auto || f == InputFormat::kDxchange || f == InputFormat::kNexus)
    return std::make_unique<internal::Hdf5TomoSource>(path, hdf5_auto ? InputFormat::kAuto : f, options.dataset, sp);
  switch (f) {
    case InputFormat::kTiffStack:
      return std::make_unique<SingleVolumeSource>([path](std::string* n) { return ReadTiffStack(path, n); }, sp);
    case InputFormat::kTiffSlices:
      return std::make_unique<SingleVolumeSource>([path](std::string* n) { return ReadTiffSlices(path, n); }, sp);
    case InputFormat::kItk:
      return std::make_unique<SingleVolumeSource>([path](std::string* n) { return ReadItkImage(path, n); }, sp);
    case InputFormat::kRaw: {
      const RawSpec raw = options.raw;
      return std::make_unique<SingleVolumeSource>(
          [path, raw](std::string* n) {
            *n = std::string("raw ") + ToString(raw.dtype) + (raw.big_endian ? " big-endian" : " little-endian");
            return ReadRaw(path, raw);
          },
          sp);
    }
    default: break;
  }
  throw ConfigError("--format", "cannot read format " + std::string(ToString(f)));
}

}  // namespace op4d
