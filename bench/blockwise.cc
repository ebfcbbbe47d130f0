// Block-wise kernels on frames of beamline size (issue 30): fractions, components and percolation of
// pore and solid, pore EDT, interface areas, each reading the frame slab by slab, with the seconds
// and the peak resident memory of each (peak mark reset before each kernel, so a figure is that
// kernel's working set plus the reader's slab).
//   op4d_bench_blockwise --edge N [--slab S] [--spacing UM] [--threads T] [--whole 1] [--kernels fceas]
// kernels: f fractions, c components, e EDT, a interface areas, s the nlm+gmm segmentation (block-wise
// SegmentNlmGmmStreamed on a grey frame rendered from the phases: pure values 8000 / 30000 / 20000
// for pore / active / binder, white noise of sigma 2000 from a hash of the voxel index, no blur).
// The frame is a procedural electrode generated slab by slab (any slab on demand, no frame in
// memory): solid spheres of radius 6-10 voxels on a jittered lattice of 15-voxel cells (9 cells in 10
// hold one), a 1.5-voxel carbon-binder shell around every third sphere, pore elsewhere. With
// --whole 1 the whole-volume kernels also run on the frame held in memory, side by side, and the
// results are compared (they must be identical).
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "op4d/core/phase.h"
#include "op4d/core/slabs.h"
#include "op4d/frame/geometry/surface_area.h"
#include "op4d/frame/network/distance_transform.h"
#include "op4d/frame/segment/connectivity.h"
#include "op4d/frame/segment/segment_streamed.h"

#include "bench_util.h"

using namespace op4d;

namespace {
struct Sphere {
  double z, y, x, r;
  bool binder;
};

std::vector<Sphere> Spheres(std::int64_t n, std::uint32_t seed) {
  const std::int64_t cell = 15, cells = (n + cell - 1) / cell;
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> u(0, 1);
  std::vector<Sphere> s;
  for (std::int64_t k = 0; k < cells; ++k)
    for (std::int64_t j = 0; j < cells; ++j)
      for (std::int64_t i = 0; i < cells; ++i) {
        const double keep = u(rng), r = 6 + 4 * u(rng), dz = u(rng), dy = u(rng), dx = u(rng), b = u(rng);
        if (keep < 0.1) continue;
        s.push_back({(double(k) + dz) * cell, (double(j) + dy) * cell, (double(i) + dx) * cell, r, b < 1.0 / 3});
      }
  return s;
}

// Planes [z0, z1) of the procedural frame: phases 0 pore, 1 active, 2 binder.
void Rasterise(const std::vector<Sphere>& spheres, const Geometry& frame, std::int64_t z0, std::int64_t z1,
               Volume<std::uint8_t>& out) {
  Geometry g = frame;
  g.shape = {z1 - z0, frame.shape[1], frame.shape[2]};
  g.origin_um[0] += double(z0) * frame.spacing_um[0];
  if (out.shape() != g.shape) out = Volume<std::uint8_t>(g);
  out.set_origin_um(g.origin_um);
  std::fill(out.values().begin(), out.values().end(), std::uint8_t(0));
  const std::int64_t ny = g.shape[1], nx = g.shape[2];
  for (int pass = 0; pass < 2; ++pass)
    for (const Sphere& s : spheres) {
      if (pass == 0 && !s.binder) continue;
      const double r = pass == 0 ? s.r + 1.5 : s.r;
      if (s.z + r < double(z0) || s.z - r >= double(z1)) continue;
      const std::uint8_t value = pass == 0 ? 2 : 1;
      for (std::int64_t z = std::max<std::int64_t>(z0, std::int64_t(std::ceil(s.z - r))); z <= std::min<std::int64_t>(z1 - 1, std::int64_t(s.z + r)); ++z) {
        const double rz2 = r * r - (double(z) - s.z) * (double(z) - s.z);
        if (rz2 < 0) continue;
        const double ry = std::sqrt(rz2);
        for (std::int64_t y = std::max<std::int64_t>(0, std::int64_t(std::ceil(s.y - ry))); y <= std::min<std::int64_t>(ny - 1, std::int64_t(s.y + ry)); ++y) {
          const double rx2 = rz2 - (double(y) - s.y) * (double(y) - s.y);
          if (rx2 < 0) continue;
          const double rx = std::sqrt(rx2);
          std::uint8_t* row = out.data() + out.Offset(z - z0, y, 0);
          for (std::int64_t x = std::max<std::int64_t>(0, std::int64_t(std::ceil(s.x - rx))); x <= std::min<std::int64_t>(nx - 1, std::int64_t(s.x + rx)); ++x)
            if (pass == 1 || row[x] == 0) row[x] = value;
        }
      }
    }
}

// Reproducible white noise per voxel (SplitMix64 of the index, Box-Muller).
float Noise(std::uint64_t i) {
  auto mix = [](std::uint64_t z) {
    z += 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  };
  const double u1 = (double(mix(2 * i) >> 11) + 0.5) / 9007199254740992.0, u2 = double(mix(2 * i + 1) >> 11) / 9007199254740992.0;
  return float(std::sqrt(-2 * std::log(u1)) * std::cos(6.283185307179586 * u2));
}

double Seconds(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}
}  // namespace

int main(int argc, char** argv) {
  std::int64_t edge = 256, slab = 64;
  double spacing = 0.5;
  int threads = 2;
  bool whole = false;
  std::string kernels = "fcea";
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string a = argv[i];
    if (a == "--edge") edge = std::atoll(argv[i + 1]);
    else if (a == "--slab") slab = std::atoll(argv[i + 1]);
    else if (a == "--spacing") spacing = std::atof(argv[i + 1]);
    else if (a == "--threads") threads = std::atoi(argv[i + 1]);
    else if (a == "--whole") whole = std::atoi(argv[i + 1]) != 0;
    else if (a == "--kernels") kernels = argv[i + 1];
    else {
      std::fprintf(stderr, "unknown option %s\n", a.c_str());
      return 2;
    }
  }
  Geometry frame;
  frame.shape = {edge, edge, edge};
  frame.spacing_um = {spacing, spacing, spacing};
  const std::vector<Sphere> spheres = Spheres(edge, 1);
  const ThreadBudget tb{threads};
  const double voxels = double(frame.voxel_count());
  std::printf("# %s, %zu spheres, slab %lld planes, %d threads\n", frame.ToString().c_str(), spheres.size(),
              (long long)slab, threads);
  std::printf("| kernel | mode | seconds | peak RSS MiB | B per voxel | result |\n|---|---|---|---|---|---|\n");
  auto row = [&](const char* k, const char* mode, double s, long kib, const std::string& result) {
    std::printf("| %s | %s | %.1f | %.0f | %.2f | %s |\n", k, mode, s, double(kib) / 1024.0, double(kib) * 1024.0 / voxels,
                result.c_str());
    std::fflush(stdout);
  };
  // Readers: the phases, and 0/1 masks of one phase.
  const SlabReader<std::uint8_t> phases = [&](std::int64_t z0, std::int64_t z1, Volume<std::uint8_t>& out) {
    Rasterise(spheres, frame, z0, z1, out);
  };
  auto mask_of = [&](std::uint8_t phase, bool invert) {
    return SlabReader<std::uint8_t>([&, phase, invert](std::int64_t z0, std::int64_t z1, Volume<std::uint8_t>& out) {
      Rasterise(spheres, frame, z0, z1, out);
      for (auto& v : out.values()) v = (v == phase) != invert;
    });
  };
  const long base = bench::StatusKiB("VmRSS:");
  std::printf("# resident before the kernels: %.0f MiB\n", double(base) / 1024.0);
  std::vector<std::int64_t> counts(3, 0);
  StreamedComponents pore_c, solid_c;
  double pore_area = 0;
  std::vector<InterfaceArea> areas;
  char buf[256];
  if (kernels.find('f') != std::string::npos) {
    bench::ResetPeakRss();
    const auto t0 = std::chrono::steady_clock::now();
    Volume<std::uint8_t> s;
    for (std::int64_t z0 = 0; z0 < edge; z0 += slab) {
      phases(z0, std::min(edge, z0 + slab), s);
      for (std::uint8_t v : s.values()) ++counts[v < 3 ? v : 0];
    }
    std::snprintf(buf, sizeof buf, "pore %.4f, active %.4f, binder %.4f", double(counts[0]) / voxels,
                  double(counts[1]) / voxels, double(counts[2]) / voxels);
    row("phase fractions", "block-wise", Seconds(t0), bench::PeakRssKiB() - base, buf);
  }
  if (kernels.find('c') != std::string::npos) {
    bench::ResetPeakRss();
    auto t0 = std::chrono::steady_clock::now();
    pore_c = LabelComponentsStreamed(frame, mask_of(0, false), slab, {Connectivity::k26, tb});
    auto f = SpanningFractions(pore_c.components);
    std::snprintf(buf, sizeof buf, "pore (26): %zu components, spanning z %.4f", pore_c.components.size(), f[0]);
    row("components + percolation, pore", "block-wise", Seconds(t0), bench::PeakRssKiB() - base, buf);
    bench::ResetPeakRss();
    t0 = std::chrono::steady_clock::now();
    solid_c = LabelComponentsStreamed(frame, mask_of(0, true), slab, {Connectivity::k6, tb});
    f = SpanningFractions(solid_c.components);
    std::snprintf(buf, sizeof buf, "solid (6): %zu components, spanning z %.4f", solid_c.components.size(), f[0]);
    row("components + percolation, solid", "block-wise", Seconds(t0), bench::PeakRssKiB() - base, buf);
  }
  double edt_sum = 0;
  float edt_max = 0;
  if (kernels.find('e') != std::string::npos) {
    bench::ResetPeakRss();
    const auto t0 = std::chrono::steady_clock::now();
    StreamedDistanceOptions o;
    o.threads = tb;
    o.block_bytes = std::int64_t(256) << 20;
    o.progress = ProgressStyle::kOff;
    DistanceTransformStreamed(frame, mask_of(0, false), [&](const Box&, const Volume<float>& d) {
      for (float v : d.values()) {
        edt_sum += v;
        edt_max = std::max(edt_max, v);
      }
    }, o);
    std::snprintf(buf, sizeof buf, "pore EDT: max %.3f um, sum %.6g um", double(edt_max), edt_sum);
    row("distance transform, pore", "block-wise", Seconds(t0), bench::PeakRssKiB() - base, buf);
  }
  if (kernels.find('a') != std::string::npos) {
    bench::ResetPeakRss();
    const auto t0 = std::chrono::steady_clock::now();
    SurfaceAreaOptions o;
    o.threads = tb;
    areas = ComputeInterfaceAreasStreamed(frame, phases, PhaseTable::Electrode(), slab, o);
    std::snprintf(buf, sizeof buf, "a_s pore|active %.6f, pore|binder %.6f, active|binder %.6f um^-1",
                  areas[0].specific_area_per_um, areas[1].specific_area_per_um, areas[2].specific_area_per_um);
    row("interface areas (3 pairs)", "block-wise", Seconds(t0), bench::PeakRssKiB() - base, buf);
  }
  if (kernels.find('s') != std::string::npos) {
    const double pure[3] = {8000, 30000, 20000};
    const RegionReader grey = [&](const Box& box) -> AnyVolume {
      Volume<std::uint8_t> p;
      Rasterise(spheres, frame, box.begin[0], box.begin[0] + box.size[0], p);
      Geometry g = p.geometry();
      Volume<std::uint16_t> out(g);
      const std::int64_t plane = edge * edge;
      for (std::int64_t i = 0; i < out.size(); ++i)
        out[i] = std::uint16_t(std::clamp(pure[p[i]] + 2000.0 * Noise(std::uint64_t(box.begin[0] * plane + i)), 0.0, 65535.0));
      return out.Crop(Box{{0, box.begin[1], box.begin[2]}, box.size});
    };
    bench::ResetPeakRss();
    const auto t0 = std::chrono::steady_clock::now();
    StreamedSegmentationOptions o;
    o.class_labels = {0, 2, 1};
    o.slab_z = slab;
    o.threads = tb;
    o.progress = ProgressStyle::kLines;
    std::vector<std::int64_t> agree(3, 0), truth(3, 0), got(3, 0);
    Volume<std::uint8_t> t;
    const StreamedSegmentationReport r = SegmentNlmGmmStreamed(frame, grey, [&](const Box& box, const Volume<std::uint8_t>& l) {
      Rasterise(spheres, frame, box.begin[0], box.begin[0] + box.size[0], t);
      for (std::int64_t i = 0; i < l.size(); ++i) {
        ++truth[t[i]];
        ++got[l[i] < 3 ? l[i] : 0];
        agree[t[i]] += t[i] == l[i];
      }
    }, o);
    std::snprintf(buf, sizeof buf, "Dice pore %.4f, active %.4f, binder %.4f; porosity %.4f (truth %.4f); NLM sigma %.0f",
                  2.0 * agree[0] / double(truth[0] + got[0]), 2.0 * agree[1] / double(truth[1] + got[1]),
                  2.0 * agree[2] / double(truth[2] + got[2]), double(got[0]) / voxels, double(truth[0]) / voxels, r.nlm.sigma);
    row("segmentation nlm+gmm (+PV, refinement)", "block-wise", Seconds(t0), bench::PeakRssKiB() - base, buf);
  }
  if (!whole) return 0;
  // The same kernels on the frame held in memory.
  bench::ResetPeakRss();
  Volume<std::uint8_t> all;
  phases(0, edge, all);
  Volume<std::uint8_t> pore(frame), solid(frame);
  for (std::int64_t i = 0; i < all.size(); ++i) {
    pore[i] = all[i] == 0;
    solid[i] = all[i] != 0;
  }
  const long held = bench::StatusKiB("VmRSS:");
  std::printf("# whole frame held in memory (phases + two masks): %.0f MiB\n", double(held - base) / 1024.0);
  bool same = true;
  if (kernels.find('c') != std::string::npos) {
    bench::ResetPeakRss();
    auto t0 = std::chrono::steady_clock::now();
    const ComponentLabels pc = LabelComponents(pore, {Connectivity::k26, tb});
    const bool ok = pc.components.size() == pore_c.components.size() && SpanningFractions(pc) == SpanningFractions(pore_c.components);
    same = same && ok;
    row("components + percolation, pore", "whole volume", Seconds(t0), bench::PeakRssKiB() - held, ok ? "identical" : "DIFFERENT");
    bench::ResetPeakRss();
    t0 = std::chrono::steady_clock::now();
    const ComponentLabels sc = LabelComponents(solid, {Connectivity::k6, tb});
    const bool ok2 = sc.components.size() == solid_c.components.size() && SpanningFractions(sc) == SpanningFractions(solid_c.components);
    same = same && ok2;
    row("components + percolation, solid", "whole volume", Seconds(t0), bench::PeakRssKiB() - held, ok2 ? "identical" : "DIFFERENT");
  }
  if (kernels.find('e') != std::string::npos) {
    bench::ResetPeakRss();
    const auto t0 = std::chrono::steady_clock::now();
    const Volume<float> d = DistanceTransform(pore, {tb});
    double sum = 0;
    float mx = 0;
    for (float v : d.values()) {
      sum += v;
      mx = std::max(mx, v);
    }
    const bool ok = sum == edt_sum && mx == edt_max;
    same = same && ok;
    row("distance transform, pore", "whole volume", Seconds(t0), bench::PeakRssKiB() - held, ok ? "identical" : "DIFFERENT");
  }
  if (kernels.find('a') != std::string::npos) {
    bench::ResetPeakRss();
    const auto t0 = std::chrono::steady_clock::now();
    SurfaceAreaOptions o;
    o.threads = tb;
    const std::vector<InterfaceArea> w = ComputeInterfaceAreas(all, PhaseTable::Electrode(), o);
    bool ok = w.size() == areas.size();
    for (std::size_t k = 0; ok && k < w.size(); ++k)
      ok = w[k].area_um2 == areas[k].area_um2 && w[k].face_count_area_um2 == areas[k].face_count_area_um2;
    same = same && ok;
    row("interface areas (3 pairs)", "whole volume", Seconds(t0), bench::PeakRssKiB() - held, ok ? "identical" : "DIFFERENT");
  }
  return same ? 0 : 1;
}
