#include "op4d/io/export.h"

#include <cctype>
#include <cstdio>
#include <fstream>

#include "op4d/core/error.h"

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
