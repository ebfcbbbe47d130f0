// Pore-network extraction, step by step (EDT, skeleton, whole network), on a random sphere packing
// (porosity ~0.4) or on a labelled volume:
//   op4d_bench_network [--edge N] [--threads T]
//   op4d_bench_network --input FILE --pore-value V [--spacing Z Y X] [--threads T]
// Prints seconds per step and the process's peak resident memory above the input mask.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>

#include "op4d/frame/network/distance_transform.h"
#include "op4d/frame/network/pore_network.h"
#include "op4d/frame/network/skeleton.h"
#include "op4d/io/import.h"
#include "op4d/pipeline/network.h"

#include "bench_util.h"

using namespace op4d;
using Clock = std::chrono::steady_clock;

namespace {
double Since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

Volume<std::uint8_t> LoadPore(const std::string& path, int pore_value, const std::optional<Vec3>& spacing) {
  ImportOptions io;
  io.spacing_um = spacing;
  return PoreMaskFromLabels(OpenInput(path, io)->ReadFrame(0), pore_value);
}
}  // namespace

int main(int argc, char** argv) {
  std::int64_t edge = 256;
  int threads = 0, pore_value = 0;
  std::string input;
  std::optional<Vec3> spacing;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--edge") && i + 1 < argc) edge = std::atoll(argv[++i]);
    else if (!std::strcmp(argv[i], "--threads") && i + 1 < argc) threads = std::atoi(argv[++i]);
    else if (!std::strcmp(argv[i], "--input") && i + 1 < argc) input = argv[++i];
    else if (!std::strcmp(argv[i], "--pore-value") && i + 1 < argc) pore_value = std::atoi(argv[++i]);
    else if (!std::strcmp(argv[i], "--spacing") && i + 3 < argc) {
      spacing = Vec3{std::atof(argv[i + 1]), std::atof(argv[i + 2]), std::atof(argv[i + 3])};
      i += 3;
    }
  }
  const Volume<std::uint8_t> pore = input.empty() ? bench::SpherePacking(edge, 6, 9, 0.6) : LoadPore(input, pore_value, spacing);
  const std::string what = input.empty() ? "packing " + std::to_string(edge) + "^3" : input;
  const double mib = double(pore.size()) / 1048576.0;
  const ThreadBudget budget{threads};

  bench::ResetPeakRss();
  long base = bench::PeakRssKiB();
  auto t0 = Clock::now();
  Volume<float> dist = DistanceTransform(pore, {budget});
  const double t_edt = Since(t0);
  const double edt_bpv = double(bench::PeakRssKiB() - base) * 1024.0 / double(pore.size());
  t0 = Clock::now();
  const Skeleton skel = Skeletonize(pore, dist, {});
  const double t_skel = Since(t0);
  dist = Volume<float>();

  bench::ResetPeakRss();
  base = bench::PeakRssKiB();
  NetworkOptions o;
  o.threads = budget;
  o.progress = ProgressStyle::kOff;
  t0 = Clock::now();
  const PoreNetwork net = ExtractPoreNetwork(pore, o);
  const double t_net = Since(t0);
  const double net_bpv = double(bench::PeakRssKiB() - base) * 1024.0 / double(pore.size());
  std::printf("%s (%.0f MiB mask), threads %d:\n", what.c_str(), mib, budget.Resolve());
  std::printf("  EDT %.2f s (+%.1f bytes/voxel); skeleton (thinning + trimming) %.2f s, %lld voxels, %lld simple tests\n",
              t_edt, edt_bpv, t_skel, static_cast<long long>(skel.voxel_count), static_cast<long long>(skel.simple_tests));
  std::printf("  full network (fill, topology, EDT, skeleton, graph, partition) %.2f s, peak +%.1f bytes/voxel\n", t_net,
              net_bpv);
  std::printf("  %zu nodes, %zu throats; loops graph %lld / pore %lld; components %lld / %lld; cavities filled %lld\n",
              net.nodes.size(), net.throats.size(), static_cast<long long>(net.graph_loops),
              static_cast<long long>(net.pore.loops), static_cast<long long>(net.graph_components),
              static_cast<long long>(net.pore.components), static_cast<long long>(net.cavities_filled));
  return 0;
}
