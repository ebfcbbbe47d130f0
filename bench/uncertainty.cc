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
//                          [--residuals] (per frame, the forward model's mean residual at each kind of
//                          boundary in units of the smallest contrast: a candidate out-of-calibration
//                          figure, measured and not kept, bench/RESULTS.md)
// Per frame it also prints the calibration-domain figures (chords, contrast-to-noise) and their minima.
#include <chrono>
#include <cmath>
#include <cstdio>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "bench_util.h"
#include "op4d/core/filter.h"
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
  bool residuals = false;  // print the forward model's boundary residuals per frame
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
    else if (a == "--residuals") residuals = true;
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
  std::map<std::string, double> min_chord;  // per phase, over the frames
  double min_cnr = 1e300;
  int inside_domain = 0;
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
        if (residuals) {
          // The forward model's residual at the boundaries: voxels of label a beside label b, mean of
          // (frame - PSF * pure(L)) in units of the smallest contrast. A model that explains the frame
          // leaves only noise there (mean near 0); structure it cannot place (thin films) leaves a bias.
          LabelSamplerOptions lo;
          lo.model.psf_sigma_vox = qo.refine.psf_sigma_vox;
          LabelSampler ls(point, model, lo);
          const Index3 sh = point.shape();
          std::vector<float> pred(std::size_t(point.size()));
          for (std::int64_t i = 0; i < point.size(); ++i) pred[std::size_t(i)] = float(ls.pure_grey(point[i]));
          GaussianSmooth(pred.data(), sh, lo.model.psf_sigma_vox, ThreadBudget{threads});
          std::map<std::pair<int, int>, std::pair<double, std::int64_t>> acc;
          std::visit([&](const auto& v) {
            for (std::int64_t z = 2; z < sh[0] - 2; ++z)
              for (std::int64_t y = 2; y < sh[1] - 2; ++y)
                for (std::int64_t x = 2; x < sh[2] - 2; ++x) {
                  const std::int64_t i = (z * sh[1] + y) * sh[2] + x;
                  const int a = point[i];
                  const double r = double(v[i]) - double(pred[std::size_t(i)]);
                  const std::int64_t nb[6] = {i - sh[1] * sh[2], i + sh[1] * sh[2], i - sh[2], i + sh[2], i - 1, i + 1};
                  int seen = 0;
                  for (std::int64_t j : nb) {
                    const int b = point[j];
                    if (b == a || (seen >> b & 1)) continue;
                    seen |= 1 << b;
                    auto& e = acc[{a, b}];
                    e.first += r, ++e.second;
                  }
                }
          }, model);
          std::printf("residual\t%d\t%g\t%g\t%zu", seed, snr, dz, crop);
          double worst = 0;
          for (const auto& [ab, e] : acc) {
            const double m = e.first / double(e.second) / ls.min_contrast();
            worst = std::max(worst, std::abs(m));
            std::printf("\t%d|%d %+.4f", ab.first, ab.second, m);
          }
          std::printf("\tworst %.4f\n", worst);
        }
        ++cases;
        for (double j : jitters)
          for (double bs : correlations) {
            qo.ensemble_grey_jitter = j;
            qo.ensemble_jitter_correlation = bs;
            CalibrationDomain domain;
            const ResultTable t = SegmentEnsemble(point, model, posteriors, qo, 0, {}, &domain);
            if (j == jitters.front() && bs == correlations.front()) {
              std::printf("domain\t%d\t%g\t%g\t%zu", seed, snr, dz, crop);
              for (const PhaseChord& c : domain.chords) {
                std::printf("\tchord_%s %.2f", c.name.c_str(), c.chord_vox);
                if (c.fraction > 0) min_chord[c.name] = std::min(min_chord.count(c.name) ? min_chord[c.name] : 1e300, c.chord_vox);
              }
              min_cnr = std::min(min_cnr, domain.contrast_to_noise);
              inside_domain += domain.inside;
              std::printf("\tcnr %.2f\t%s\n", domain.contrast_to_noise, domain.inside ? "inside" : domain.why.c_str());
            }
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
  std::printf("\ncalibration domain over %d frames: %d inside; smallest mean chord (voxels)", cases, inside_domain);
  for (const auto& [name, c] : min_chord) std::printf(" %s %.2f", name.c_str(), c);
  std::printf("; smallest contrast-to-noise %.2f\n", min_cnr);
  std::printf("peak RSS %.0f MB\n", bench::PeakRssKiB() / 1024.0);
  return 0;
}
