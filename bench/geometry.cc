// All geometry descriptors of one labelled frame (issue 4), with the time of each.
//   op4d_bench_geometry --tiff LABELS.tif --spacing S [--threads T]   (labels 0 pore, 1 active, 2 binder)
//   op4d_bench_geometry --synthetic N [--radius-um R] [--threads T]   (a synthetic electrode frame, N^3,
//                                                                      0.5 um voxels, particles of median radius R, default 3 um)
// Prints every table DescribeFrame produces and the peak resident memory beyond the input.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "op4d/io/import.h"
#include "op4d/pipeline/geometry.h"
#include "op4d/synth/campaign.h"

#include "bench_util.h"

using namespace op4d;

namespace {
void Print(const ResultTable& t) {
  std::printf("\n%s\n|", t.name.c_str());
  for (const ResultColumn& c : t.columns) std::printf(" %s [%s] |", c.name.c_str(), c.unit.c_str());
  std::printf("\n|");
  for (std::size_t i = 0; i < t.columns.size(); ++i) std::printf("---|");
  std::printf("\n");
  for (std::size_t r = 0; r < std::min<std::size_t>(t.rows(), 8); ++r) {
    std::printf("|");
    for (const ResultColumn& c : t.columns) std::printf(" %.6g |", c.values[r]);
    std::printf("\n");
  }
  if (t.rows() > 8) std::printf("(%zu rows)\n", t.rows());
}
}  // namespace

int main(int argc, char** argv) {
  std::string tiff;
  double spacing = 1.0;
  std::int64_t synthetic = 0;
  double radius_um = 3.0;
  int threads = 0;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string a = argv[i];
    if (a == "--tiff") tiff = argv[i + 1];
    else if (a == "--spacing") spacing = std::atof(argv[i + 1]);
    else if (a == "--synthetic") synthetic = std::atoll(argv[i + 1]);
    else if (a == "--threads") threads = std::atoi(argv[i + 1]);
    else if (a == "--radius-um") radius_um = std::atof(argv[i + 1]);
  }
  PhaseVolume phases;
  if (!tiff.empty()) {
    const AnyVolume v = ReadTiffStack(tiff);
    const auto& lab = std::get<Volume<std::uint8_t>>(v);
    Geometry g = lab.geometry();
    g.spacing_um = {spacing, spacing, spacing};
    phases = PhaseVolume(g);
    for (std::int64_t i = 0; i < lab.size(); ++i) phases[i] = lab[i];
    std::printf("# %s, spacing %g um, %s\n", tiff.c_str(), spacing, g.ToString().c_str());
  } else {
    SynthOptions so;
    so.shape = {synthetic, synthetic, synthetic};
    so.frames = 1;
    so.snr = 0;
    so.supersample = 1;
    so.radius_um = radius_um;
    const auto t0 = std::chrono::steady_clock::now();
    phases = SynthCampaign(so).Render(0).phases;
    std::printf("# synthetic electrode frame %lld^3 (0.5 um voxels, median particle radius %g um), rendered in %.1f s\n",
                static_cast<long long>(synthetic), radius_um, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  bench::ResetPeakRss();
  const long before_kib = bench::StatusKiB("VmRSS:");
  GeometryRunOptions o;
  o.threads.threads = threads;
  o.adhesion.adhesion_energy_J_per_m2 = 1.0;  // G_c = 1 J/m^2 and T_max = 1 MPa: E_adh, F_max per unit values
  o.adhesion.adhesion_strength_Pa = 1e6;
  const auto t0 = std::chrono::steady_clock::now();
  const FrameGeometry g = DescribeFrame(phases, o);
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  for (const ResultTable& t : g.Tables())
    if (t.name != "particles" && t.name != "particle_contacts") Print(t);
  std::printf("\n# all descriptors %.1f s; peak memory beyond the input %.0f MiB = %.1f bytes per voxel\n", secs,
              (bench::PeakRssKiB() - before_kib) / 1024.0, (bench::PeakRssKiB() - before_kib) * 1024.0 / double(phases.size()));
  return 0;
}
