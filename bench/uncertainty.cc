// Calibration of the segment step's label ensemble (issue 23): synthetic frames over seeds, SNR and
// voxel spacing, each segmented by nlm+gmm as the segment step does; the ensemble (SegmentEnsemble,
// the step's own code) at every grey jitter asked for; per metric whether the truth (the metric on
// the frame's true labels at voxel centres) lies inside the ensemble's 5-95 % interval. Prints a row
// per frame and jitter, then the coverage table: the share of frames whose interval holds the truth,
// per metric, with the point segmentation's own "interval" (zero width) for comparison.
//
//   op4d_bench_uncertainty [--size N (64)] [--seeds A B (1 20)] [--snr "10 5"] [--spacing-z "0.25 0.35"]
//                          [--jitter "0 0.05 0.1"] [--correlation "0 0.5"] [--samples N (16)] [--temperature T (1)] [--threads T]
//                          [--phantom LABELS] (instead of the synthetic electrode: a labelled volume,
//                          e.g. the real NMC cathode, cut into non-overlapping cubes of --size voxels,
//                          each rendered through the detector with the seed's noise (bench/phantom.h);
//                          its labels are the truth; --spacing-z is not used)
#include <chrono>
#include <cmath>
#include <cstdio>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "bench_util.h"
#include "phantom.h"
#include "op4d/pipeline/campaign.h"
#include "op4d/synth/campaign.h"

using namespace op4d;

namespace {

std::vector<double> Numbers(const std::string& s) {
  std::vector<double> v;
  std::istringstream in(s);
  double x;
  while (in >> x) v.push_back(x);
  return v;
}

double Column(const ResultTable& t, const std::string& name) {
  for (const auto& c : t.columns)
    if (c.name == name) return c.values.at(0);
  std::fprintf(stderr, "no column %s\n", name.c_str());
  std::exit(2);
}

}  // namespace

int main(int argc, char** argv) {
  std::int64_t n = 64;
  int seed_a = 1, seed_b = 20, samples = 16, threads = 0;
  std::vector<double> snrs{10, 5}, spacings_z{0.25, 0.35}, jitters{0, 0.05, 0.1}, correlations{0};
  double temperature = 1;
  std::string phantom;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "%s needs a value\n", a.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--size") n = std::stoll(next());
    else if (a == "--seeds") seed_a = std::stoi(next()), seed_b = std::stoi(next());
    else if (a == "--snr") snrs = Numbers(next());
    else if (a == "--spacing-z") spacings_z = Numbers(next());
    else if (a == "--jitter") jitters = Numbers(next());
    else if (a == "--correlation") correlations = Numbers(next());
    else if (a == "--samples") samples = std::stoi(next());
    else if (a == "--temperature") temperature = std::stod(next());
    else if (a == "--threads") threads = std::stoi(next());
    else if (a == "--phantom") phantom = next();
    else {
      std::fprintf(stderr, "unknown option %s\n", a.c_str());
      return 2;
    }
  }
  const std::vector<std::string> metrics{"fraction_pore", "fraction_binder", "a_s_pore_active", "tau_z_pore"};
  using Setting = std::pair<double, double>;  // jitter, correlation ({-1, 0}: the point value)
  std::map<Setting, std::vector<int>> inside;  // setting -> per metric count
  std::map<Setting, std::vector<double>> rel_width;
  int cases = 0;
  std::printf("seed\tsnr\tdz_um\tcrop\tjitter\tcorrelation\tmetric\ttruth\tpoint\tmean\tp05\tp95\tin\ts_per_sample\n");
  PhaseVolume labels;
  std::vector<Box> crops;
  if (!phantom.empty()) {
    std::string why;
    if (!bench::LoadPhantom(phantom, &labels, &why)) {
      std::fprintf(stderr, "%s\n", why.c_str());
      return 2;
    }
    const Index3 shape = labels.shape();
    for (std::int64_t z = 0; z + n <= shape[0]; z += n)
      for (std::int64_t y = 0; y + n <= shape[1]; y += n)
        for (std::int64_t x = 0; x + n <= shape[2]; x += n) crops.push_back(Box{{z, y, x}, {n, n, n}});
    if (crops.empty()) {
      std::fprintf(stderr, "%s: no cube of %lld voxels fits in %s\n", phantom.c_str(), (long long)n,
                   labels.geometry().ToString().c_str());
      return 2;
    }
    spacings_z = {labels.geometry().spacing_um[0]};
  }
  for (int seed = seed_a; seed <= seed_b; ++seed)
    for (double snr : snrs)
      for (double dz : spacings_z)
        for (std::size_t crop = 0; crop < std::max<std::size_t>(1, crops.size()); ++crop) {
        SynthOptions so;
        so.seed = std::uint64_t(seed);
        so.shape = {n, n, n};
        so.spacing_um = {dz, 0.25, 0.25};
        so.frames = 1;
        so.snr = snr;
        so.cycles = 0;
        SynthFrame fr;
        if (crops.empty()) {
          fr = SynthCampaign(so).Render(0, ThreadBudget{threads});
        } else {
          fr.phases = labels.Crop(crops[crop]);
          fr.grey = bench::RenderPhantom(fr.phases, so, snr, threads);
        }
        QuickLookOptions qo;
        qo.method = SegmentMethod::kNlmGmm;
        qo.threads = ThreadBudget{threads};
        qo.progress = ProgressStyle::kOff;
        qo.ensemble = samples;
        qo.ensemble_temperature = temperature;
        std::vector<Volume<std::uint8_t>> posteriors;
        AnyVolume model;
        const PhaseVolume point = SegmentFrame(fr.grey, qo, nullptr, &posteriors, &model);
        std::map<std::string, double> truth;
        for (const LabelMetric& m : SegmentLabelMetrics(fr.phases, qo)) truth[m.name] = m.value;
        ++cases;
        for (double j : jitters)
          for (double bs : correlations) {
            qo.ensemble_grey_jitter = j;
            qo.ensemble_jitter_correlation = bs;
            const ResultTable t = SegmentEnsemble(point, model, posteriors, qo, 0);
            auto& in = inside[{j, bs}];
            auto& in_point = inside[{-1, 0}];
            auto& w = rel_width[{j, bs}];
            in.resize(metrics.size());
            in_point.resize(metrics.size());
            w.resize(metrics.size());
            for (std::size_t m = 0; m < metrics.size(); ++m) {
              const std::string& name = metrics[m];
              const double tv = truth.at(name), pv = Column(t, name), lo = Column(t, name + "_p05"),
                           hi = Column(t, name + "_p95");
              const bool ok = lo <= tv && tv <= hi;
              in[m] += ok;
              if (j == jitters.front() && bs == correlations.front()) in_point[m] += pv == tv;
              w[m] += (hi - lo) / std::abs(tv);
              std::printf("%d\t%g\t%g\t%zu\t%g\t%g\t%s\t%.5f\t%.5f\t%.5f\t%.5f\t%.5f\t%d\t%.3f\n", seed, snr, dz, crop, j, bs, name.c_str(), tv, pv,
                          Column(t, name + "_mean"), lo, hi, int(ok), Column(t, "seconds_per_sample"));
            }
            std::fflush(stdout);
          }
      }
  std::printf("\ncoverage of the 5-95 %% interval over %d frames (share holding the truth; mean width / truth)\n", cases);
  std::printf("jitter\tcorrelation");
  for (const auto& m : metrics) std::printf("\t%s", m.c_str());
  std::printf("\n");
  for (const auto& [setting, in] : inside) {
    const bool point = setting.first < 0;
    if (point) std::printf("point\t-");
    else std::printf("%g\t%g", setting.first, setting.second);
    for (std::size_t m = 0; m < metrics.size(); ++m) {
      std::printf("\t%.0f %%", 100.0 * in[m] / cases);
      if (!point) std::printf(" (%.2f %%)", 100.0 * rel_width[setting][m] / cases);
    }
    std::printf("\n");
  }
  std::printf("peak RSS %.0f MB\n", bench::PeakRssKiB() / 1024.0);
  return 0;
}
