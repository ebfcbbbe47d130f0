// TIFF stacks and slice folders through libtiff (BigTIFF, strips and tiles, any libtiff compression).
#include <dirent.h>
#include <sys/stat.h>
#include <tiffio.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstring>
#include <sstream>

#include "op4d/core/error.h"
#include "op4d/io/export.h"
#include "op4d/io/import.h"

namespace op4d {
namespace {

thread_local std::string g_tiff_error;

void TiffErrorHandler(const char* module, const char* fmt, va_list ap) {
  char buf[512];
  std::vsnprintf(buf, sizeof buf, fmt, ap);
  g_tiff_error = buf;
}

struct Tiff {
  TIFF* t = nullptr;
  Tiff(const std::string& path, const char* mode) {
    TIFFSetErrorHandler(TiffErrorHandler);
    TIFFSetWarningHandler(nullptr);
    g_tiff_error.clear();
    t = TIFFOpen(path.c_str(), mode);
  }
  ~Tiff() {
    if (t) TIFFClose(t);
  }
};

// A TIFF open for reading, with the size of its first page; IoError naming the file if unreadable.
struct TiffReader : Tiff {
  std::uint32_t w = 0, h = 0;
  explicit TiffReader(const std::string& path) : Tiff(path, "r") {
    if (!t) throw IoError(path, "", "is not a readable TIFF file" + (g_tiff_error.empty() ? "" : ": " + g_tiff_error));
    TIFFGetField(t, TIFFTAG_IMAGEWIDTH, &w);
    TIFFGetField(t, TIFFTAG_IMAGELENGTH, &h);
  }
};

// Voxel type of a page, and whether it must be converted to float32.
struct PageType {
  DataType stored = DataType::kUInt8;  // what we return
  uint16_t bits = 8;
  uint16_t format = SAMPLEFORMAT_UINT;
};

PageType TypeOfPage(TIFF* t, const std::string& path, const std::string& page) {
  uint16_t bits = 1, format = SAMPLEFORMAT_UINT, spp = 1;
  TIFFGetFieldDefaulted(t, TIFFTAG_BITSPERSAMPLE, &bits);
  TIFFGetFieldDefaulted(t, TIFFTAG_SAMPLEFORMAT, &format);
  TIFFGetFieldDefaulted(t, TIFFTAG_SAMPLESPERPIXEL, &spp);
  if (spp != 1) throw IoError(path, page, "has " + std::to_string(spp) + " samples per pixel; a grey-level image is needed");
  PageType p{DataType::kFloat32, bits, format};
  if (format == SAMPLEFORMAT_UINT && bits == 8) p.stored = DataType::kUInt8;
  else if (format == SAMPLEFORMAT_UINT && bits == 16) p.stored = DataType::kUInt16;
  else if (format == SAMPLEFORMAT_IEEEFP && bits == 32) p.stored = DataType::kFloat32;
  else if ((format == SAMPLEFORMAT_INT && (bits == 8 || bits == 16 || bits == 32)) ||
           (format == SAMPLEFORMAT_UINT && bits == 32) || (format == SAMPLEFORMAT_IEEEFP && bits == 64))
    p.stored = DataType::kFloat32;  // converted
  else
    throw IoError(path, page, "has an unsupported sample type (" + std::to_string(bits) + " bits, format " +
                                  std::to_string(format) + ")");
  return p;
}

template <class Src>
float AsFloat(const std::uint8_t* p) {
  Src v;
  std::memcpy(&v, p, sizeof v);
  return static_cast<float>(v);
}

// Copies one decoded row of `n` samples of type `pt` into slice memory of the stored type.
void StoreRow(const PageType& pt, const std::uint8_t* src, std::size_t n, void* dst) {
  const std::size_t bs = pt.bits / 8;
  if ((pt.stored == DataType::kUInt8 && pt.bits == 8 && pt.format == SAMPLEFORMAT_UINT) ||
      (pt.stored == DataType::kUInt16 && pt.bits == 16) ||
      (pt.stored == DataType::kFloat32 && pt.bits == 32 && pt.format == SAMPLEFORMAT_IEEEFP)) {
    std::memcpy(dst, src, n * bs);
    return;
  }
  float* out = static_cast<float*>(dst);
  for (std::size_t i = 0; i < n; ++i) {
    const std::uint8_t* p = src + i * bs;
    if (pt.format == SAMPLEFORMAT_INT) out[i] = pt.bits == 8 ? AsFloat<int8_t>(p) : pt.bits == 16 ? AsFloat<int16_t>(p) : AsFloat<int32_t>(p);
    else if (pt.format == SAMPLEFORMAT_UINT) out[i] = AsFloat<uint32_t>(p);
    else out[i] = AsFloat<double>(p);
  }
}

// Reads the current directory (page) of t into `dst` (width*height samples of pt.stored).
void ReadPage(TIFF* t, const std::string& path, const std::string& page, const PageType& pt, std::uint32_t w,
              std::uint32_t h, std::uint8_t* dst) {
  const std::size_t out_bs = ByteSize(pt.stored), in_bs = pt.bits / 8;
  auto fail = [&](const std::string& what) {
    throw IoError(path, page, what + (g_tiff_error.empty() ? "" : ": " + g_tiff_error));
  };
  uint16_t planar = PLANARCONFIG_CONTIG;
  TIFFGetFieldDefaulted(t, TIFFTAG_PLANARCONFIG, &planar);
  if (TIFFIsTiled(t)) {
    std::uint32_t tw = 0, th = 0;
    TIFFGetField(t, TIFFTAG_TILEWIDTH, &tw);
    TIFFGetField(t, TIFFTAG_TILELENGTH, &th);
    std::vector<std::uint8_t> tile(TIFFTileSize(t));
    for (std::uint32_t y0 = 0; y0 < h; y0 += th)
      for (std::uint32_t x0 = 0; x0 < w; x0 += tw) {
        if (TIFFReadTile(t, tile.data(), x0, y0, 0, 0) < 0) fail("truncated or unreadable tile");
        const std::uint32_t nx = std::min(tw, w - x0);
        for (std::uint32_t y = y0; y < std::min(h, y0 + th); ++y)
          StoreRow(pt, tile.data() + std::size_t(y - y0) * tw * in_bs, nx, dst + (std::size_t(y) * w + x0) * out_bs);
      }
    return;
  }
  std::uint32_t rps = h;
  TIFFGetFieldDefaulted(t, TIFFTAG_ROWSPERSTRIP, &rps);
  rps = std::min(rps, h);
  std::vector<std::uint8_t> strip(TIFFStripSize(t));
  const tstrip_t nstrips = TIFFNumberOfStrips(t);
  for (tstrip_t s = 0; s < nstrips; ++s) {
    const std::uint32_t y0 = s * rps;
    if (y0 >= h) break;
    const std::uint32_t rows = std::min(rps, h - y0);
    const tmsize_t want = tmsize_t(rows) * w * in_bs;
    const tmsize_t got = TIFFReadEncodedStrip(t, s, strip.data(), want);
    if (got < want) fail("truncated or unreadable strip " + std::to_string(s));
    for (std::uint32_t r = 0; r < rows; ++r)
      StoreRow(pt, strip.data() + std::size_t(r) * w * in_bs, w, dst + std::size_t(y0 + r) * w * out_bs);
  }
}

double UnitToUm(const std::string& unit) {
  std::string u;
  for (char c : unit) u += char(std::tolower(static_cast<unsigned char>(c)));
  if (u == "micron" || u == "um" || u == "\xc2\xb5m" || u == "\\u00b5m" || u == "micrometer" || u == "micrometre") return 1.0;
  if (u == "nm" || u == "nanometer" || u == "nanometre") return 1e-3;
  if (u == "mm" || u == "millimeter" || u == "millimetre") return 1e3;
  if (u == "m" || u == "meter" || u == "metre") return 1e6;
  return 0.0;  // unknown
}

// Spacing from ImageJ metadata (ImageDescription spacing=/unit=, X/YResolution), if stated.
bool ImageJSpacing(TIFF* t, Vec3* spacing) {
  char* desc = nullptr;
  if (!TIFFGetField(t, TIFFTAG_IMAGEDESCRIPTION, &desc) || !desc) return false;
  std::string d(desc);
  if (d.find("ImageJ=") == std::string::npos) return false;
  std::istringstream is(d);
  std::string line, unit;
  double z = 0;
  while (std::getline(is, line)) {
    // op4d writes the exact spacing too (TIFF resolutions are rationals of limited precision).
    double ez, ey, ex;
    if (line.rfind("op4d_spacing_um=", 0) == 0 && std::sscanf(line.c_str() + 16, "%lf,%lf,%lf", &ez, &ey, &ex) == 3) {
      *spacing = {ez, ey, ex};
      return true;
    }
    if (line.rfind("unit=", 0) == 0) unit = line.substr(5);
    if (line.rfind("spacing=", 0) == 0) z = std::atof(line.c_str() + 8);
  }
  const double scale = UnitToUm(unit);
  float xres = 0, yres = 0;
  if (scale == 0 || !TIFFGetField(t, TIFFTAG_XRESOLUTION, &xres) || !TIFFGetField(t, TIFFTAG_YRESOLUTION, &yres) ||
      xres <= 0 || yres <= 0)
    return false;
  const double dx = scale / xres, dy = scale / yres;
  *spacing = {z > 0 ? z * scale : dx, dy, dx};
  return true;
}

// Natural order: "slice_2" before "slice_10".
bool NaturalLess(const std::string& a, const std::string& b) {
  std::size_t i = 0, j = 0;
  while (i < a.size() && j < b.size()) {
    if (std::isdigit(static_cast<unsigned char>(a[i])) && std::isdigit(static_cast<unsigned char>(b[j]))) {
      std::size_t i2 = i, j2 = j;
      while (i2 < a.size() && std::isdigit(static_cast<unsigned char>(a[i2]))) ++i2;
      while (j2 < b.size() && std::isdigit(static_cast<unsigned char>(b[j2]))) ++j2;
      const std::string na = a.substr(i, i2 - i), nb = b.substr(j, j2 - j);
      const std::string ta = na.substr(std::min(na.find_first_not_of('0'), na.size()));
      const std::string tb = nb.substr(std::min(nb.find_first_not_of('0'), nb.size()));
      if (ta.size() != tb.size()) return ta.size() < tb.size();
      if (ta != tb) return ta < tb;
      i = i2;
      j = j2;
    } else {
      if (a[i] != b[j]) return a[i] < b[j];
      ++i;
      ++j;
    }
  }
  return a.size() - i < b.size() - j;
}

bool HasTiffExtension(const std::string& name) {
  std::string lower;
  for (char c : name) lower += char(std::tolower(static_cast<unsigned char>(c)));
  auto ends = [&](const char* e) { const std::size_t n = std::strlen(e); return lower.size() > n && lower.compare(lower.size() - n, n, e) == 0; };
  return ends(".tif") || ends(".tiff");
}

}  // namespace

AnyVolume ReadTiffStack(const std::string& path, std::string* notes) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) throw IoError(path, "", "does not exist");
  TiffReader tif(path);
  const std::uint32_t w = tif.w, h = tif.h;
  const PageType pt = TypeOfPage(tif.t, path, "page 0");
  Geometry g;
  Vec3 sp;
  const bool has_spacing = ImageJSpacing(tif.t, &sp);
  if (has_spacing) g.spacing_um = sp;
  // Count pages first (a truncated chain shows up as an error while reading).
  std::int64_t pages = 0;
  do {
    ++pages;
  } while (TIFFReadDirectory(tif.t));
  // The chain of pages ended with an error, not with a last page: the file is truncated or corrupt.
  // Refuse it rather than return a shorter stack.
  if (!g_tiff_error.empty())
    throw IoError(path, "page " + std::to_string(pages), "truncated or corrupt TIFF (" + std::to_string(pages) +
                                                             " readable pages): " + g_tiff_error);
  g.shape = {pages, std::int64_t(h), std::int64_t(w)};
  AnyVolume out = MakeVolume(pt.stored, g);
  std::uint8_t* dst = static_cast<std::uint8_t*>(RawData(out));
  const std::size_t slice = std::size_t(w) * h * ByteSize(pt.stored);
  for (std::int64_t z = 0; z < pages; ++z) {
    const std::string page = "page " + std::to_string(z);
    if (!TIFFSetDirectory(tif.t, tdir_t(z))) throw IoError(path, page, "cannot be read: " + g_tiff_error);
    std::uint32_t wz = 0, hz = 0;
    TIFFGetField(tif.t, TIFFTAG_IMAGEWIDTH, &wz);
    TIFFGetField(tif.t, TIFFTAG_IMAGELENGTH, &hz);
    const PageType pz = TypeOfPage(tif.t, path, page);
    if (wz != w || hz != h || pz.bits != pt.bits || pz.format != pt.format)
      throw IoError(path, page, "differs in size or type from page 0 (" + std::to_string(wz) + "x" + std::to_string(hz) +
                                    " vs " + std::to_string(w) + "x" + std::to_string(h) + ")");
    ReadPage(tif.t, path, page, pt, w, h, dst + slice * std::size_t(z));
  }
  if (notes) {
    *notes = "TIFF stack, " + std::to_string(pages) + " pages";
    if (pt.stored == DataType::kFloat32 && !(pt.bits == 32 && pt.format == SAMPLEFORMAT_IEEEFP))
      *notes += ", samples converted to float32";
    *notes += has_spacing ? ", spacing from ImageJ metadata" : ", no spacing in the file";
  }
  return out;
}

AnyVolume ReadTiffSlices(const std::string& directory, std::string* notes) {
  DIR* d = opendir(directory.c_str());
  if (!d) throw IoError(directory, "", "is not a readable directory");
  std::vector<std::string> names;
  while (dirent* e = readdir(d))
    if (HasTiffExtension(e->d_name)) names.push_back(e->d_name);
  closedir(d);
  if (names.empty()) throw IoError(directory, "", "contains no .tif/.tiff files");
  std::sort(names.begin(), names.end(), NaturalLess);
  AnyVolume out;
  std::uint8_t* dst = nullptr;
  std::size_t slice = 0;
  Geometry g;
  for (std::size_t z = 0; z < names.size(); ++z) {
    const std::string file = directory + "/" + names[z];
    TiffReader tif(file);
    const std::uint32_t w = tif.w, h = tif.h;
    const PageType pt = TypeOfPage(tif.t, file, "page 0");
    if (z == 0) {
      g.shape = {std::int64_t(names.size()), std::int64_t(h), std::int64_t(w)};
      Vec3 sp;
      if (ImageJSpacing(tif.t, &sp)) g.spacing_um = sp;
      out = MakeVolume(pt.stored, g);
      dst = static_cast<std::uint8_t*>(RawData(out));
      slice = std::size_t(w) * h * ByteSize(pt.stored);
    } else if (std::int64_t(w) != g.shape[2] || std::int64_t(h) != g.shape[1] || pt.stored != TypeOf(out)) {
      throw IoError(file, "", "differs in size or type from the first slice " + names[0]);
    }
    ReadPage(tif.t, file, "page 0", pt, w, h, dst + slice * z);
  }
  if (notes) *notes = "TIFF slices, " + std::to_string(names.size()) + " files from " + names.front() + " to " + names.back();
  return out;
}

void WriteTiffStack(const std::string& path, ConstVolumeView v) {
  const Geometry& g = v.geometry();
  const DataType t = v.dtype();
  const std::size_t bytes = std::size_t(g.voxel_count()) * ByteSize(t);
  Tiff tif(path, bytes > (std::size_t(1) << 31) ? "w8" : "w");
  if (!tif.t) throw IoError(path, "", "cannot create TIFF file" + (g_tiff_error.empty() ? "" : ": " + g_tiff_error));
  const std::uint8_t* src = static_cast<const std::uint8_t*>(v.data());
  const std::size_t slice = std::size_t(g.shape[1] * g.shape[2]) * ByteSize(t);
  char desc[512];
  std::snprintf(desc, sizeof desc,
                "ImageJ=1.11a\nimages=%lld\nslices=%lld\nunit=micron\nspacing=%.17g\nloop=false\n"
                "op4d_spacing_um=%.17g,%.17g,%.17g\n",
                static_cast<long long>(g.shape[0]), static_cast<long long>(g.shape[0]), g.spacing_um[0],
                g.spacing_um[0], g.spacing_um[1], g.spacing_um[2]);
  for (std::int64_t z = 0; z < g.shape[0]; ++z) {
    TIFFSetField(tif.t, TIFFTAG_IMAGEWIDTH, std::uint32_t(g.shape[2]));
    TIFFSetField(tif.t, TIFFTAG_IMAGELENGTH, std::uint32_t(g.shape[1]));
    TIFFSetField(tif.t, TIFFTAG_BITSPERSAMPLE, std::uint16_t(8 * ByteSize(t)));
    TIFFSetField(tif.t, TIFFTAG_SAMPLEFORMAT, t == DataType::kFloat32 ? SAMPLEFORMAT_IEEEFP : SAMPLEFORMAT_UINT);
    TIFFSetField(tif.t, TIFFTAG_SAMPLESPERPIXEL, std::uint16_t(1));
    TIFFSetField(tif.t, TIFFTAG_PHOTOMETRIC, PHOTOMETRIC_MINISBLACK);
    TIFFSetField(tif.t, TIFFTAG_PLANARCONFIG, PLANARCONFIG_CONTIG);
    TIFFSetField(tif.t, TIFFTAG_ROWSPERSTRIP, std::uint32_t(g.shape[1]));
    TIFFSetField(tif.t, TIFFTAG_XRESOLUTION, float(1.0 / g.spacing_um[2]));
    TIFFSetField(tif.t, TIFFTAG_YRESOLUTION, float(1.0 / g.spacing_um[1]));
    TIFFSetField(tif.t, TIFFTAG_RESOLUTIONUNIT, RESUNIT_NONE);
    if (z == 0) TIFFSetField(tif.t, TIFFTAG_IMAGEDESCRIPTION, desc);
    if (TIFFWriteEncodedStrip(tif.t, 0, const_cast<std::uint8_t*>(src + slice * std::size_t(z)), tmsize_t(slice)) < 0 ||
        !TIFFWriteDirectory(tif.t))
      throw IoError(path, "page " + std::to_string(z), "cannot write" + (g_tiff_error.empty() ? "" : ": " + g_tiff_error));
  }
}

}  // namespace op4d
