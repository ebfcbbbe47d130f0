#include "op4d/frame/geometry/surface_area.h"

#include <tbb/parallel_for.h>

#include <array>
#include <algorithm>
#include <cmath>
#include <numeric>

#include "op4d/core/error.h"
#include "op4d/frame/geometry/contacts.h"
#include "op4d/core/filter.h"

namespace op4d {
namespace {

using P3 = std::array<double, 3>;

double TriangleArea(const P3& a, const P3& b, const P3& c) {
  const P3 u{b[0] - a[0], b[1] - a[1], b[2] - a[2]}, v{c[0] - a[0], c[1] - a[1], c[2] - a[2]};
  const double x = u[1] * v[2] - u[2] * v[1], y = u[2] * v[0] - u[0] * v[2], z = u[0] * v[1] - u[1] * v[0];
  return 0.5 * std::sqrt(x * x + y * y + z * z);
}

// The six Kuhn tetrahedra of a cube: corners as bit sets (bit 0 = +x, bit 1 = +y, bit 2 = +z), each
// the path 0 -> e_p0 -> e_p0 + e_p1 -> 7 for one permutation (p0, p1, p2) of the axes.
constexpr std::array<std::array<int, 4>, 6> kTets{{
    {0, 1, 3, 7}, {0, 1, 5, 7}, {0, 2, 3, 7}, {0, 2, 6, 7}, {0, 4, 5, 7}, {0, 4, 6, 7},
}};

// The iso-surface inside one tetrahedron: calls emit(v, out) for each of its triangles (none, one or
// two), with v the three vertices (µm) and out[k] the tetrahedron corner on the outside (value <= iso)
// of the edge vertex k lies on.
template <class Emit>
void TetTriangles(const P3* p, const float* f, float iso, Emit&& emit) {
  int in[4], out[4], ni = 0, no = 0;
  for (int i = 0; i < 4; ++i) {
    if (f[i] > iso) in[ni++] = i;
    else out[no++] = i;
  }
  if (ni == 0 || no == 0) return;
  auto cut = [&](int a, int b) {
    const double t = (double(iso) - f[a]) / (double(f[b]) - f[a]);
    return P3{p[a][0] + t * (p[b][0] - p[a][0]), p[a][1] + t * (p[b][1] - p[a][1]), p[a][2] + t * (p[b][2] - p[a][2])};
  };
  if (ni == 1) {
    const P3 v[3] = {cut(in[0], out[0]), cut(in[0], out[1]), cut(in[0], out[2])};
    const int o[3] = {out[0], out[1], out[2]};
    emit(v, o);
  } else if (no == 1) {
    const P3 v[3] = {cut(out[0], in[0]), cut(out[0], in[1]), cut(out[0], in[2])};
    const int o[3] = {out[0], out[0], out[0]};
    emit(v, o);
  } else {  // two in, two out: the quadrilateral a-c, a-d, b-d, b-c
    const P3 ac = cut(in[0], out[0]), ad = cut(in[0], out[1]), bd = cut(in[1], out[1]), bc = cut(in[1], out[0]);
    const P3 v1[3] = {ac, ad, bd}, v2[3] = {ac, bd, bc};
    const int o1[3] = {out[0], out[1], out[1]}, o2[3] = {out[0], out[1], out[0]};
    emit(v1, o1);
    emit(v2, o2);
  }
}

// value(voxel) as float, smoothed by sigma_vox voxels along every axis.
template <class F>
Volume<float> Smoothed(const Volume<std::uint8_t>& v, F value, double sigma_vox, ThreadBudget threads) {
  Volume<float> f(v.geometry());
  for (std::int64_t i = 0; i < v.size(); ++i) f[i] = value(v[i]);
  GaussianSmooth(f.data(), f.shape(), {sigma_vox, sigma_vox, sigma_vox}, threads);
  return f;
}

Volume<float> SmoothedIndicator(const Volume<std::uint8_t>& mask, double sigma_vox, ThreadBudget threads) {
  return Smoothed(mask, [](std::uint8_t m) { return m ? 1.0f : 0.0f; }, sigma_vox, threads);
}

}  // namespace

bool SurfaceAreaOptions::IsValid(std::string* why) const {
  if (!(smoothing_sigma_vox > 0) || !std::isfinite(smoothing_sigma_vox) || !(probability_sigma_vox > 0) ||
      !std::isfinite(probability_sigma_vox)) {
    if (why) *why = "smoothing_sigma_vox and probability_sigma_vox must be > 0";
    return false;
  }
  return true;
}


namespace internal {
// Calls emit(acc, v, corner_voxel) for every triangle of the iso-surface, with acc the accumulator of
// its z-slab of cubes, v its vertices (µm) and corner_voxel[k] the linear index of the voxel on the
// outside of the edge vertex k lies on. Returns the per-slab accumulators in slab order.
//
// A block of the frame: the field holds planes [field_z0, field_z0 + field.nz()) of a frame of
// frame_nz planes, and only the cube slices cube_begin .. cube_end - 1 (of -1 .. frame_nz - 1) are
// visited; those need planes max(cube_begin, 0) .. min(cube_end, frame_nz - 1) in the field.
// Vertices are in frame coordinates; corner voxels are linear indices into the field.
struct CubeRange {
  std::int64_t field_z0 = 0, frame_nz = -1;  // frame_nz -1: the field is the whole frame
  std::int64_t cube_begin = -1, cube_end = -1;  // cube_end -1: through frame_nz - 1
};
template <class Acc, class Emit>
std::vector<Acc> IsoTriangles(const Volume<float>& field, float iso, ThreadBudget threads, const Acc& zero, Emit&& emit,
                              CubeRange range = {}) {
  Index3 n = field.shape();
  if (n[0] < 1 || n[1] < 1 || n[2] < 1) return {};
  const std::int64_t fz0 = range.field_z0;
  if (range.frame_nz >= 0) n[0] = range.frame_nz;
  const std::int64_t c_begin = range.cube_begin, c_end = range.cube_end >= 0 ? range.cube_end : n[0];
  const Vec3 s = field.spacing_um();
  // Cubes between voxel centres, plus half-width cubes between the outermost centres and the faces of
  // the field of view (values replicated outward), so a surface meeting the border ends on it.
  // Cube index c along an axis spans centres c and c + 1, c = -1 .. n - 1; coordinates in µm.
  auto coord = [&](int a, std::int64_t i) {
    if (i < 0) return -0.5 * s[a];
    if (i >= n[a]) return (double(n[a]) - 0.5) * s[a];
    return double(i) * s[a];
  };
  auto clampi = [&](int a, std::int64_t i) { return std::min(std::max<std::int64_t>(i, 0), n[a] - 1); };
  std::vector<Acc> per_slice(std::size_t(std::max<std::int64_t>(c_end - c_begin, 0)), zero);
  RunInArena(threads, [&] {
    tbb::parallel_for(c_begin, c_end, [&](std::int64_t z) {
      Acc& acc = per_slice[std::size_t(z - c_begin)];
      const std::int64_t z0 = clampi(0, z) - fz0, z1 = clampi(0, z + 1) - fz0;
      const double cz0 = coord(0, z), cz1 = coord(0, z + 1);
      for (std::int64_t y = -1; y < n[1]; ++y) {
        const std::int64_t y0 = clampi(1, y), y1 = clampi(1, y + 1);
        const double cy0 = coord(1, y), cy1 = coord(1, y + 1);
        const std::int64_t row[4] = {(z0 * n[1] + y0) * n[2], (z0 * n[1] + y1) * n[2], (z1 * n[1] + y0) * n[2],
                                     (z1 * n[1] + y1) * n[2]};
        const float* r[4] = {field.data() + row[0], field.data() + row[1], field.data() + row[2], field.data() + row[3]};
        for (std::int64_t x = -1; x < n[2]; ++x) {
          const std::int64_t x0 = clampi(2, x), x1 = clampi(2, x + 1);
          // Corner c: bit 0 = +x, bit 1 = +y, bit 2 = +z.
          const float f[8] = {r[0][x0], r[0][x1], r[1][x0], r[1][x1], r[2][x0], r[2][x1], r[3][x0], r[3][x1]};
          int above = 0;
          for (int c = 0; c < 8; ++c) above += f[c] > iso;
          if (above == 0 || above == 8) continue;
          const double cx0 = coord(2, x), cx1 = coord(2, x + 1);
          P3 corner[8];
          std::int64_t voxel[8];
          for (int c = 0; c < 8; ++c) {
            corner[c] = {(c & 4) ? cz1 : cz0, (c & 2) ? cy1 : cy0, (c & 1) ? cx1 : cx0};
            voxel[c] = row[c >> 1] + ((c & 1) ? x1 : x0);
          }
          for (const auto& t : kTets) {
            const P3 p[4] = {corner[t[0]], corner[t[1]], corner[t[2]], corner[t[3]]};
            const float v[4] = {f[t[0]], f[t[1]], f[t[2]], f[t[3]]};
            TetTriangles(p, v, iso, [&](const P3* tri, const int* out) {
              const std::int64_t vox[3] = {voxel[t[out[0]]], voxel[t[out[1]]], voxel[t[out[2]]]};
              emit(acc, tri, vox);
            });
          }
        }
      }
    });
  });
  return per_slice;
}

double IsoArea(const Volume<float>& field, float iso, ThreadBudget threads) {
  const std::vector<double> slabs = IsoTriangles(field, iso, threads, 0.0, [](double& acc, const P3* v, const std::int64_t*) {
    acc += TriangleArea(v[0], v[1], v[2]);
  });
  return std::accumulate(slabs.begin(), slabs.end(), 0.0);  // in slab order: deterministic
}

// Area of the interface between phases a and b given the smoothed indicators of all phases: the zero
// set of s_a - s_b, kept where a and b both exceed every other phase (min(s_a, s_b) > max_c s_c), i.e.
// the a|b boundary of the partition of space by the largest smoothed indicator. Each triangle of the
// zero set is clipped by the plane on which the interpolated min(s_a, s_b) - max_c s_c changes sign.
// With only two phases this is the closed surface of a; where a third phase meets a and b, the
// interface runs up to the triple line, where all three are equal.
std::vector<double> PairAreaSlices(const std::vector<Volume<float>>& s, std::size_t a, std::size_t b, ThreadBudget threads,
                                   CubeRange range = {}) {
  const Volume<float>& sa = s[a];
  const Volume<float>& sb = s[b];
  Volume<float> diff(sa.geometry()), dom(sa.geometry());
  for (std::int64_t i = 0; i < sa.size(); ++i) {
    diff[i] = sa[i] - sb[i];
    float other = 0;
    for (std::size_t c = 0; c < s.size(); ++c)
      if (c != a && c != b) other = std::max(other, s[c][i]);
    dom[i] = std::min(sa[i], sb[i]) - other;
  }
  // min(s_a, s_b) - max_c s_c at each triangle vertex, sampled trilinearly between voxel centres.
  const Vec3 sp = sa.spacing_um();
  Index3 n = sa.shape();
  if (range.frame_nz >= 0) n[0] = range.frame_nz;
  auto sample = [&](const P3& p) {
    double w = 0;
    std::int64_t i0[3];
    double f[3];
    for (int a = 0; a < 3; ++a) {
      const double u = std::min(std::max(p[std::size_t(a)] / sp[a], 0.0), double(n[a] - 1));
      i0[a] = std::min<std::int64_t>(std::int64_t(u), n[a] - 2 < 0 ? 0 : n[a] - 2);
      f[a] = n[a] > 1 ? u - double(i0[a]) : 0.0;
    }
    for (int c = 0; c < 8; ++c) {
      const std::int64_t z = std::min(i0[0] + ((c >> 2) & 1), n[0] - 1) - range.field_z0,
                         y = std::min(i0[1] + ((c >> 1) & 1), n[1] - 1), x = std::min(i0[2] + (c & 1), n[2] - 1);
      const double wt = ((c >> 2) & 1 ? f[0] : 1 - f[0]) * ((c >> 1) & 1 ? f[1] : 1 - f[1]) * (c & 1 ? f[2] : 1 - f[2]);
      w += wt * double(dom(z, y, x));
    }
    return w;
  };
  std::vector<double> slabs = IsoTriangles(diff, 0.0f, threads, 0.0, [&](double& acc, const P3* v, const std::int64_t*) {
    const double m[3] = {sample(v[0]), sample(v[1]), sample(v[2])};
    int pos = 0;
    for (double x : m) pos += x > 0;
    if (pos == 0) return;
    if (pos == 3) {
      acc += TriangleArea(v[0], v[1], v[2]);
      return;
    }
    // Clip: the part of the triangle where the linear function m > 0.
    auto mix = [&](int i, int j) {
      const double t = m[i] / (m[i] - m[j]);
      return P3{v[i][0] + t * (v[j][0] - v[i][0]), v[i][1] + t * (v[j][1] - v[i][1]), v[i][2] + t * (v[j][2] - v[i][2])};
    };
    int k = 0;  // the vertex alone on its side
    for (int i = 0; i < 3; ++i)
      if ((m[i] > 0) == (pos == 1)) k = i;
    const int i1 = (k + 1) % 3, i2 = (k + 2) % 3;
    const P3 p1 = mix(k, i1), p2 = mix(k, i2);
    const double corner = TriangleArea(v[k], p1, p2);
    acc += pos == 1 ? corner : TriangleArea(v[0], v[1], v[2]) - corner;
  }, range);
  return slabs;
}

double PairArea(const std::vector<Volume<float>>& s, std::size_t a, std::size_t b, ThreadBudget threads) {
  const std::vector<double> slabs = PairAreaSlices(s, a, b, threads);
  return std::accumulate(slabs.begin(), slabs.end(), 0.0);  // in slab order: deterministic
}
}  // namespace internal

double IsoSurfaceArea(const Volume<float>& field, float iso, ThreadBudget threads) {
  return internal::IsoArea(field, iso, threads);
}

double MaskSurfaceArea(const Volume<std::uint8_t>& mask, const SurfaceAreaOptions& options) {
  std::string why;
  if (!options.IsValid(&why)) throw ConfigError("smoothing_sigma_vox", why);
  return IsoSurfaceArea(SmoothedIndicator(mask, options.smoothing_sigma_vox, options.threads), 0.5f, options.threads);
}

double ProbabilitySurfaceArea(const Volume<std::uint8_t>& probability, const SurfaceAreaOptions& options) {
  std::string why;
  if (!options.IsValid(&why)) throw ConfigError("smoothing_sigma_vox", why);
  const Volume<float> s = Smoothed(probability, [](std::uint8_t p) { return float(p) / 255.0f; },
                                   options.probability_sigma_vox, options.threads);
  return IsoSurfaceArea(s, 0.5f, options.threads);
}

std::vector<InterfaceArea> ComputeInterfaceAreas(const PhaseVolume& phases, const PhaseTable& table,
                                                 const SurfaceAreaOptions& options) {
  std::string why;
  if (!options.IsValid(&why)) throw ConfigError("smoothing_sigma_vox", why);
  if (!table.IsValid(&why)) throw ConfigError("phases", why);
  const auto& ph = table.phases();
  const double total = double(phases.size()) * phases.geometry().voxel_volume_um3();
  std::vector<Volume<float>> smooth;
  for (const Phase& p : ph) {
    Volume<std::uint8_t> m(phases.geometry());
    for (std::int64_t k = 0; k < m.size(); ++k) m[k] = phases[k] == p.label;
    smooth.push_back(SmoothedIndicator(m, options.smoothing_sigma_vox, options.threads));
  }
  std::vector<InterfaceArea> out;
  for (std::size_t i = 0; i < ph.size(); ++i)
    for (std::size_t j = i + 1; j < ph.size(); ++j) {
      InterfaceArea r;
      r.a = ph[i].label;
      r.b = ph[j].label;
      r.name_a = ph[i].name;
      r.name_b = ph[j].name;
      r.area_um2 = internal::PairArea(smooth, i, j, options.threads);
      r.specific_area_per_um = total > 0 ? r.area_um2 / total : 0;
      const ContactResult fc = ComputeContacts(phases, r.a, r.b, nullptr, ContactOptions{});
      r.face_count_area_um2 = fc.area_um2;
      r.face_count_specific_per_um = fc.specific_area_per_um;
      out.push_back(r);
    }
  return out;
}

ResultTable InterfaceAreaTable(const std::vector<InterfaceArea>& areas) {
  ResultTable t;
  t.name = "interface_areas";
  t.columns = {{"phase_a", "1", {}},
               {"phase_b", "1", {}},
               {"area_um2", "um^2", {}},
               {"specific_area_per_um", "um^-1", {}},
               {"face_count_area_um2", "um^2", {}},
               {"face_count_specific_per_um", "um^-1", {}}};
  for (const InterfaceArea& a : areas) {
    t.columns[0].values.push_back(a.a);
    t.columns[1].values.push_back(a.b);
    t.columns[2].values.push_back(a.area_um2);
    t.columns[3].values.push_back(a.specific_area_per_um);
    t.columns[4].values.push_back(a.face_count_area_um2);
    t.columns[5].values.push_back(a.face_count_specific_per_um);
  }
  return t;
}

namespace {
// The planes a block of cube slices [c0, c1) needs, widened by the smoothing kernel's radius so the
// smoothed values there equal the whole frame's (GaussianSmooth: radius ceil(3 sigma)), clipped to
// the frame.
std::pair<std::int64_t, std::int64_t> HaloPlanes(std::int64_t c0, std::int64_t c1, std::int64_t nz, double sigma) {
  const std::int64_t r = std::int64_t(std::ceil(3 * sigma));
  const std::int64_t need0 = std::max<std::int64_t>(c0, 0), need1 = std::min<std::int64_t>(c1, nz - 1);
  return {std::max<std::int64_t>(need0 - r, 0), std::min<std::int64_t>(need1 + r + 1, nz)};
}

void CheckStreamed(const Geometry& frame, std::int64_t slab_z, const SurfaceAreaOptions& options) {
  std::string why;
  if (!frame.IsValid(&why)) throw InvalidArgument("streamed surface area: frame geometry: " + why);
  if (slab_z < 1) throw InvalidArgument("streamed surface area: slab_z " + std::to_string(slab_z) + " is not >= 1");
  if (!options.IsValid(&why)) throw ConfigError("smoothing_sigma_vox", why);
}
}  // namespace

double MaskSurfaceAreaStreamed(const Geometry& frame, const SlabReader<std::uint8_t>& read, std::int64_t slab_z,
                               const SurfaceAreaOptions& options) {
  CheckStreamed(frame, slab_z, options);
  const std::int64_t nz = frame.shape[0];
  std::vector<double> slices;
  Volume<std::uint8_t> mask;
  for (std::int64_t c0 = -1; c0 < nz; c0 += slab_z) {
    const std::int64_t c1 = std::min(nz, c0 + slab_z);
    const auto [p0, p1] = HaloPlanes(c0, c1, nz, options.smoothing_sigma_vox);
    ReadSlabChecked(read, frame, p0, p1, mask, "streamed surface area");
    const Volume<float> f = SmoothedIndicator(mask, options.smoothing_sigma_vox, options.threads);
    const std::vector<double> part = internal::IsoTriangles(
        f, 0.5f, options.threads, 0.0, [](double& acc, const P3* v, const std::int64_t*) { acc += TriangleArea(v[0], v[1], v[2]); },
        internal::CubeRange{p0, nz, c0, c1});
    slices.insert(slices.end(), part.begin(), part.end());
  }
  return std::accumulate(slices.begin(), slices.end(), 0.0);
}

std::vector<InterfaceArea> ComputeInterfaceAreasStreamed(const Geometry& frame, const SlabReader<std::uint8_t>& read,
                                                         const PhaseTable& table, std::int64_t slab_z,
                                                         const SurfaceAreaOptions& options) {
  CheckStreamed(frame, slab_z, options);
  std::string why;
  if (!table.IsValid(&why)) throw ConfigError("phases", why);
  const auto& ph = table.phases();
  const std::size_t np = ph.size();
  const Index3 s = frame.shape;
  const std::int64_t nz = s[0];
  const Vec3 sp = frame.spacing_um;
  const double face[3] = {sp[1] * sp[2], sp[0] * sp[2], sp[0] * sp[1]};
  std::vector<std::vector<double>> slices(np * np);
  std::vector<double> face_area(np * np, 0.0);
  std::vector<int> index_of(256, -1);
  for (std::size_t i = 0; i < np; ++i) index_of[ph[i].label] = int(i);
  Volume<std::uint8_t> phases;
  std::vector<Volume<float>> smooth(np);
  for (std::int64_t c0 = -1; c0 < nz; c0 += slab_z) {
    const std::int64_t c1 = std::min(nz, c0 + slab_z);
    const auto [p0, p1] = HaloPlanes(c0, c1, nz, options.smoothing_sigma_vox);
    ReadSlabChecked(read, frame, p0, p1, phases, "streamed interface areas");
    for (std::size_t i = 0; i < np; ++i) {
      Volume<std::uint8_t> m(phases.geometry());
      for (std::int64_t k = 0; k < m.size(); ++k) m[k] = phases[k] == ph[i].label;
      smooth[i] = SmoothedIndicator(m, options.smoothing_sigma_vox, options.threads);
    }
    for (std::size_t i = 0; i < np; ++i)
      for (std::size_t j = i + 1; j < np; ++j) {
        const std::vector<double> part = internal::PairAreaSlices(smooth, i, j, options.threads, internal::CubeRange{p0, nz, c0, c1});
        slices[i * np + j].insert(slices[i * np + j].end(), part.begin(), part.end());
      }
    // Voxel faces between phases: each face (v, v + e_axis) once, voxels z in [max(c0, 0), c1) in scan
    // order (the order ComputeContacts sums in, so the sums are the same).
    const std::int64_t plane = s[1] * s[2];
    const std::int64_t stride[3] = {plane, s[2], 1};
    for (std::int64_t z = std::max<std::int64_t>(c0, 0); z < c1; ++z)
      for (std::int64_t y = 0; y < s[1]; ++y)
        for (std::int64_t x = 0; x < s[2]; ++x) {
          const std::int64_t v = (z - p0) * plane + y * s[2] + x;
          const std::int64_t c[3] = {z, y, x};
          for (int ax = 0; ax < 3; ++ax) {
            if (c[ax] + 1 >= s[ax]) continue;
            const int a = index_of[phases[v]], b = index_of[phases[v + stride[ax]]];
            if (a < 0 || b < 0 || a == b) continue;
            face_area[std::size_t(std::min(a, b)) * np + std::size_t(std::max(a, b))] += face[ax];
          }
        }
  }
  const double total = double(frame.voxel_count()) * frame.voxel_volume_um3();
  std::vector<InterfaceArea> out;
  for (std::size_t i = 0; i < np; ++i)
    for (std::size_t j = i + 1; j < np; ++j) {
      InterfaceArea r;
      r.a = ph[i].label;
      r.b = ph[j].label;
      r.name_a = ph[i].name;
      r.name_b = ph[j].name;
      const std::vector<double>& sl = slices[i * np + j];
      r.area_um2 = std::accumulate(sl.begin(), sl.end(), 0.0);
      r.specific_area_per_um = total > 0 ? r.area_um2 / total : 0;
      r.face_count_area_um2 = face_area[i * np + j];
      r.face_count_specific_per_um = r.face_count_area_um2 / total;
      out.push_back(r);
    }
  return out;
}

}  // namespace op4d
