// Throat open/closed history and percolation over a campaign, network and radii given:
//   op4d_bench_throats [--throats N] [--frames K] [--threads T]
// A cubic lattice network thinned evenly to N throats (inlet z = 0, outlet z = last), log-normal radii that drift from frame to
// frame, a pressure ramp that crosses the entry pressures. Prints seconds and peak memory.
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>

#include "op4d/track/throats/percolation_history.h"

#include "bench_util.h"

using namespace op4d;

int main(int argc, char** argv) {
  std::int64_t throats = 100000, frames = 100;
  int threads = 0;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--throats")) throats = std::atoll(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--frames")) frames = std::atoll(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--threads")) threads = std::atoi(argv[i + 1]);
  }
  const std::int64_t n = std::int64_t(std::ceil(std::cbrt(double(throats) / 3.0))) + 1;
  ThroatGraph g;
  g.nodes = n * n * n;
  auto id = [&](std::int64_t z, std::int64_t y, std::int64_t x) { return std::int32_t((z * n + y) * n + x); };
  for (std::int64_t z = 0; z < n; ++z)
    for (std::int64_t y = 0; y < n; ++y)
      for (std::int64_t x = 0; x < n; ++x) {
        if (x + 1 < n) g.conns.push_back({id(z, y, x), id(z, y, x + 1)});
        if (y + 1 < n) g.conns.push_back({id(z, y, x), id(z, y + 1, x)});
        if (z + 1 < n) g.conns.push_back({id(z, y, x), id(z + 1, y, x)});
      }
  {  // thin the lattice evenly to exactly `throats` (keeps it spanning)
    std::vector<std::pair<std::int32_t, std::int32_t>> kept;
    const std::int64_t total = std::int64_t(g.conns.size());
    for (std::int64_t i = 0; i < total; ++i)
      if ((i + 1) * throats / total > i * throats / total) kept.push_back(g.conns[std::size_t(i)]);
    g.conns = std::move(kept);
  }
  g.inlet.assign(std::size_t(g.nodes), 0);
  g.outlet.assign(std::size_t(g.nodes), 0);
  for (std::int64_t i = 0; i < n * n; ++i) {
    g.inlet[std::size_t(i)] = 1;
    g.outlet[std::size_t(g.nodes - 1 - i)] = 1;
  }
  ThroatSeries s;
  s.throats = throats;
  std::mt19937 rng(7);
  std::normal_distribution<float> lognormal(0.0f, 0.5f), step(0.0f, 0.05f);
  std::vector<float> r(static_cast<std::size_t>(throats));
  for (float& v : r) v = std::exp(lognormal(rng));  // median 1 um
  for (std::int64_t k = 0; k < frames; ++k) {
    s.time_s.push_back(60.0 * double(k) + (k % 3) * 7.0);  // uneven spacing
    s.p_app_Pa.push_back(2e4 + 4e3 * double(k));           // entry pressure of r = 1 um is 1e5 Pa
    for (float& v : r) v = std::max(0.0f, v * std::exp(step(rng)));
    s.radius_um.insert(s.radius_um.end(), r.begin(), r.end());
  }
  const YoungLaplace law{0.05, 0.0, 0.3};
  const long base = bench::PeakRssKiB();
  const auto t0 = std::chrono::steady_clock::now();
  const PercolationHistory h = AnalysePercolationHistory(g, s, law, ThreadBudget{threads});
  const double sec = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("%lld throats (%lld nodes) x %lld frames, threads %d: %.2f s, peak RSS +%.0f MiB beyond the inputs; "
              "percolation fraction %.4f, %lld reopen events, first loss at %.0f s\n",
              static_cast<long long>(throats), static_cast<long long>(g.nodes), static_cast<long long>(frames),
              ThreadBudget{threads}.Resolve(), sec, double(bench::PeakRssKiB() - base) / 1024.0, h.percolation_fraction,
              static_cast<long long>(h.reopen_events), h.first_loss_time_s);
  return 0;
}
