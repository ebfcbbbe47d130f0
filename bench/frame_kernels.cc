// Per-frame kernels on a random sphere packing (porosity ~0.4):
//   op4d_bench_frame --kernel edt|cc6|cc26 [--edge N] [--threads T]
// Prints seconds (median of 3) and the process's peak resident memory; run one kernel per process so
// the peak belongs to it.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <random>
#include <string>

#include "op4d/frame/network/distance_transform.h"
#include "op4d/frame/segment/connectivity.h"

using namespace op4d;
using Clock = std::chrono::steady_clock;

namespace {
long PeakRssKiB() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("VmHWM:", 0) == 0) return std::atol(line.c_str() + 6);
  return -1;
}

// Solid spheres (radius 6..14 voxels) until the solid fraction reaches 0.6; mask = pore.
Volume<std::uint8_t> PorePacking(std::int64_t n) {
  Geometry g;
  g.shape = {n, n, n};
  g.spacing_um = {1, 1, 1};
  Volume<std::uint8_t> m(g, 1);
  std::mt19937 rng(1);
  std::int64_t solid = 0;
  while (solid < 0.6 * double(m.size())) {
    const double r = 6 + (rng() % 900) / 100.0;
    const double c[3] = {double(rng() % n), double(rng() % n), double(rng() % n)};
    const std::int64_t ri = std::int64_t(r) + 1;
    for (std::int64_t z = std::max<std::int64_t>(0, std::int64_t(c[0]) - ri); z <= std::min(n - 1, std::int64_t(c[0]) + ri); ++z)
      for (std::int64_t y = std::max<std::int64_t>(0, std::int64_t(c[1]) - ri); y <= std::min(n - 1, std::int64_t(c[1]) + ri); ++y)
        for (std::int64_t x = std::max<std::int64_t>(0, std::int64_t(c[2]) - ri); x <= std::min(n - 1, std::int64_t(c[2]) + ri); ++x) {
          const double d2 = (z - c[0]) * (z - c[0]) + (y - c[1]) * (y - c[1]) + (x - c[2]) * (x - c[2]);
          if (d2 <= r * r && m(z, y, x)) {
            m(z, y, x) = 0;
            ++solid;
          }
        }
  }
  return m;
}
}  // namespace

int main(int argc, char** argv) {
  std::string kernel = "edt";
  std::int64_t edge = 256;
  int threads = 0;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--kernel")) kernel = argv[i + 1];
    else if (!std::strcmp(argv[i], "--edge")) edge = std::atoll(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--threads")) threads = std::atoi(argv[i + 1]);
  }
  const Volume<std::uint8_t> pore = PorePacking(edge);
  const long base = PeakRssKiB();
  double times[3];
  std::size_t count = 0;
  for (double& t : times) {
    const auto t0 = Clock::now();
    if (kernel == "edt") {
      count = std::size_t(DistanceTransform(pore, {ThreadBudget{threads}}).size());
    } else {
      const Connectivity c = kernel == "cc6" ? Connectivity::k6 : Connectivity::k26;
      count = LabelComponents(pore, {c, ThreadBudget{threads}}).components.size();
    }
    t = std::chrono::duration<double>(Clock::now() - t0).count();
  }
  std::sort(times, times + 3);
  const long peak = PeakRssKiB();
  std::printf("%s %lld^3 threads %d: %.2f s (median of 3), peak RSS %.0f MiB (input mask %.0f MiB, +%.1f bytes/voxel), result %zu\n",
              kernel.c_str(), static_cast<long long>(edge), ThreadBudget{threads}.Resolve(), times[1], peak / 1024.0,
              double(pore.size()) / 1048576.0, double(peak - base) * 1024.0 / double(pore.size()), count);
  return 0;
}
