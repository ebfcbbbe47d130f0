#include "op4d/io/export.h"

#include <cctype>
#include <cstdio>
#include <fstream>

#include "op4d/core/error.h"
#include "../h5/h5.h"

namespace op4d {
namespace {

std::string Lower(const std::string& s) {
  std::string o;
  for (char c : s) o += char(std::tolower(static_cast<unsigned char>(c)));
  return o;
}
bool EndsWith(const std::string& s, const std::string& e) {
  return s.size() >= e.size() && s.compare(s.size() - e.size(), e.size(), e) == 0;
}
const char* VtkType(DataType t) {
  switch (t) {
    case DataType::kUInt8: return "UInt8";
    case DataType::kUInt16: return "UInt16";
    case DataType::kFloat32: return "Float32";
  }
  return "UInt8";
}

}  // namespace

void WriteVolume(const std::string& path, ConstVolumeView v, const std::string& name) {
  const std::string p = Lower(path);
  if (EndsWith(p, ".tif") || EndsWith(p, ".tiff")) return WriteTiffStack(path, v);
  if (EndsWith(p, ".vti")) return WriteVti(path, v, name);
  if (EndsWith(p, ".mha") || EndsWith(p, ".mhd") || EndsWith(p, ".nrrd") || EndsWith(p, ".nhdr") ||
      EndsWith(p, ".nii") || EndsWith(p, ".nii.gz"))
    return WriteItkImage(path, v);
  if (EndsWith(p, ".raw")) {
    std::ofstream out(path, std::ios::binary);
    const Geometry& g = v.geometry();
    if (!out.write(static_cast<const char*>(v.data()), std::streamsize(g.voxel_count() * std::int64_t(ByteSize(v.dtype())))))
      throw IoError(path, "", "cannot write");
    return;
  }
  throw IoError(path, "", "unknown output format (use .tif, .mha, .nrrd, .nii, .nii.gz, .vti or .raw)");
}

// VTK XML ImageData with raw appended data: ParaView opens it directly. VTK's point order
// (x fastest, then y, then z) is op4d's memory order, so the bytes go out as they are.
void WriteVti(const std::string& path, ConstVolumeView v, const std::string& name) {
  const Geometry& g = v.geometry();
  std::ofstream out(path, std::ios::binary);
  if (!out) throw IoError(path, "", "cannot create file");
  const std::uint64_t bytes = std::uint64_t(g.voxel_count()) * ByteSize(v.dtype());
  char head[1024];
  std::snprintf(head, sizeof head,
                "<?xml version=\"1.0\"?>\n"
                "<VTKFile type=\"ImageData\" version=\"1.0\" byte_order=\"LittleEndian\" header_type=\"UInt64\">\n"
                "  <ImageData WholeExtent=\"0 %lld 0 %lld 0 %lld\" Origin=\"%.17g %.17g %.17g\" Spacing=\"%.17g %.17g %.17g\">\n"
                "    <Piece Extent=\"0 %lld 0 %lld 0 %lld\">\n"
                "      <PointData Scalars=\"%s\">\n"
                "        <DataArray type=\"%s\" Name=\"%s\" format=\"appended\" offset=\"0\"/>\n"
                "      </PointData>\n"
                "    </Piece>\n"
                "  </ImageData>\n"
                "  <AppendedData encoding=\"raw\">\n_",
                static_cast<long long>(g.shape[2] - 1), static_cast<long long>(g.shape[1] - 1),
                static_cast<long long>(g.shape[0] - 1), g.origin_um[2], g.origin_um[1], g.origin_um[0], g.spacing_um[2],
                g.spacing_um[1], g.spacing_um[0], static_cast<long long>(g.shape[2] - 1),
                static_cast<long long>(g.shape[1] - 1), static_cast<long long>(g.shape[0] - 1), name.c_str(),
                VtkType(v.dtype()), name.c_str());
  out << head;
  out.write(reinterpret_cast<const char*>(&bytes), sizeof bytes);
  out.write(static_cast<const char*>(v.data()), std::streamsize(bytes));
  out << "\n  </AppendedData>\n</VTKFile>\n";
  if (!out) throw IoError(path, "", "write failed");
}

void WriteCsv(const std::string& path, const ResultTable& table) {
  std::ofstream out(path);
  if (!out) throw IoError(path, "", "cannot create file");
  for (std::size_t c = 0; c < table.columns.size(); ++c)
    out << (c ? "," : "") << table.columns[c].name << " [" << table.columns[c].unit << "]";
  out << '\n';
  char buf[40];
  for (std::size_t r = 0; r < table.rows(); ++r) {
    for (std::size_t c = 0; c < table.columns.size(); ++c) {
      std::snprintf(buf, sizeof buf, "%.17g", table.columns[c].values[r]);
      out << (c ? "," : "") << buf;
    }
    out << '\n';
  }
  if (!out) throw IoError(path, "", "write failed");
}

}  // namespace op4d

namespace op4d {
namespace {

void CheckArrays(const std::string& path, const std::vector<NamedArray>& arrays, std::size_t rows, const char* what) {
  for (const NamedArray& a : arrays)
    if (a.rows != std::int64_t(rows) || (a.cols != 1 && a.cols != 3) || a.values.size() != std::size_t(a.rows * a.cols))
      throw InvalidArgument(path + ": " + what + " array '" + a.name + "' has " + std::to_string(a.rows) + " x " +
                            std::to_string(a.cols) + " values (" + std::to_string(a.values.size()) + " given), expected " +
                            std::to_string(rows) + " x 1 or x 3");
}

void WriteVtpArrays(std::ostream& out, const std::vector<NamedArray>& arrays) {
  char buf[40];
  for (const NamedArray& a : arrays) {
    out << "        <DataArray type=\"" << (a.integer ? "Int64" : "Float64") << "\" Name=\"" << a.name;
    if (!a.unit.empty() && a.unit != "1") out << " [" << a.unit << "]";
    out << "\" NumberOfComponents=\"" << a.cols << "\" format=\"ascii\">\n         ";
    for (std::int64_t r = 0; r < a.rows; ++r)
      for (std::int64_t c = 0; c < a.cols; ++c) {
        // 3-component arrays are (z, y, x) in op4d; VTK vectors are (x, y, z).
        const double v = a.values[std::size_t(r * a.cols + (a.cols == 3 ? 2 - c : c))];
        std::snprintf(buf, sizeof buf, " %.17g", v);
        out << buf;
      }
    out << "\n        </DataArray>\n";
  }
}

}  // namespace

void WriteVtp(const std::string& path, const PolyData& d) {
  CheckArrays(path, d.point_data, d.points.size(), "point");
  CheckArrays(path, d.cell_data, d.lines.size(), "line");
  for (std::size_t l = 0; l < d.lines.size(); ++l) {
    if (d.lines[l].size() < 2) throw InvalidArgument(path + ": line " + std::to_string(l) + " has fewer than 2 points");
    for (std::int64_t p : d.lines[l])
      if (p < 0 || p >= std::int64_t(d.points.size()))
        throw InvalidArgument(path + ": line " + std::to_string(l) + " refers to point " + std::to_string(p) + " of " +
                              std::to_string(d.points.size()));
  }
  std::ofstream out(path);
  if (!out) throw IoError(path, "", "cannot create file");
  out << "<?xml version=\"1.0\"?>\n"
         "<VTKFile type=\"PolyData\" version=\"1.0\" byte_order=\"LittleEndian\" header_type=\"UInt64\">\n"
         "  <PolyData>\n"
      << "    <Piece NumberOfPoints=\"" << d.points.size() << "\" NumberOfVerts=\"0\" NumberOfLines=\"" << d.lines.size()
      << "\" NumberOfStrips=\"0\" NumberOfPolys=\"0\">\n"
         "      <Points>\n"
         "        <DataArray type=\"Float64\" Name=\"position [um]\" NumberOfComponents=\"3\" format=\"ascii\">\n         ";
  char buf[80];
  for (const Vec3& p : d.points) {
    std::snprintf(buf, sizeof buf, " %.17g %.17g %.17g", p[2], p[1], p[0]);
    out << buf;
  }
  out << "\n        </DataArray>\n      </Points>\n      <PointData>\n";
  WriteVtpArrays(out, d.point_data);
  out << "      </PointData>\n      <CellData>\n";
  WriteVtpArrays(out, d.cell_data);
  out << "      </CellData>\n      <Lines>\n        <DataArray type=\"Int64\" Name=\"connectivity\" format=\"ascii\">\n         ";
  for (const auto& line : d.lines)
    for (std::int64_t p : line) out << ' ' << p;
  out << "\n        </DataArray>\n        <DataArray type=\"Int64\" Name=\"offsets\" format=\"ascii\">\n         ";
  std::int64_t offset = 0;
  for (const auto& line : d.lines) out << ' ' << (offset += std::int64_t(line.size()));
  out << "\n        </DataArray>\n      </Lines>\n    </Piece>\n  </PolyData>\n</VTKFile>\n";
  if (!out) throw IoError(path, "", "write failed");
}

void WriteNamedArraysHdf5(const std::string& path, const std::vector<NamedArray>& arrays,
                          const std::vector<std::pair<std::string, std::string>>& root_attributes) {
  namespace h5 = internal::h5;
  h5::SilenceErrors();
  for (const NamedArray& a : arrays)
    if (a.rows < 0 || a.cols < 1 || a.values.size() != std::size_t(a.rows * a.cols))
      throw InvalidArgument(path + ": array '" + a.name + "' has " + std::to_string(a.values.size()) + " values for " +
                            std::to_string(a.rows) + " x " + std::to_string(a.cols));
  // Written beside the target and renamed into place: a failed write leaves no partial file.
  const std::string tmp = path + ".partial";
  {
    h5::Id file(H5Fcreate(tmp.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT));
    if (!file.valid()) throw IoError(path, "", "cannot create HDF5 file (" + h5::LastError() + ")");
    for (const auto& [key, value] : root_attributes) h5::WriteStringAttr(file, key, value);
    h5::Id boolean(H5Tenum_create(H5T_NATIVE_INT8));  // h5py's bool: enum {FALSE = 0, TRUE = 1}
    const std::int8_t no = 0, yes = 1;
    H5Tenum_insert(boolean, "FALSE", &no);
    H5Tenum_insert(boolean, "TRUE", &yes);
    for (const NamedArray& a : arrays) {
      const hsize_t dims[2] = {hsize_t(a.rows), hsize_t(a.cols)};
      h5::Id space(H5Screate_simple(a.cols == 1 ? 1 : 2, dims, nullptr));
      const hid_t type = a.boolean ? hid_t(boolean) : a.integer ? H5T_STD_I64LE : H5T_IEEE_F64LE;
      h5::Id ds(H5Dcreate2(file, a.name.c_str(), type, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT));
      herr_t status = ds.valid() ? 0 : -1;
      if (ds.valid() && !a.values.empty()) {
        if (a.boolean) {
          std::vector<std::int8_t> v(a.values.size());
          for (std::size_t k = 0; k < v.size(); ++k) v[k] = a.values[k] != 0;
          status = H5Dwrite(ds, boolean, H5S_ALL, H5S_ALL, H5P_DEFAULT, v.data());
        } else if (a.integer) {
          std::vector<long long> v(a.values.begin(), a.values.end());
          status = H5Dwrite(ds, H5T_NATIVE_LLONG, H5S_ALL, H5S_ALL, H5P_DEFAULT, v.data());
        } else {
          status = H5Dwrite(ds, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, a.values.data());
        }
      }
      if (status < 0) {
        std::remove(tmp.c_str());
        throw IoError(path, a.name, "cannot write dataset (HDF5: " + h5::LastError() + ")");
      }
      h5::WriteStringAttr(ds, "unit", a.unit);
    }
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    std::remove(tmp.c_str());
    throw IoError(path, "", "cannot move the finished file into place");
  }
}

}  // namespace op4d
