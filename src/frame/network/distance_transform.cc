#include "op4d/frame/network/distance_transform.h"

#include "op4d/core/error.h"
#include "op4d/core/progress.h"
#include "op4d/core/scratch.h"

#include <tbb/blocked_range.h>
#include <tbb/enumerable_thread_specific.h>
#include <tbb/parallel_for.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <string>
#include <limits>
#include <vector>

namespace op4d {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

struct LineWork {
  std::vector<double> f, d;
  std::vector<std::int64_t> v;
  std::vector<double> z;
  std::vector<double> block;  // a group of strided lines, gathered
  void Resize(std::int64_t n) {
    f.resize(std::size_t(n));
    d.resize(std::size_t(n));
    v.resize(std::size_t(n));
    z.resize(std::size_t(n) + 1);
  }
};

// d(q) = min_p (w (q - p))^2 + f(p) over the line; f may hold +inf. Lower envelope of parabolas.
void Envelope1D(LineWork& w, std::int64_t n, double spacing) {
  const double w2 = spacing * spacing;
  std::int64_t k = -1;
  for (std::int64_t q = 0; q < n; ++q) {
    const double fq = w.f[std::size_t(q)];
    if (fq == kInf) continue;
    double s = -kInf;
    while (k >= 0) {
      const std::int64_t p = w.v[std::size_t(k)];
      s = ((fq + w2 * double(q) * double(q)) - (w.f[std::size_t(p)] + w2 * double(p) * double(p))) / (2.0 * w2 * double(q - p));
      if (s > w.z[std::size_t(k)]) break;
      --k;
    }
    ++k;
    w.v[std::size_t(k)] = q;
    w.z[std::size_t(k)] = k == 0 ? -kInf : s;
    w.z[std::size_t(k) + 1] = kInf;
  }
  if (k < 0) {  // no finite value on the line
    for (std::int64_t q = 0; q < n; ++q) w.d[std::size_t(q)] = kInf;
    return;
  }
  std::int64_t j = 0;
  for (std::int64_t q = 0; q < n; ++q) {
    while (w.z[std::size_t(j) + 1] < double(q)) ++j;
    const std::int64_t p = w.v[std::size_t(j)];
    const double dq = double(q - p);
    w.d[std::size_t(q)] = w2 * dq * dq + w.f[std::size_t(p)];
  }
}

// Pass along x (contiguous): 0 on background, +inf on foreground, then the 1D envelope.
void PassX(const Volume<std::uint8_t>& mask, Volume<double>& sq, double spacing_x, ThreadBudget threads,
           tbb::enumerable_thread_specific<LineWork>& work) {
  const Index3 s = mask.shape();
  RunInArena(threads, [&] {
    tbb::parallel_for(tbb::blocked_range<std::int64_t>(0, s[0] * s[1], 16), [&](const auto& r) {
      LineWork& w = work.local();
      w.Resize(s[2]);
      for (std::int64_t row = r.begin(); row != r.end(); ++row) {
        const std::uint8_t* m = mask.data() + row * s[2];
        for (std::int64_t x = 0; x < s[2]; ++x) w.f[std::size_t(x)] = m[x] ? kInf : 0.0;
        Envelope1D(w, s[2], spacing_x);
        std::copy(w.d.begin(), w.d.begin() + s[2], sq.data() + row * s[2]);
      }
    });
  });
}

// Pass along y (axis 1) or z (axis 0). Lines are strided; 16 neighbouring lines (consecutive x) are
// gathered per sweep so every cache line read is used.
void PassStrided(Volume<double>& sq, int axis, double spacing, ThreadBudget threads,
                 tbb::enumerable_thread_specific<LineWork>& work) {
  constexpr std::int64_t kGroup = 16;
  const Index3 s = sq.shape();
  const std::int64_t n = s[axis];
  const std::int64_t stride = axis == 1 ? s[2] : s[1] * s[2];
  const std::int64_t outer = axis == 1 ? s[0] : s[1];  // the coordinate other than x and the line's
  const std::int64_t xgroups = (s[2] + kGroup - 1) / kGroup;
  RunInArena(threads, [&] {
    tbb::parallel_for(tbb::blocked_range<std::int64_t>(0, outer * xgroups, 4), [&](const auto& r) {
      LineWork& w = work.local();
      w.Resize(std::max(s[0], std::max(s[1], s[2])));
      std::vector<double>& block = w.block;
      block.resize(std::size_t(n * kGroup));
      for (std::int64_t t = r.begin(); t != r.end(); ++t) {
        const std::int64_t o = t / xgroups, x0 = (t % xgroups) * kGroup, m = std::min(kGroup, s[2] - x0);
        double* p = sq.data() + (axis == 1 ? o * s[1] * s[2] : o * s[2]) + x0;
        for (std::int64_t i = 0; i < n; ++i)
          for (std::int64_t j = 0; j < m; ++j) block[std::size_t(j * n + i)] = p[i * stride + j];
        for (std::int64_t j = 0; j < m; ++j) {
          std::copy(block.begin() + j * n, block.begin() + (j + 1) * n, w.f.begin());
          Envelope1D(w, n, spacing);
          std::copy(w.d.begin(), w.d.begin() + n, block.begin() + j * n);
        }
        for (std::int64_t i = 0; i < n; ++i)
          for (std::int64_t j = 0; j < m; ++j) p[i * stride + j] = block[std::size_t(j * n + i)];
      }
    });
  });
}

void SquareRoot(const Volume<double>& sq, Volume<float>& out, ThreadBudget threads) {
  RunInArena(threads, [&] {
    tbb::parallel_for(tbb::blocked_range<std::int64_t>(0, out.size(), 1 << 15), [&](const auto& r) {
      for (std::int64_t i = r.begin(); i != r.end(); ++i) out[i] = float(std::sqrt(sq[i]));
    });
  });
}

}  // namespace

Volume<float> DistanceTransform(const Volume<std::uint8_t>& mask, const DistanceOptions& options) {
  Volume<double> sq(mask.geometry());
  tbb::enumerable_thread_specific<LineWork> work;
  PassX(mask, sq, mask.spacing_um()[2], options.threads, work);
  PassStrided(sq, 1, mask.spacing_um()[1], options.threads, work);
  PassStrided(sq, 0, mask.spacing_um()[0], options.threads, work);
  Volume<float> out(mask.geometry());
  SquareRoot(sq, out, options.threads);
  return out;
}

bool StreamedDistanceOptions::IsValid(std::string* why) const {
  if (slab_z < 0 || block_rows < 0) {
    if (why) *why = "slab_z and block_rows must be >= 0 (0: from block_bytes)";
    return false;
  }
  if (block_bytes < (1 << 16)) {
    if (why) *why = "block_bytes " + std::to_string(block_bytes) + " is below 64 KiB";
    return false;
  }
  return true;
}

void DistanceTransformStreamed(const Geometry& frame, const SlabReader<std::uint8_t>& read,
                               const BoxWriter<float>& write, const StreamedDistanceOptions& options) {
  std::string why;
  if (!frame.IsValid(&why)) throw InvalidArgument("streamed distance transform: frame geometry: " + why);
  if (!options.IsValid(&why)) throw InvalidArgument("streamed distance transform: " + why);
  const Index3 s = frame.shape;
  const Vec3 sp = frame.spacing_um;
  const std::int64_t plane = s[1] * s[2];
  // Working set per slab: mask (1 B) + squared distances (8 B); per block of rows: 8 B + 4 B.
  const std::int64_t slab_z = options.slab_z > 0 ? options.slab_z
                                                 : std::clamp<std::int64_t>(options.block_bytes / (9 * plane), 1, s[0]);
  const std::int64_t rows = options.block_rows > 0 ? options.block_rows
                                                   : std::clamp<std::int64_t>(options.block_bytes / (12 * s[0] * s[2]), 1, s[1]);
  tbb::enumerable_thread_specific<LineWork> work;
  ScratchFile scratch(options.scratch_dir, "the distance transform's squared distances");
  Progress progress("distance transform (block-wise)", 2 * s[0], options.progress);
  Volume<std::uint8_t> mask;
  Volume<double> sq;
  // Passes along x and y on slabs of whole planes; the squared distances go to the scratch file.
  for (std::int64_t z0 = 0; z0 < s[0]; z0 += slab_z) {
    const std::int64_t z1 = std::min(s[0], z0 + slab_z);
    ReadSlabChecked(read, frame, z0, z1, mask, "streamed distance transform");
    if (sq.shape() != mask.shape()) sq = Volume<double>(mask.geometry());
    PassX(mask, sq, sp[2], options.threads, work);
    PassStrided(sq, 1, sp[1], options.threads, work);
    scratch.Write(sq.data(), std::size_t(sq.size()) * sizeof(double), z0 * plane * std::int64_t(sizeof(double)));
    progress.Advance(z1 - z0);
  }
  mask = {};
  sq = {};
  // Pass along z on blocks of rows that hold whole columns, read back plane by plane.
  Volume<float> out;
  for (std::int64_t y0 = 0; y0 < s[1]; y0 += rows) {
    const std::int64_t y1 = std::min(s[1], y0 + rows);
    Geometry g = frame;
    g.shape = {s[0], y1 - y0, s[2]};
    g.origin_um[1] += double(y0) * sp[1];
    if (sq.shape() != g.shape) {
      sq = Volume<double>(g);
      out = Volume<float>(g);
    }
    const std::size_t row_bytes = std::size_t((y1 - y0) * s[2]) * sizeof(double);
    for (std::int64_t z = 0; z < s[0]; ++z)
      scratch.Read(sq.data() + z * (y1 - y0) * s[2], row_bytes, (z * plane + y0 * s[2]) * std::int64_t(sizeof(double)));
    PassStrided(sq, 0, sp[0], options.threads, work);
    SquareRoot(sq, out, options.threads);
    write(Box{{0, y0, 0}, g.shape}, out);
    progress.Advance(s[0] * (y1 - y0) / s[1]);
  }
  progress.Finish();
}

}  // namespace op4d
