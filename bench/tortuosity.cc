// Tortuosity factor of one phase along z, y, x by the finite-volume solver.
//   op4d_bench_tortuosity --tiff LABELS.tif --label L --spacing S [--axes zyx] [--threads T]
//   op4d_bench_tortuosity --packing N [--axes zyx] [--threads T]   (random solid spheres, porosity ~0.4)
//   add --preconditioner jacobi for the baseline (default multigrid), --tolerance T for the relative
//   residual (default the solver's, 1e-8)
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

#include "bench_util.h"

using namespace op4d;


int main(int argc, char** argv) {
  std::string tiff, axes = "zyx";
  int label = 0, threads = 0;
  double spacing = 1.0;
  std::int64_t packing = 0;
  bool jacobi = false;
  double tolerance = 0;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string a = argv[i];
    if (a == "--tiff") tiff = argv[i + 1];
    else if (a == "--label") label = std::atoi(argv[i + 1]);
    else if (a == "--spacing") spacing = std::atof(argv[i + 1]);
    else if (a == "--packing") packing = std::atoll(argv[i + 1]);
    else if (a == "--axes") axes = argv[i + 1];
    else if (a == "--threads") threads = std::atoi(argv[i + 1]);
    else if (a == "--preconditioner") jacobi = std::string(argv[i + 1]) == "jacobi";
    else if (a == "--tolerance") tolerance = std::atof(argv[i + 1]);
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
    mask = bench::SpherePacking(packing, 4, 6, 0.6);
    std::printf("# random sphere packing %lld^3, pore phase\n", static_cast<long long>(packing));
  }
  std::int64_t conducting = 0;
  for (auto v : mask.values()) conducting += v;
  std::printf("| axis | eps | percolating | D_eff/D_bulk | tau | flux balance | iterations | seconds | solver peak B/conducting voxel | status |\n|---|---|---|---|---|---|---|---|---|---|\n");
  for (char ax : axes) {
    DiffusionOptions o;
    o.axis = ax == 'z' ? 0 : ax == 'y' ? 1 : 2;
    o.threads.threads = threads;
    o.preconditioner = jacobi ? Preconditioner::kJacobi : Preconditioner::kMultigrid;
    if (tolerance > 0) o.tolerance = tolerance;
    // Solver memory: the peak resident set during the solve above the resident set before it.
    bench::ResetPeakRss();
    const long before_kib = bench::StatusKiB("VmRSS:");
    const auto t0 = std::chrono::steady_clock::now();
    const DiffusionResult r = ComputeTortuosity(mask, o);
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const double solver_bytes = double(bench::PeakRssKiB() - before_kib) * 1024.0;
    std::printf("| %c | %.4f | %.4f | %.6f | %.5f | %.1e | %d | %.2f | %.1f | %s |\n", ax, r.volume_fraction, r.percolating_fraction,
                r.d_eff, r.tau, r.flux_balance, r.iterations, secs, solver_bytes / double(conducting), ToString(r.status));
    std::fflush(stdout);
  }
  std::printf("# peak RSS %.0f MiB = %.0f bytes per conducting voxel (whole process, input included)\n", bench::PeakRssKiB() / 1024.0,
              bench::PeakRssKiB() * 1024.0 / double(conducting));
  return 0;
}
