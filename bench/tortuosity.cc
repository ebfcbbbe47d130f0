// Tortuosity factor of one phase along z, y, x by the finite-volume solver.
//   op4d_bench_tortuosity --tiff LABELS.tif --label L --spacing S [--axes zyx] [--threads T]
//   op4d_bench_tortuosity --packing N [--axes zyx] [--threads T]   (random solid spheres, porosity ~0.4)
//   add --preconditioner jacobi for the baseline (default multigrid)
// Prints per axis: eps, percolating fraction, D_eff/D_bulk, tau, flux balance, iterations, seconds,
// and the peak resident memory per conducting voxel.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <random>
#include <string>

#include "op4d/frame/transport/diffusion.h"
#include "op4d/io/import.h"

using namespace op4d;

namespace {
long PeakRssKiB() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("VmHWM:", 0) == 0) return std::atol(line.c_str() + 6);
  return -1;
}
Volume<std::uint8_t> Packing(std::int64_t n) {
  Geometry g;
  g.shape = {n, n, n};
  Volume<std::uint8_t> m(g, 1);
  std::mt19937 rng(1);
  std::int64_t solid = 0;
  while (solid < 0.6 * double(m.size())) {
    const double r = 4 + (rng() % 600) / 100.0;
    const double c[3] = {double(rng() % n), double(rng() % n), double(rng() % n)};
    const std::int64_t ri = std::int64_t(r) + 1;
    for (std::int64_t z = std::max<std::int64_t>(0, std::int64_t(c[0]) - ri); z <= std::min(n - 1, std::int64_t(c[0]) + ri); ++z)
      for (std::int64_t y = std::max<std::int64_t>(0, std::int64_t(c[1]) - ri); y <= std::min(n - 1, std::int64_t(c[1]) + ri); ++y)
        for (std::int64_t x = std::max<std::int64_t>(0, std::int64_t(c[2]) - ri); x <= std::min(n - 1, std::int64_t(c[2]) + ri); ++x)
          if ((z - c[0]) * (z - c[0]) + (y - c[1]) * (y - c[1]) + (x - c[2]) * (x - c[2]) <= r * r && m(z, y, x)) {
            m(z, y, x) = 0;
            ++solid;
          }
  }
  return m;
}
}  // namespace

int main(int argc, char** argv) {
  std::string tiff, axes = "zyx";
  int label = 0, threads = 0;
  double spacing = 1.0;
  std::int64_t packing = 0;
  bool jacobi = false;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string a = argv[i];
    if (a == "--tiff") tiff = argv[i + 1];
    else if (a == "--label") label = std::atoi(argv[i + 1]);
    else if (a == "--spacing") spacing = std::atof(argv[i + 1]);
    else if (a == "--packing") packing = std::atoll(argv[i + 1]);
    else if (a == "--axes") axes = argv[i + 1];
    else if (a == "--threads") threads = std::atoi(argv[i + 1]);
    else if (a == "--preconditioner") jacobi = std::string(argv[i + 1]) == "jacobi";
  }
  Volume<std::uint8_t> mask;
  if (!tiff.empty()) {
    const AnyVolume v = ReadTiffStack(tiff);
    const auto& lab = std::get<Volume<std::uint8_t>>(v);
    Geometry g = lab.geometry();
    g.spacing_um = {spacing, spacing, spacing};
    mask = Volume<std::uint8_t>(g);
    for (std::int64_t i = 0; i < lab.size(); ++i) mask[i] = lab[i] == label;
    std::printf("# %s, phase %d, spacing %g um, %s\n", tiff.c_str(), label, spacing, g.ToString().c_str());
  } else {
    mask = Packing(packing);
    std::printf("# random sphere packing %lld^3, pore phase\n", static_cast<long long>(packing));
  }
  std::int64_t conducting = 0;
  for (auto v : mask.values()) conducting += v;
  std::printf("| axis | eps | percolating | D_eff/D_bulk | tau | flux balance | iterations | seconds | status |\n|---|---|---|---|---|---|---|---|---|\n");
  for (char ax : axes) {
    DiffusionOptions o;
    o.axis = ax == 'z' ? 0 : ax == 'y' ? 1 : 2;
    o.threads.threads = threads;
    o.preconditioner = jacobi ? Preconditioner::kJacobi : Preconditioner::kMultigrid;
    const auto t0 = std::chrono::steady_clock::now();
    const DiffusionResult r = ComputeTortuosity(mask, o);
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::printf("| %c | %.4f | %.4f | %.5f | %.4f | %.1e | %d | %.1f | %s |\n", ax, r.volume_fraction, r.percolating_fraction,
                r.d_eff, r.tau, r.flux_balance, r.iterations, secs, ToString(r.status));
    std::fflush(stdout);
  }
  std::printf("# peak RSS %.0f MiB = %.0f bytes per conducting voxel (whole process, input included)\n", PeakRssKiB() / 1024.0,
              PeakRssKiB() * 1024.0 / double(conducting));
  return 0;
}
