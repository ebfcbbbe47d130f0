// Per-frame kernels on a random sphere packing (porosity ~0.4):
//   op4d_bench_frame --kernel edt|lt|cc6|cc26|surface [--edge N] [--threads T]
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

#include "op4d/frame/geometry/size_distribution.h"
#include "op4d/frame/geometry/surface_area.h"
#include "op4d/frame/network/distance_transform.h"
#include "op4d/frame/segment/connectivity.h"

#include "bench_util.h"

using namespace op4d;
using Clock = std::chrono::steady_clock;


int main(int argc, char** argv) {
  std::string kernel = "edt";
  std::int64_t edge = 256;
  int threads = 0;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--kernel")) kernel = argv[i + 1];
    else if (!std::strcmp(argv[i], "--edge")) edge = std::atoll(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--threads")) threads = std::atoi(argv[i + 1]);
  }
  const Volume<std::uint8_t> pore = bench::SpherePacking(edge, 6, 9, 0.6);
  const long base = bench::PeakRssKiB();
  double times[3];
  std::size_t count = 0;
  for (double& t : times) {
    const auto t0 = Clock::now();
    if (kernel == "edt") {
      count = std::size_t(DistanceTransform(pore, {ThreadBudget{threads}}).size());
    } else if (kernel == "surface") {  // smoothed indicator + marching tetrahedra; result in µm² (spacing 1)
      SurfaceAreaOptions o;
      o.threads = ThreadBudget{threads};
      count = std::size_t(std::lround(MaskSurfaceArea(pore, o)));
    } else if (kernel == "lt") {
      count = std::size_t(LocalThickness(pore, ThreadBudget{threads}).size());
    } else {
      const Connectivity c = kernel == "cc6" ? Connectivity::k6 : Connectivity::k26;
      count = LabelComponents(pore, {c, ThreadBudget{threads}}).components.size();
    }
    t = std::chrono::duration<double>(Clock::now() - t0).count();
  }
  std::sort(times, times + 3);
  const long peak = bench::PeakRssKiB();
  std::printf("%s %lld^3 threads %d: %.2f s (median of 3), peak RSS %.0f MiB (input mask %.0f MiB, +%.1f bytes/voxel), result %zu\n",
              kernel.c_str(), static_cast<long long>(edge), ThreadBudget{threads}.Resolve(), times[1], peak / 1024.0,
              double(pore.size()) / 1048576.0, double(peak - base) * 1024.0 / double(pore.size()), count);
  return 0;
}
