// Reconstructed volumes in HDF5: DXchange (/exchange/data) and NeXus NXtomoproc-style NXdata.
#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstring>

#include "../h5/h5.h"
#include "hdf5_tomo.h"
#include "op4d/core/error.h"

namespace op4d::internal {

namespace h5 = internal::h5;
using h5::Id;

namespace {

std::string Lower(std::string s) {
  for (char& c : s) c = char(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

double UnitScaleToUm(const std::string& unit) {
  const std::string u = Lower(unit);
  if (u == "m" || u == "meter" || u == "metre") return 1e6;
  if (u == "mm" || u == "millimeter" || u == "millimetre") return 1e3;
  if (u == "um" || u == "micron" || u == "microns" || u == "micrometer" || u == "micrometre" || u == "\xc2\xb5m") return 1.0;
  if (u == "nm" || u == "nanometer" || u == "nanometre") return 1e-3;
  return 0.0;
}

Id OpenFile(const std::string& path) {
  h5::SilenceErrors();
  if (!h5::IsHdf5(path)) throw IoError(path, "", "is not an HDF5 file");
  Id fapl(H5Pcreate(H5P_FILE_ACCESS));
  H5Pset_file_locking(fapl, 0, 1);
  Id f(H5Fopen(path.c_str(), H5F_ACC_RDONLY, fapl));
  if (!f.valid()) h5::Fail(path, "", "cannot open");
  return f;
}

std::string NxClass(hid_t loc, const std::string& name) {
  Id obj(H5Oopen(loc, name.c_str(), H5P_DEFAULT));
  if (!obj.valid()) return "";
  const auto v = h5::ReadStringsAttr(obj, "NX_class");
  return v.empty() ? "" : v[0];
}

// Finds the NXdata signal dataset of the first NXentry (honouring "default" attributes).
std::string FindNexusSignal(hid_t file, const std::string& path, std::vector<std::string>* axes) {
  Id root(H5Gopen2(file, "/", H5P_DEFAULT));
  std::string entry;
  const auto def = h5::ReadStringsAttr(root, "default");
  if (!def.empty() && NxClass(root, def[0]) == "NXentry") entry = "/" + def[0];
  for (const std::string& c : h5::ListChildren(root))
    if (entry.empty() && NxClass(root, c) == "NXentry") entry = "/" + c;
  if (entry.empty()) throw IoError(path, "/", "has no NXentry group (not a NeXus file); name the dataset explicitly");
  Id eg(H5Gopen2(file, entry.c_str(), H5P_DEFAULT));
  std::string data;
  const auto edef = h5::ReadStringsAttr(eg, "default");
  if (!edef.empty() && NxClass(eg, edef[0]) == "NXdata") data = entry + "/" + edef[0];
  for (const std::string& c : h5::ListChildren(eg))
    if (data.empty() && NxClass(eg, c) == "NXdata") data = entry + "/" + c;
  if (data.empty()) throw IoError(path, entry, "has no NXdata group");
  Id dg(H5Gopen2(file, data.c_str(), H5P_DEFAULT));
  std::string signal;
  const auto sig = h5::ReadStringsAttr(dg, "signal");
  if (!sig.empty()) signal = sig[0];
  if (signal.empty()) {  // NeXus v2 style: a dataset with attribute signal=1
    for (const std::string& c : h5::ListChildren(dg)) {
      Id ds(H5Dopen2(dg, c.c_str(), H5P_DEFAULT));
      if (ds.valid() && H5Aexists(ds, "signal") > 0) signal = c;
    }
    H5Eclear2(H5E_DEFAULT);
  }
  if (signal.empty()) throw IoError(path, data, "NXdata group names no signal dataset");
  *axes = h5::ReadStringsAttr(dg, "axes");
  if (axes->size() == 1 && axes->front().find(':') != std::string::npos) {  // "z:y:x" form
    std::string s = axes->front();
    axes->clear();
    std::size_t p = 0, q;
    while ((q = s.find(':', p)) != std::string::npos) {
      axes->push_back(s.substr(p, q - p));
      p = q + 1;
    }
    axes->push_back(s.substr(p));
  }
  return data + "/" + signal;
}

}  // namespace

Hdf5TomoSource::Hdf5TomoSource(std::string path, InputFormat format, std::string dataset,
                               std::optional<Vec3> spacing_override)
    : path_(std::move(path)) {
  Id f = OpenFile(path_);
  std::vector<std::string> axes;
  if (format == InputFormat::kAuto) {
    if (!dataset.empty()) format = InputFormat::kDxchange;  // an explicit dataset: read it as is
    else if (h5::Exists(f, "/exchange/data")) format = InputFormat::kDxchange;
    else format = InputFormat::kNexus;
  }
  if (format == InputFormat::kNexus && dataset.empty()) {
    dataset_ = FindNexusSignal(f, path_, &axes);
    describe_ = "NeXus signal " + dataset_;
  } else {
    dataset_ = dataset.empty() ? "/exchange/data" : dataset;
    describe_ = (dataset.empty() ? "DXchange " : "HDF5 ") + dataset_;
  }
  if (!h5::Exists(f, dataset_)) throw IoError(path_, dataset_, "missing dataset");
  Id ds(H5Dopen2(f, dataset_.c_str(), H5P_DEFAULT));
  if (!ds.valid()) h5::Fail(path_, dataset_, "cannot open dataset");
  const auto dims = h5::Dims(ds);
  if (dims.size() != 3 && dims.size() != 4)
    throw IoError(path_, dataset_, "has rank " + std::to_string(dims.size()) + "; a 3D (z,y,x) or 4D (t,z,y,x) volume is needed");
  if (axes.empty()) {
    const auto a = h5::ReadStringsAttr(ds, "axes");  // DXchange: "theta:y:x" or "z:y:x"
    if (!a.empty()) {
      std::string s = a[0];
      std::size_t p = 0, q;
      while ((q = s.find(':', p)) != std::string::npos) {
        axes.push_back(s.substr(p, q - p));
        p = q + 1;
      }
      axes.push_back(s.substr(p));
      if (a.size() > 1) axes = a;
    }
  }
  for (const std::string& a : axes)
    if (Lower(a) == "theta" || Lower(a) == "rotation_angle")
      throw IoError(path_, dataset_, "holds projections (axes include '" + a + "'), not a reconstructed volume");
  frames_ = dims.size() == 4 ? std::int64_t(dims[0]) : 1;
  const std::size_t off = dims.size() == 4 ? 1 : 0;
  for (int d = 0; d < 3; ++d) file_dims_[d] = std::int64_t(dims[off + d]);
  // Axis order: map named axes x/y/z to ZYX; otherwise the data is taken as (z, y, x).
  perm_ = {0, 1, 2};
  std::vector<std::string> spatial(axes.begin() + std::min(axes.size(), std::size_t(axes.size() == dims.size() ? off : 0)), axes.end());
  bool named = spatial.size() == 3;
  if (named) {
    for (int d = 0; d < 3; ++d) {
      const std::string a = Lower(spatial[d]);
      if (a == "z") perm_[d] = 0;
      else if (a == "y") perm_[d] = 1;
      else if (a == "x") perm_[d] = 2;
      else named = false;
    }
    if (named && (perm_[0] + perm_[1] + perm_[2] != 3 || perm_[0] == perm_[1] || perm_[1] == perm_[2] || perm_[0] == perm_[2])) named = false;
    if (!named) perm_ = {0, 1, 2};
  }
  describe_ += named ? ", axes " + spatial[0] + "," + spatial[1] + "," + spatial[2] : ", axes taken as z,y,x";
  // Type.
  Id type(H5Dget_type(ds));
  if (H5Tequal(type, H5T_STD_U8LE) > 0 || H5Tequal(type, H5T_STD_U8BE) > 0) dtype_ = DataType::kUInt8;
  else if (H5Tequal(type, H5T_STD_U16LE) > 0 || H5Tequal(type, H5T_STD_U16BE) > 0) dtype_ = DataType::kUInt16;
  else if (H5Tget_class(type) == H5T_INTEGER || H5Tget_class(type) == H5T_FLOAT) {
    dtype_ = DataType::kFloat32;
    if (!(H5Tget_class(type) == H5T_FLOAT && H5Tget_size(type) == 4)) describe_ += ", converted to float32";
  } else {
    throw IoError(path_, dataset_, "is not a numeric dataset");
  }
  // Spacing: the user's, else the NXdata axis coordinates, else DXchange's detector pixel size.
  geometry_.shape = {0, 0, 0};
  for (int d = 0; d < 3; ++d) geometry_.shape[perm_[d]] = file_dims_[d];
  std::string spacing_from;
  if (spacing_override) {
    geometry_.spacing_um = *spacing_override;
    spacing_from = "given";
  } else if (named) {
    const std::string group = dataset_.substr(0, dataset_.find_last_of('/'));
    bool all = true;
    for (int d = 0; d < 3; ++d) {
      const std::string ap = group + "/" + spatial[d];
      if (!h5::Exists(f, ap)) {
        all = false;
        break;
      }
      Id ad(H5Dopen2(f, ap.c_str(), H5P_DEFAULT));
      const auto v = h5::ReadDoubles1D(ad);
      const auto units = h5::ReadStringsAttr(ad, "units");
      const double scale = units.empty() ? 0.0 : UnitScaleToUm(units[0]);
      if (v.size() < 2 || scale == 0.0) {
        all = false;
        break;
      }
      geometry_.spacing_um[perm_[d]] = std::abs(v[1] - v[0]) * scale;
      geometry_.origin_um[perm_[d]] = v[0] * scale;
    }
    if (all) spacing_from = "NXdata axes";
  }
  if (spacing_from.empty()) {
    const std::string px = "/measurement/instrument/detector/actual_pixel_size_x";
    if (h5::Exists(f, px)) {
      Id pd(H5Dopen2(f, px.c_str(), H5P_DEFAULT));
      const auto v = h5::ReadDoubles1D(pd);
      const auto units = h5::ReadStringsAttr(pd, "units");
      const double scale = units.empty() ? 1.0 : UnitScaleToUm(units[0]);
      if (!v.empty() && v[0] > 0 && scale > 0) {
        geometry_.spacing_um = {v[0] * scale, v[0] * scale, v[0] * scale};
        spacing_from = "detector pixel size (isotropic)";
      }
    }
  }
  describe_ += spacing_from.empty() ? ", no spacing in the file (1 um assumed; give --spacing)" : ", spacing from " + spacing_from;
}

AnyVolume Hdf5TomoSource::ReadFrame(std::int64_t k) const {
  if (k < 0 || k >= frames_) throw IoError(path_, dataset_, "has no frame " + std::to_string(k));
  Id f = OpenFile(path_);
  Id ds(H5Dopen2(f, dataset_.c_str(), H5P_DEFAULT));
  Id fs(H5Dget_space(ds));
  const int rank = H5Sget_simple_extent_ndims(fs);
  std::vector<hsize_t> start(rank, 0), count(rank, 1);
  const int off = rank - 3;
  if (off == 1) start[0] = hsize_t(k);
  for (int d = 0; d < 3; ++d) count[off + d] = hsize_t(file_dims_[d]);
  H5Sselect_hyperslab(fs, H5S_SELECT_SET, start.data(), nullptr, count.data(), nullptr);
  const hsize_t mdims[3] = {hsize_t(file_dims_[0]), hsize_t(file_dims_[1]), hsize_t(file_dims_[2])};
  Id ms(H5Screate_simple(3, mdims, nullptr));
  const hid_t mtype = dtype_ == DataType::kUInt8 ? H5T_NATIVE_UINT8 : dtype_ == DataType::kUInt16 ? H5T_NATIVE_UINT16 : H5T_NATIVE_FLOAT;
  AnyVolume out = MakeVolume(dtype_, geometry_);
  const bool identity = perm_ == std::array<int, 3>{0, 1, 2};
  std::vector<std::uint8_t> tmp;
  void* dst = RawData(out);
  const std::size_t bs = ByteSize(dtype_);
  if (!identity) {
    tmp.resize(std::size_t(geometry_.voxel_count()) * bs);
    dst = tmp.data();
  }
  if (H5Dread(ds, mtype, ms, fs, H5P_DEFAULT, dst) < 0) h5::Fail(path_, dataset_, "cannot read frame " + std::to_string(k));
  if (!identity) {
    std::uint8_t* o = static_cast<std::uint8_t*>(RawData(out));
    const Index3 s = geometry_.shape;
    std::int64_t i[3];
    for (i[0] = 0; i[0] < file_dims_[0]; ++i[0])
      for (i[1] = 0; i[1] < file_dims_[1]; ++i[1])
        for (i[2] = 0; i[2] < file_dims_[2]; ++i[2]) {
          Index3 zyx;
          for (int d = 0; d < 3; ++d) zyx[perm_[d]] = i[d];
          const std::size_t src = std::size_t((i[0] * file_dims_[1] + i[1]) * file_dims_[2] + i[2]);
          const std::size_t di = std::size_t((zyx[0] * s[1] + zyx[1]) * s[2] + zyx[2]);
          std::memcpy(o + di * bs, tmp.data() + src * bs, bs);
        }
  }
  return out;
}

}  // namespace op4d::internal
