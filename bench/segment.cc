// Segmentation benchmark: denoise (NLM, or Gaussian for comparison) + Gaussian mixture + clean-up on
// a synthetic electrode frame with known phases. Reports seconds per step, peak memory beyond the
// input frame, per-phase Dice and the porosity error.
//
//   op4d_bench_segment [--size N] [--snr S] [--spacing-um S] [--binder-neck-um B]
//                      [--denoise nlm|gauss|none] [--h-factor F] [--gauss-sigma-um S]
//                      [--tied 0|1] [--pv-reach R] [--islands V] [--refine SWEEPS (default 10; 0 = none)]
//                      [--refine-sigma VOX] [--refine-smoothness S] [--threads T]
//                      [--start-from-truth] (the refinement starts from the true labels: how much
//                      of the truth the forward model keeps, an upper bound of the chain)
//                      [--phantom LABELS] (instead of the synthetic electrode: a labelled volume
//                      op4d imports, 0 pore / 1 active / 2 binder, e.g. the real NMC cathode, rendered
//                      with the synthetic grey values, PSF and noise, without sub-voxel partial volume;
//                      its labels are the truth)
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "bench_util.h"
#include "phantom.h"
#include "op4d/frame/segment/denoise.h"
#include "op4d/frame/segment/forward_model.h"
#include "op4d/frame/segment/gmm.h"
#include "op4d/frame/segment/morphology.h"
#include "op4d/io/import.h"
#include "op4d/synth/campaign.h"

using namespace op4d;

namespace {

double Seconds(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

int main(int argc, char** argv) {
  std::int64_t n = 256;
  double snr = 10, h_factor = NlmOptions{}.h_factor, gauss_um = 0.5;
  std::int64_t islands = 27;
  std::string denoise = "nlm";
  int threads = 0;
  int pv_reach = 1;
  int refine = ForwardModelOptions{}.max_sweeps;  // as the nlm+gmm chain; --refine 0 for the chain without it
  double refine_sigma = ForwardModelOptions{}.psf_sigma_vox[0], refine_smoothness = ForwardModelOptions{}.smoothness;
  bool tied = true;
  double neck = SynthOptions{}.binder_neck_um;
  double spacing = SynthOptions{}.spacing_um[0];
  bool from_truth = false;
  std::string phantom;
  for (int i = 1; i < argc; i += 2) {
    const std::string a = argv[i];
    if (a == "--start-from-truth") {
      from_truth = true;
      --i;  // a flag, no value
      continue;
    }
    if (i + 1 >= argc) {
      std::fprintf(stderr, "option %s needs a value\n", a.c_str());
      return 2;
    }
    if (a == "--size") n = std::atoll(argv[i + 1]);
    else if (a == "--snr") snr = std::atof(argv[i + 1]);
    else if (a == "--denoise") denoise = argv[i + 1];
    else if (a == "--h-factor") h_factor = std::atof(argv[i + 1]);
    else if (a == "--gauss-sigma-um") gauss_um = std::atof(argv[i + 1]);
    else if (a == "--islands") islands = std::atoll(argv[i + 1]);
    else if (a == "--pv-reach") pv_reach = std::atoi(argv[i + 1]);
    else if (a == "--tied") tied = std::atoi(argv[i + 1]) != 0;
    else if (a == "--binder-neck-um") neck = std::atof(argv[i + 1]);
    else if (a == "--spacing-um") spacing = std::atof(argv[i + 1]);
    else if (a == "--threads") threads = std::atoi(argv[i + 1]);
    else if (a == "--refine") refine = std::atoi(argv[i + 1]);
    else if (a == "--refine-sigma") refine_sigma = std::atof(argv[i + 1]);
    else if (a == "--refine-smoothness") refine_smoothness = std::atof(argv[i + 1]);
    else if (a == "--phantom") phantom = argv[i + 1];
    else {
      std::fprintf(stderr, "unknown option %s\n", a.c_str());
      return 2;
    }
  }
  SynthOptions so;
  so.shape = {n, n, n};
  so.frames = 1;
  so.snr = snr;
  so.binder_neck_um = neck;
  so.spacing_um = {spacing, spacing, spacing};
  AnyVolume grey;
  PhaseVolume truth, majority;
  if (phantom.empty()) {
    SynthCampaign c(so);
    SynthFrame f = c.Render(0, {threads});
    grey = std::move(f.grey);
    truth = std::move(f.phases);
    majority = std::move(f.phases_majority);
  } else {
    PhaseVolume labels;
    std::string why;
    if (!bench::LoadPhantom(phantom, &labels, &why)) {
      std::fprintf(stderr, "%s\n", why.c_str());
      return 2;
    }
    grey = bench::RenderPhantom(labels, so, snr, threads);
    truth = labels;
    majority = std::move(labels);
  }
  const ThreadBudget tb{threads};
  const long base_kib = bench::StatusKiB("VmRSS:");
  bench::ResetPeakRss();
  auto t0 = std::chrono::steady_clock::now();
  AnyVolume den;
  NlmReport nr;
  if (denoise == "nlm") {
    NlmOptions o;
    o.h_factor = h_factor;
    o.threads = tb;
    den = NonLocalMeans(grey, o, &nr);
  } else if (denoise == "gauss") {
    den = GaussianFilter(grey, gauss_um, tb);
  }
  const double t_denoise = Seconds(t0);
  const long peak_denoise = bench::PeakRssKiB();
  const AnyVolume& input = denoise == "none" ? grey : den;
  t0 = std::chrono::steady_clock::now();
  GmmOptions go;
  go.components = 3;
  go.threads = tb;
  go.tied_sigma = tied;
  const GmmModel m = FitGaussianMixture(input, go);
  ProbabilisticSegmentation seg = ClassifyGaussianMixture(input, m, {0, 2, 1}, true, tb);
  const std::int64_t pv_moved =
      pv_reach > 0 && !from_truth ? ResolvePartialVolume(seg.labels, input, m, {0, 2, 1}, pv_reach, tb) : 0;
  if (from_truth) seg.labels = truth;
  ForwardModelReport fr;
  if (refine > 0) {
    ForwardModelOptions fo;
    fo.psf_sigma_vox = {refine_sigma, refine_sigma, refine_sigma};
    fo.smoothness = refine_smoothness;
    fo.max_sweeps = refine;
    RefineByForwardModel(seg.labels, input, fo, &fr);
  }
  const double t_gmm = Seconds(t0);
  const long peak_gmm = bench::PeakRssKiB();
  den = AnyVolume{};  // the denoised frame is no longer needed
  t0 = std::chrono::steady_clock::now();
  const std::int64_t moved = RemovePhaseIslands(seg.labels, 0, DualConnectivity{}, islands);
  const double t_clean = Seconds(t0);
  const long peak_kib = bench::PeakRssKiB();

  // Accuracy against a truth: per phase, the voxels both agree on (inter), the truth's (a) and the
  // segmentation's (b).
  struct Agreement {
    std::int64_t inter[3] = {0, 0, 0}, a[3] = {0, 0, 0}, b[3] = {0, 0, 0};
    double Dice(int p) const { return 2.0 * double(inter[p]) / double(a[p] + b[p]); }
  };
  auto agreement = [&](const PhaseVolume& t) {
    Agreement r;
    for (std::int64_t i = 0; i < t.size(); ++i) {
      ++r.a[t[i]];
      ++r.b[seg.labels[i]];
      if (t[i] == seg.labels[i]) ++r.inter[t[i]];
    }
    return r;
  };
  const Agreement centre = agreement(truth), most = agreement(majority);
  const std::int64_t *a = centre.a, *b = centre.b;
  const double voxels = double(truth.size());
  if (phantom.empty())
    std::printf("frame %lld^3 uint16, SNR %.1f, denoise %s", (long long)n, snr, denoise.c_str());
  else
    std::printf("phantom %s (%s) uint16, SNR %.1f, denoise %s", phantom.c_str(), truth.geometry().ToString().c_str(), snr,
                denoise.c_str());
  if (denoise == "nlm")
    std::printf(" (sigma %.1f %s, h %.1f, patch %lld, search %lld voxels)", nr.sigma,
                nr.sigma_estimated ? "estimated" : "given", nr.h, (long long)nr.radii.patch[2],
                (long long)nr.radii.search[2]);
  if (denoise == "gauss") std::printf(" (sigma %.2f um)", gauss_um);
  std::printf("\nseconds: denoise %.2f, gmm fit+classify %.2f (%d EM iterations), clean-up %.2f (%lld voxels relabelled)\n",
              t_denoise, t_gmm, m.iterations, t_clean, (long long)moved);
  for (std::size_t k = 0; k < m.means.size(); ++k)
    std::printf("  class %zu: weight %.4f mean %.0f sigma %.0f\n", k, m.weights[k], m.means[k], m.sigmas[k]);
  std::printf("  %lld voxels resolved as partial volume by position (reach %d)\n", (long long)pv_moved, pv_reach);
  if (refine > 0) {
    std::printf("  forward-model refinement (PSF sigma %.2f voxel, smoothness %.2f): relabelled per sweep", refine_sigma, refine_smoothness);
    for (std::int64_t x : fr.changes) std::printf(" %lld", (long long)x);
    std::printf("; pure grey");
    for (double v : fr.pure_grey) std::printf(" %.0f", v);
    std::printf("\n");
  }
  std::printf("memory beyond the input: %.1f MiB = %.2f bytes/voxel (peak %ld KiB, before %ld KiB)\n",
              double(peak_kib - base_kib) / 1024, double(peak_kib - base_kib) * 1024 / voxels, peak_kib, base_kib);
  std::printf("  peak by the end of each step, bytes/voxel: denoise %.2f, gmm %.2f, clean-up %.2f\n",
              double(peak_denoise - base_kib) * 1024 / voxels, double(peak_gmm - base_kib) * 1024 / voxels,
              double(peak_kib - base_kib) * 1024 / voxels);
  const char* names[3] = {"pore", "active", "binder"};
  for (int p = 0; p < 3; ++p)
    std::printf("dice %-6s %.4f  (truth fraction %.4f, segmented %.4f)\n", names[p], centre.Dice(p), double(a[p]) / voxels,
                double(b[p]) / voxels);
  std::printf("against the majority phase of each voxel: dice");
  for (int p = 0; p < 3; ++p) std::printf(" %s %.4f", names[p], most.Dice(p));
  std::printf(", porosity error %+.4f\n", double(b[0] - most.a[0]) / voxels);
  {
    std::int64_t cm[3][3] = {};
    for (std::int64_t i = 0; i < truth.size(); ++i) ++cm[truth[i]][seg.labels[i]];
    std::printf("confusion (rows truth pore/active/binder, fractions of the volume):\n");
    for (int t = 0; t < 3; ++t) std::printf("  %.4f %.4f %.4f\n", cm[t][0] / voxels, cm[t][1] / voxels, cm[t][2] / voxels);
  }
  std::printf("porosity error %+.4f (absolute)\n", double(b[0] - a[0]) / voxels);
  return 0;
}
