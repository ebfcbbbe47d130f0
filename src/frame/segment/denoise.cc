#include "op4d/frame/segment/denoise.h"

#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "op4d/core/error.h"
#include "op4d/core/filter.h"

namespace op4d {
namespace {

// exp(-a) for a >= 0: 2^y with y = -a·log2(e) split into integer and fractional parts, the fraction
// by its degree-6 Taylor polynomial (largest relative error 1.03e-5 on [0, 80], measured against
// std::exp). Branch-free, so loops vectorise.
inline float ExpNeg(float a) {
  const float y0 = -a * 1.44269504f;
  const float y = y0 < -126.0f ? -126.0f : y0;
  int i = static_cast<int>(y);           // truncation: i >= y for y <= 0
  i -= (y < static_cast<float>(i)) ? 1 : 0;  // floor
  const float f = y - static_cast<float>(i);  // [0, 1)
  const float p =
      1.0f + f * (0.693147181f +
                  f * (0.240226507f + f * (0.0555041087f + f * (0.00961812911f + f * (0.00133335581f + f * 0.000154035304f)))));
  const std::int32_t bits = (i + 127) << 23;
  float s;
  std::memcpy(&s, &bits, sizeof s);
  // Below the smallest normal float the weight is 0, not 2^-126: a voxel whose every candidate is
  // that far off keeps its own value instead of taking the plain mean of its search window.
  return y0 >= -126.0f ? p * s : 0.0f;
}

template <class T>
T FromFloat(float x) {
  return NlmOutputValue<T>(x);
}

// Per-tile work buffers.
struct TileBuffers {
  std::vector<float> ext, d, bx, bxy, p, acc_w, acc_u, wmax;
};

struct SlabContext {
  const float* in = nullptr;  // slab input with halo: slices zin0 .. zin0 + ezn - 1 of the frame
  std::int64_t zin0 = 0, ezn = 0;
  Index3 shape{};             // frame shape
  NlmRadii r;
  float two_sigma2 = 0, inv_h2 = 0;
};

// Denoises the tile core [c0, c0 + cn) (frame coordinates) into out (cn voxels, z-major).
void DenoiseTile(const SlabContext& s, const Index3& c0, const Index3& cn, TileBuffers& b, float* out,
                 std::int64_t out_ny, std::int64_t out_nx, std::int64_t out_y0, std::int64_t out_x0,
                 std::int64_t out_z0) {
  const Index3 P = s.r.patch, S = s.r.search;
  Index3 H, en, dn;
  for (int a = 0; a < 3; ++a) {
    H[a] = P[a] + S[a];
    en[a] = cn[a] + 2 * H[a];
    dn[a] = cn[a] + 2 * P[a];
  }
  const std::int64_t esz = en[0] * en[1] * en[2];
  b.ext.resize(esz);
  // Extended tile, frame coordinates clamped to the frame (replicated border).
  for (std::int64_t z = 0; z < en[0]; ++z) {
    const std::int64_t gz = std::clamp<std::int64_t>(c0[0] - H[0] + z, 0, s.shape[0] - 1) - s.zin0;
    for (std::int64_t y = 0; y < en[1]; ++y) {
      const std::int64_t gy = std::clamp<std::int64_t>(c0[1] - H[1] + y, 0, s.shape[1] - 1);
      const float* row = s.in + (gz * s.shape[1] + gy) * s.shape[2];
      float* dst = b.ext.data() + (z * en[1] + y) * en[2];
      for (std::int64_t x = 0; x < en[2]; ++x)
        dst[x] = row[std::clamp<std::int64_t>(c0[2] - H[2] + x, 0, s.shape[2] - 1)];
    }
  }
  const std::int64_t csz = cn[0] * cn[1] * cn[2];
  b.d.resize(dn[0] * dn[1] * dn[2]);
  b.bx.resize(dn[0] * dn[1] * cn[2]);
  b.bxy.resize(dn[0] * cn[1] * cn[2]);
  b.p.resize(csz);
  b.acc_w.assign(csz, 0.0f);
  b.acc_u.assign(csz, 0.0f);
  b.wmax.assign(csz, 0.0f);
  const float inv_n = 1.0f / float((2 * P[0] + 1) * (2 * P[1] + 1) * (2 * P[2] + 1));
  const float two_sigma2 = s.two_sigma2, inv_h2 = s.inv_h2;

  for (std::int64_t oz = -S[0]; oz <= S[0]; ++oz)
    for (std::int64_t oy = -S[1]; oy <= S[1]; ++oy)
      for (std::int64_t ox = -S[2]; ox <= S[2]; ++ox) {
        if (oz == 0 && oy == 0 && ox == 0) continue;
        const Index3 o{oz, oy, ox};
        // Core voxels whose candidate x + o lies inside the frame.
        Index3 lo, hi;
        bool empty = false;
        for (int a = 0; a < 3; ++a) {
          lo[a] = std::max<std::int64_t>(0, -o[a] - c0[a]);
          hi[a] = std::min<std::int64_t>(cn[a], s.shape[a] - o[a] - c0[a]);
          if (lo[a] >= hi[a]) empty = true;
        }
        if (empty) continue;
        // Squared differences on the core grown by the patch radius.
        const std::int64_t shift = (o[0] * en[1] + o[1]) * en[2] + o[2];
        for (std::int64_t z = 0; z < dn[0]; ++z)
          for (std::int64_t y = 0; y < dn[1]; ++y) {
            const float* e = b.ext.data() + ((z + S[0]) * en[1] + y + S[1]) * en[2] + S[2];
            const float* eo = e + shift;
            float* d = b.d.data() + (z * dn[1] + y) * dn[2];
            for (std::int64_t x = 0; x < dn[2]; ++x) {
              const float t = e[x] - eo[x];
              d[x] = t * t;
            }
          }
        // Box sums of the patch, separable: x, then y, then z.
        for (std::int64_t zy = 0; zy < dn[0] * dn[1]; ++zy) {
          const float* d = b.d.data() + zy * dn[2];
          float* q = b.bx.data() + zy * cn[2];
          for (std::int64_t x = 0; x < cn[2]; ++x) q[x] = d[x];
          for (std::int64_t k = 1; k <= 2 * P[2]; ++k)
            for (std::int64_t x = 0; x < cn[2]; ++x) q[x] += d[x + k];
        }
        for (std::int64_t z = 0; z < dn[0]; ++z)
          for (std::int64_t y = 0; y < cn[1]; ++y) {
            float* q = b.bxy.data() + (z * cn[1] + y) * cn[2];
            const float* src = b.bx.data() + (z * dn[1] + y) * cn[2];
            for (std::int64_t x = 0; x < cn[2]; ++x) q[x] = src[x];
            for (std::int64_t k = 1; k <= 2 * P[1]; ++k)
              for (std::int64_t x = 0; x < cn[2]; ++x) q[x] += src[x + k * cn[2]];
          }
        const std::int64_t plane = cn[1] * cn[2];
        for (std::int64_t z = lo[0]; z < hi[0]; ++z) {
          float* q = b.p.data() + z * plane;
          const float* src = b.bxy.data() + z * plane;
          for (std::int64_t i = 0; i < plane; ++i) q[i] = src[i];
          for (std::int64_t k = 1; k <= 2 * P[0]; ++k)
            for (std::int64_t i = 0; i < plane; ++i) q[i] += src[i + k * plane];
        }
        // Weights and accumulation.
        for (std::int64_t z = lo[0]; z < hi[0]; ++z)
          for (std::int64_t y = lo[1]; y < hi[1]; ++y) {
            const std::int64_t c = (z * cn[1] + y) * cn[2];
            const float* q = b.p.data() + c;
            const float* cand = b.ext.data() + ((z + H[0]) * en[1] + y + H[1]) * en[2] + H[2] + shift;
            float* aw = b.acc_w.data() + c;
            float* au = b.acc_u.data() + c;
            float* wm = b.wmax.data() + c;
            for (std::int64_t x = lo[2]; x < hi[2]; ++x) {
              const float a = std::max(q[x] * inv_n - two_sigma2, 0.0f) * inv_h2;
              const float w = ExpNeg(a);
              aw[x] += w;
              au[x] += w * cand[x];
              wm[x] = std::max(wm[x], w);
            }
          }
      }
  // The voxel itself takes the largest weight of the others (1 when it has none).
  for (std::int64_t z = 0; z < cn[0]; ++z)
    for (std::int64_t y = 0; y < cn[1]; ++y) {
      const std::int64_t c = (z * cn[1] + y) * cn[2];
      const float* self = b.ext.data() + ((z + H[0]) * en[1] + y + H[1]) * en[2] + H[2];
      float* dst = out + (((c0[0] - out_z0 + z) * out_ny) + (c0[1] - out_y0 + y)) * out_nx + (c0[2] - out_x0);
      for (std::int64_t x = 0; x < cn[2]; ++x) {
        const float wself = b.wmax[c + x] > 0 ? b.wmax[c + x] : 1.0f;
        dst[x] = (b.acc_u[c + x] + wself * self[x]) / (b.acc_w[c + x] + wself);
      }
    }
}

double Median(std::vector<float>& v) {
  const std::size_t m = v.size() / 2;
  std::nth_element(v.begin(), v.begin() + std::ptrdiff_t(m), v.end());
  return v[m];
}

}  // namespace

bool NlmOptions::IsValid(std::string* why) const {
  auto bad = [&](const char* w) {
    if (why) *why = w;
    return false;
  };
  if (!(patch_radius_um >= 0) || !std::isfinite(patch_radius_um)) return bad("patch_radius_um must be >= 0");
  if (!(search_radius_um >= 0) || !std::isfinite(search_radius_um)) return bad("search_radius_um must be >= 0");
  if (!(sigma >= 0) || !std::isfinite(sigma)) return bad("sigma must be >= 0 (0 = estimate)");
  if (!(h_factor > 0) || !std::isfinite(h_factor)) return bad("h_factor must be > 0");
  if (slab_z < 1) return bad("slab_z must be >= 1");
  return true;
}

NlmRadii ResolveNlmRadii(const NlmOptions& options, const Vec3& spacing) {
  const double finest = std::min({spacing[0], spacing[1], spacing[2]});
  const double patch_um = options.patch_radius_um > 0 ? options.patch_radius_um : finest;
  const double search_um = options.search_radius_um > 0 ? options.search_radius_um : 3 * finest;
  NlmRadii r;
  for (int a = 0; a < 3; ++a) {
    r.patch[a] = std::int64_t(std::lround(patch_um / spacing[a]));
    r.search[a] = std::int64_t(std::lround(search_um / spacing[a]));
  }
  return r;
}

namespace {
// Pseudo-residuals of block planes [z_begin, z_end) (each with its neighbour planes in the block),
// appended in plane order.
void AppendResiduals(const AnyVolume& block, std::int64_t z_begin, std::int64_t z_end, int stride, ThreadBudget threads,
                     std::vector<float>& all) {
  std::visit(
      [&](const auto& v) {
        const std::int64_t ny = v.ny(), nx = v.nx();
        // Residuals per z-slice, gathered in slice order (deterministic).
        std::vector<std::vector<float>> per(std::size_t(std::max<std::int64_t>(z_end - z_begin, 0)));
        const double k = std::sqrt(6.0 / 7.0);
        RunInArena(threads, [&] {
          tbb::parallel_for(z_begin, z_end, [&](std::int64_t z) {
            auto& out = per[std::size_t(z - z_begin)];
            for (std::int64_t y = 1; y < ny - 1; ++y)
              for (std::int64_t x = 1; x < nx - 1; x += stride) {
                const double c = double(v(z, y, x));
                const double s = double(v(z - 1, y, x)) + double(v(z + 1, y, x)) + double(v(z, y - 1, x)) +
                                 double(v(z, y + 1, x)) + double(v(z, y, x - 1)) + double(v(z, y, x + 1));
                const double e = k * (c - s / 6.0);
                if (std::isfinite(e)) out.push_back(float(e));
              }
          });
        });
        for (auto& p : per) {  // freed slice by slice: the samples are held about once, not twice
          all.insert(all.end(), p.begin(), p.end());
          std::vector<float>().swap(p);
        }
      },
      block);
}

double SigmaFromResiduals(std::vector<float>& all);
}  // namespace

int DefaultNoiseStride(const Geometry& frame) {
  return int(std::max<std::int64_t>(1, frame.voxel_count() / (std::int64_t(1) << 20)));  // ~1e6 samples
}

double EstimateNoiseSigmaStreamed(const Geometry& frame, const RegionReader& read, int stride, std::int64_t slab_z,
                                  ThreadBudget threads) {
  if (stride < 1) throw InvalidArgument("noise estimate: stride must be >= 1");
  if (slab_z < 1) throw InvalidArgument("noise estimate: slab_z must be >= 1");
  const Index3 n = frame.shape;
  if (n[0] < 3 || n[1] < 3 || n[2] < 3)
    throw InvalidArgument("noise estimate needs at least 3 voxels along every axis, got " + frame.ToString());
  std::vector<float> all;
  for (std::int64_t z0 = 1; z0 < n[0] - 1; z0 += slab_z) {
    const std::int64_t z1 = std::min(n[0] - 1, z0 + slab_z);
    const AnyVolume block = read(Box{{z0 - 1, 0, 0}, {z1 - z0 + 2, n[1], n[2]}});
    if (GeometryOf(block).shape != Index3{z1 - z0 + 2, n[1], n[2]})
      throw InvalidArgument("noise estimate: the reader returned " + GeometryOf(block).ToString() + " for planes [" +
                            std::to_string(z0 - 1) + ", " + std::to_string(z1 + 1) + ")");
    AppendResiduals(block, 1, z1 - z0 + 1, stride, threads, all);
  }
  return SigmaFromResiduals(all);
}

double EstimateNoiseSigma(const AnyVolume& grey, int stride, ThreadBudget threads) {
  if (stride < 1) throw InvalidArgument("noise estimate: stride must be >= 1");
  const Geometry& g = GeometryOf(grey);
  if (g.shape[0] < 3 || g.shape[1] < 3 || g.shape[2] < 3)
    throw InvalidArgument("noise estimate needs at least 3 voxels along every axis, got " + g.ToString());
  std::vector<float> all;
  AppendResiduals(grey, 1, g.shape[0] - 1, stride, threads, all);
  return SigmaFromResiduals(all);
}

namespace {
double SigmaFromResiduals(std::vector<float>& all) {
  if (all.empty()) throw InvalidArgument("noise estimate: no finite voxels");
  const double med = Median(all);
  for (float& e : all) e = std::abs(e - float(med));
  return 1.4826 * Median(all);
}
}  // namespace

NlmReport NonLocalMeansStreamed(const Geometry& frame, const RegionReader& read, const SlabWriter& write,
                                const NlmOptions& options) {
  std::string why;
  if (!options.IsValid(&why)) throw ConfigError("nlm", why);
  if (!frame.IsValid(&why)) throw InvalidArgument("nlm: frame geometry: " + why);
  if (!(options.sigma > 0))
    throw ConfigError("nlm/sigma", "the streamed form needs the noise sigma (estimate it on a sample first)");
  const auto t0 = std::chrono::steady_clock::now();
  NlmReport report;
  report.radii = ResolveNlmRadii(options, frame.spacing_um);
  report.sigma = options.sigma;
  report.h = options.h_factor * options.sigma;
  const Index3 shape = frame.shape;
  const std::int64_t nz = shape[0], ny = shape[1], nx = shape[2];
  const std::int64_t hz = report.radii.patch[0] + report.radii.search[0];
  const std::int64_t slab = std::min(options.slab_z, nz);
  const std::int64_t slabs = (nz + slab - 1) / slab;
  // Tiles across y and x: at least two per thread when the slab allows, at most 64 voxels wide.
  std::int64_t ty = std::min<std::int64_t>(ny, 64), tx = std::min<std::int64_t>(nx, 64);
  const std::int64_t tiles_y = (ny + ty - 1) / ty, tiles_x = (nx + tx - 1) / tx;
  Progress progress("non-local means", slabs * tiles_y * tiles_x, options.progress);
  SlabContext ctx;
  ctx.shape = shape;
  ctx.r = report.radii;
  ctx.two_sigma2 = float(2 * options.sigma * options.sigma);
  ctx.inv_h2 = float(1.0 / (report.h * report.h));
  for (std::int64_t s = 0; s < slabs; ++s) {
    const std::int64_t z0 = s * slab, z1 = std::min(nz, z0 + slab);
    const std::int64_t zin0 = std::max<std::int64_t>(0, z0 - hz), zin1 = std::min(nz, z1 + hz);
    Box box{{zin0, 0, 0}, {zin1 - zin0, ny, nx}};
    Volume<float> in = ToFloat(read(box));
    if (in.shape() != box.size)
      throw InvalidArgument("nlm: the reader returned " + in.geometry().ToString() + " for a box of " +
                            std::to_string(box.size[0]) + "x" + std::to_string(box.size[1]) + "x" +
                            std::to_string(box.size[2]) + " voxels");
    ctx.in = in.data();
    ctx.zin0 = zin0;
    ctx.ezn = zin1 - zin0;
    Geometry g = frame;
    g.shape = {z1 - z0, ny, nx};
    g.origin_um[0] = frame.origin_um[0] + double(z0) * frame.spacing_um[0];
    Volume<float> out(g);
    RunInArena(options.threads, [&] {
      tbb::parallel_for(tbb::blocked_range<std::int64_t>(0, tiles_y * tiles_x, 1),
                        [&](const tbb::blocked_range<std::int64_t>& r) {
                          TileBuffers buf;
                          for (std::int64_t t = r.begin(); t < r.end(); ++t) {
                            const std::int64_t y0 = (t / tiles_x) * ty, x0 = (t % tiles_x) * tx;
                            const Index3 c0{z0, y0, x0};
                            const Index3 cn{z1 - z0, std::min(ty, ny - y0), std::min(tx, nx - x0)};
                            DenoiseTile(ctx, c0, cn, buf, out.data(), ny, nx, 0, 0, z0);
                            progress.Advance();
                          }
                        });
    });
    write(z0, out);
  }
  progress.Finish();
  report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return report;
}

AnyVolume NonLocalMeans(const AnyVolume& grey, const NlmOptions& options, NlmReport* report) {
  std::string why;
  if (!options.IsValid(&why)) throw ConfigError("nlm", why);
  const Geometry geom = std::visit([](const auto& v) { return v.geometry(); }, grey);
  NlmOptions o = options;
  bool estimated = false;
  if (!(o.sigma > 0)) {
    o.sigma = EstimateNoiseSigma(grey, DefaultNoiseStride(geom), options.threads);
    estimated = true;
    if (!(o.sigma > 0))
      throw InvalidArgument("nlm: the estimated noise sigma is 0 (a noise-free volume); give sigma explicitly");
  }
  AnyVolume result = std::visit([](const auto& v) -> AnyVolume { return std::decay_t<decltype(v)>(v.geometry()); }, grey);
  auto reader = [&](const Box& box) -> AnyVolume {
    return std::visit([&](const auto& v) -> AnyVolume { return v.Crop(box); }, grey);
  };
  auto writer = [&](std::int64_t z0, const Volume<float>& slab) {
    std::visit(
        [&](auto& out) {
          using T = typename std::decay_t<decltype(out)>::value_type;
          T* dst = out.data() + z0 * out.ny() * out.nx();
          const float* src = slab.data();
          for (std::int64_t i = 0, n = slab.size(); i < n; ++i) dst[i] = FromFloat<T>(src[i]);
        },
        result);
  };
  NlmReport r = NonLocalMeansStreamed(geom, reader, writer, o);
  r.sigma_estimated = estimated;
  if (report) *report = r;
  return result;
}

AnyVolume GaussianFilter(const AnyVolume& grey, double sigma_um, ThreadBudget threads) {
  if (!(sigma_um > 0) || !std::isfinite(sigma_um))
    throw InvalidArgument("gaussian filter: sigma_um must be > 0, got " + std::to_string(sigma_um));
  Volume<float> f = ToFloat(grey);
  const Vec3 sp = f.spacing_um();
  GaussianSmooth(f.data(), f.shape(), {sigma_um / sp[0], sigma_um / sp[1], sigma_um / sp[2]}, threads);
  return std::visit(
      [&](const auto& v) -> AnyVolume {
        using T = typename std::decay_t<decltype(v)>::value_type;
        Volume<T> out(v.geometry());
        for (std::int64_t i = 0, m = f.size(); i < m; ++i) out[i] = FromFloat<T>(f[i]);
        return out;
      },
      grey);
}

}  // namespace op4d
