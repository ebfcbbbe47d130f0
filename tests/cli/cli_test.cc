// The op4d executable: help for every subcommand, one-line errors naming the file, exit codes,
// and a store that h5py reads without op4d.
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <random>
#include <thread>

#include <libdeflate.h>

#include "op4d/frame/uncertainty/label_sampler.h"
#include "op4d/store/frame_store.h"
#include "test_util.h"

namespace {
const std::string kOp4d = OP4D_EXE;
int Run(const std::string& args, std::string* out) { return op4d::test::RunCommand(kOp4d + " " + args, out); }
}  // namespace

extern char** environ;

TEST_CASE("every subcommand has --help", "[cli]") {
  std::string out;
  REQUIRE(Run("--help", &out) == 0);
  REQUIRE(out.find("commands:") != std::string::npos);
  for (const std::string c : {"synth", "import", "info", "export", "quicklook", "network", "tortuosity", "geometry", "demo", "run", "report", "merge", "segment", "conductivity", "score", "advise", "degradation", "large-frame"}) {
    INFO(c);
    REQUIRE(Run(c + " --help", &out) == 0);
    REQUIRE(out.find("usage: op4d " + c) == 0);
  }
}

TEST_CASE("degradation: a campaign of one frame and an unknown state are refused in one line", "[cli][errors][degradation]") {
  op4d::test::TempDir dir;
  std::string out;
  REQUIRE(Run("synth --out " + (dir / "one.h5") + " --frames 1 --shape 16 24 24 --quiet", &out) == 0);
  REQUIRE(Run("degradation " + (dir / "one.h5") + " --quiet", &out) == 1);
  REQUIRE(out == "op4d: error: " + (dir / "one.h5") +
                     ":/frames: the campaign has 1 frame: degradation compares frames with the reference, it needs at least two\n");
  REQUIRE(Run("degradation " + (dir / "one.h5") + " --state full", &out) == 2);
  REQUIRE(out.find("--state") != std::string::npos);
  REQUIRE(out.find("'full' is not discharge or charge") != std::string::npos);
  // Damage options need cycles: named.
  REQUIRE(Run("synth --out " + (dir / "d.h5") + " --frames 3 --shape 16 24 24 --crack-share 0.2 --quiet", &out) != 0);
  REQUIRE(out.find("cycles >= 2") != std::string::npos);
}

TEST_CASE("errors are one line naming what is at fault, with a non-zero exit", "[cli][errors]") {
  op4d::test::TempDir dir;
  std::string out;
  REQUIRE(Run("info " + (dir / "none.h5"), &out) == 1);
  REQUIRE(out == "op4d: error: " + (dir / "none.h5") + ": does not exist\n");
  REQUIRE(Run("import --store " + (dir / "x.h5") + " --bogus", &out) == 2);
  REQUIRE(out == "op4d: error: --bogus: unknown option for 'op4d import' (see op4d import --help)\n");
  std::ofstream(dir / "v.raw") << std::string(10, 'x');
  REQUIRE(Run("import " + (dir / "v.raw") + " --store " + (dir / "x.h5") + " --shape 2 2 2 --dtype uint16", &out) == 1);
  REQUIRE(out.find("op4d: error: " + (dir / "v.raw") + ": size is 10 bytes") == 0);
  REQUIRE(Run("synth --out /etc/passwd/c.h5 --frames 1 --shape 8 8 8 --quiet", &out) == 1);
  REQUIRE(out.find("/etc/passwd/c.h5") != std::string::npos);
  REQUIRE(Run("nonsense", &out) == 2);
  REQUIRE(Run("register " + (dir / "none.h5") + " --particles --particle-contact -1", &out) != 0);
  REQUIRE(out == "op4d: error: --particle-contact: contact_um must be >= 0\n");
  REQUIRE(Run("register " + (dir / "none.h5") + " --particles --particle-smooth -0.5", &out) != 0);
  REQUIRE(out == "op4d: error: --particle-smooth: smooth_um must be >= 0\n");
}

TEST_CASE("segment --ensemble stores every metric's spread beside its point value, and refuses an ensemble it cannot draw",
          "[cli][segment][uncertainty][errors]") {
  op4d::test::TempDir dir;
  std::string out;
  const std::string store = dir / "c.h5";
  REQUIRE(Run("synth --out " + store + " --frames 1 --shape 32 40 40 --spacing 0.25 0.25 0.25 --radius 2 --quiet", &out) == 0);
  REQUIRE(Run("segment " + store + " --method nlm+gmm --ensemble 1", &out) == 2);
  REQUIRE(out == "op4d: error: --ensemble: an ensemble needs at least 2 samples, got 1\n");
  REQUIRE(Run("segment " + store + " --ensemble 4", &out) == 2);
  REQUIRE(out == "op4d: error: --ensemble: multi-Otsu has no posterior to sample: give --method gmm or nlm+gmm\n");
  REQUIRE(Run("segment " + store + " --method nlm+gmm --ensemble-temperature 2", &out) == 2);
  REQUIRE(out == "op4d: error: --ensemble-temperature: tunes the label ensemble; give --ensemble N\n");
  REQUIRE(Run("info " + store, &out) == 0);
  REQUIRE(out.find("per-frame results: none") != std::string::npos);
  REQUIRE(Run("segment " + store + " --method nlm+gmm --ensemble 4 --ensemble-grey-jitter -1", &out) == 2);
  REQUIRE(out == "op4d: error: --ensemble-grey-jitter: must be a finite number >= 0, got -1\n");
  // The model's own noise posterior only (no grey jitter): far narrower than the calibrated ensemble.
  REQUIRE(Run("segment " + store + " --method nlm+gmm --ensemble 6 --ensemble-grey-jitter 0 --threads 1 --quiet", &out) == 0);
  const double narrow = op4d::FrameStore::OpenRead(store).ReadFrameTable(0, "segment_ensemble").Find("fraction_pore_sd")->values[0];
  REQUIRE(Run("segment " + store + " --method nlm+gmm --ensemble 6 --threads 1 --quiet", &out) == 0);
  REQUIRE(out.find("segment_ensemble") != std::string::npos);
  op4d::ResultTable t = op4d::FrameStore::OpenRead(store).ReadFrameTable(0, "segment_ensemble");
  REQUIRE(t.rows() == 1);
  auto v = [&](const std::string& c) {
    INFO(c);
    REQUIRE(t.Find(c) != nullptr);
    return t.Find(c)->values[0];
  };
  REQUIRE(v("samples") == 6);
  REQUIRE(v("temperature") == 1);
  REQUIRE(v("grey_jitter") == 0.05);  // the calibrated default, kCalibratedGreyJitter
  // The frame's place in the calibrated domain: each phase's mean chord 4 f / S in voxels, from the
  // point value's own fractions and areas, and the flag the command prints when it is outside.
  const double s_binder = v("a_s_pore_binder") + v("a_s_active_binder");
  op4d::test::RequireClose(v("chord_binder"), 4 * v("fraction_binder") / s_binder / 0.25, 1e-9);
  REQUIRE(t.Find("chord_pore")->unit == "voxel");
  REQUIRE(v("contrast_to_noise") > 1);
  const bool inside = v("chord_pore") >= op4d::kCalibratedMinChordVoxels && v("chord_active") >= op4d::kCalibratedMinChordVoxels &&
                      v("chord_binder") >= op4d::kCalibratedMinChordVoxels &&
                      v("contrast_to_noise") >= op4d::kCalibratedMinContrastToNoise;
  REQUIRE(v("calibrated") == (inside ? 1 : 0));
  REQUIRE((out.find("frame 0: the ensemble's intervals are not calibrated error bars here") != std::string::npos) == !inside);
  INFO("porosity sd without and with the grey jitter: " << narrow << " " << v("fraction_pore_sd"));
  REQUIRE(v("fraction_pore_sd") > 3 * narrow);
  REQUIRE(t.Find("a_s_pore_binder_p95")->unit == "um^-1");
  for (const std::string m : {"fraction_pore", "fraction_binder", "a_s_pore_active", "tau_z_pore"}) {
    INFO(m << ": point " << v(m) << ", mean " << v(m + "_mean") << ", sd " << v(m + "_sd") << ", 5-95 % " << v(m + "_p05")
           << " " << v(m + "_p95"));
    REQUIRE(v(m + "_sd") > 0);
    REQUIRE(v(m + "_p05") <= v(m + "_mean"));
    REQUIRE(v(m + "_mean") <= v(m + "_p95"));
    // The samples are near the point segmentation, not a different one.
    REQUIRE(std::abs(v(m + "_mean") - v(m)) < 0.1 * v(m));
  }
  const double soft = v("expected_fraction_pore");
  REQUIRE(soft > 0.2);
  REQUIRE(soft < 0.8);
  // The same seed again, on two threads: the same ensemble.
  REQUIRE(Run("segment " + store + " --method nlm+gmm --ensemble 6 --threads 2 --quiet", &out) == 0);
  const op4d::ResultTable again = op4d::FrameStore::OpenRead(store).ReadFrameTable(0, "segment_ensemble");
  for (const std::string m : {"fraction_pore_mean", "a_s_pore_active_sd", "tau_z_pore_p95"}) REQUIRE(again.Find(m)->values[0] == v(m));

  // The samples are stored; the tortuosity step carries them through every axis asked for.
  auto volumes = [&] { return op4d::FrameStore::OpenRead(store).ListFrameVolumes(0); };
  auto has = [&](const std::string& name) {
    const auto l = volumes();
    return std::find(l.begin(), l.end(), name) != l.end();
  };
  REQUIRE(has("label_sample_0"));
  REQUIRE(has("label_sample_5"));
  REQUIRE(!has("label_sample_6"));
  REQUIRE(Run("tortuosity " + store + " --method nlm+gmm --ensemble 8 --quiet", &out) == 2);
  REQUIRE(out.find("frame 0 holds 6 label samples of the nlm+gmm segmentation, asked for 8") != std::string::npos);
  REQUIRE(Run("tortuosity " + store + " --method gmm --ensemble 2 --quiet", &out) == 2);
  REQUIRE(out.find("frame 0 holds 0 label samples of the gmm segmentation") != std::string::npos);
  REQUIRE(Run("tortuosity " + store + " --method nlm+gmm --ensemble 6 --axes zx --threads 2", &out) == 0);
  REQUIRE(out.find("over 6 label samples") != std::string::npos);
  const op4d::ResultTable te = op4d::FrameStore::OpenRead(store).ReadFrameTable(0, "tortuosity_ensemble");
  const op4d::ResultTable tp = op4d::FrameStore::OpenRead(store).ReadFrameTable(0, "tortuosity");
  REQUIRE(te.rows() == 2);
  REQUIRE(te.Find("axis")->values == std::vector<double>{0, 2});
  for (std::size_t r = 0; r < 2; ++r) {
    auto e = [&](const char* c) { return te.Find(c)->values[r]; };
    INFO("axis row " << r << ": tau " << e("tau") << ", mean " << e("tau_mean") << ", sd " << e("tau_sd") << ", 5-95 % "
                     << e("tau_p05") << " " << e("tau_p95"));
    REQUIRE(e("tau") == tp.Find("tau")->values[r]);  // the point value is the stored labels' tau
    REQUIRE(e("tau_sd") > 0);
    REQUIRE(e("tau_p05") <= e("tau_mean"));
    REQUIRE(e("tau_mean") <= e("tau_p95"));
    REQUIRE(std::abs(e("tau_mean") - e("tau")) < 0.1 * e("tau"));
    REQUIRE(e("d_eff_over_d_bulk_p05") <= e("d_eff_over_d_bulk_p95"));
    REQUIRE(e("non_percolating") == 0);
  }
  // The segment-step ensemble's tau_z over the same samples is the tortuosity step's axis-z one.
  op4d::test::RequireClose(te.Find("tau_mean")->values[0], again.Find("tau_z_pore_mean")->values[0], 1e-6);
  // A smaller ensemble drops the stale samples; a segmentation without one drops them all.
  REQUIRE(Run("segment " + store + " --method nlm+gmm --ensemble 4 --threads 2 --quiet", &out) == 0);
  REQUIRE(has("label_sample_3"));
  REQUIRE(!has("label_sample_4"));
  REQUIRE(Run("segment " + store + " --method nlm+gmm --threads 2 --quiet", &out) == 0);
  REQUIRE(!has("label_sample_0"));
  REQUIRE(Run("tortuosity " + store + " --method nlm+gmm --ensemble 2 --quiet", &out) == 2);
  REQUIRE(out.find("frame 0 holds 0 label samples") != std::string::npos);
  // A two-phase segmentation's ensemble reaches the tortuosity step through --phases.
  const std::string two = " --method nlm+gmm --phases pore=0:pore,solid=1:active";
  REQUIRE(Run("segment " + store + two + " --ensemble 3 --threads 2 --quiet", &out) == 0);
  REQUIRE(Run("tortuosity " + store + " --method nlm+gmm --ensemble 3 --axes z --quiet", &out) == 2);
  REQUIRE(out.find("frame 0 holds 0 label samples of the nlm+gmm segmentation") != std::string::npos);
  REQUIRE(Run("tortuosity " + store + two + " --ensemble 3 --axes z --quiet", &out) == 0);
  REQUIRE(out.find("over 3 label samples") != std::string::npos);
  REQUIRE(op4d::FrameStore::OpenRead(store).ReadFrameTable(0, "tortuosity_ensemble").Find("tau_sd")->values[0] > 0);
}

TEST_CASE("geometry, conductivity and network carry the label ensemble through to their tables", "[cli][uncertainty][errors]") {
  op4d::test::TempDir dir;
  std::string out;
  const std::string store = dir / "c.h5";
  REQUIRE(Run("synth --out " + store + " --frames 1 --shape 32 40 40 --spacing 0.25 0.25 0.25 --radius 2.5 --quiet", &out) == 0);
  const std::string m = " --method nlm+gmm";
  for (const std::string step : {"geometry", "conductivity", "network"}) {
    INFO(step);
    REQUIRE(Run(step + " " + store + m + " --ensemble 1 --quiet", &out) == 2);
    REQUIRE(out == "op4d: error: --ensemble: an ensemble needs at least 2 samples, got 1\n");
    REQUIRE(Run(step + " " + store + m + " --ensemble 3 --quiet", &out) == 2);
    REQUIRE(out.find("frame 0 holds 0 label samples of the nlm+gmm segmentation, asked for 3: run op4d segment") != std::string::npos);
  }
  REQUIRE(Run("segment " + store + m + " --ensemble 4 --threads 2 --quiet", &out) == 0);
  auto table = [&](const std::string& name) { return op4d::FrameStore::OpenRead(store).ReadFrameTable(0, name); };
  auto tables = [&] { return op4d::FrameStore::OpenRead(store).ListFrameTables(0); };
  auto has = [&](const std::string& name) {
    const auto l = tables();
    return std::find(l.begin(), l.end(), name) != l.end();
  };
  const op4d::ResultTable seg = table("segment_ensemble");

  REQUIRE(Run("geometry " + store + m + " --ensemble 4 --gc 1 --tmax 1e6 --threads 2 --quiet", &out) == 0);
  REQUIRE(out.find("over 4 label samples") != std::string::npos);
  const op4d::ResultTable vf = table("volume_fractions_ensemble"), vp = table("volume_fractions");
  REQUIRE(vf.Find("label")->values == vp.Find("label")->values);
  REQUIRE(vf.Find("volume_fraction")->values == vp.Find("volume_fraction")->values);  // the point value is the labels'
  // The same four samples as the segment step's ensemble: the same mean porosity.
  op4d::test::RequireClose(vf.Find("volume_fraction_mean")->values[0], seg.Find("fraction_pore_mean")->values[0], 1e-12);
  for (const std::string name : {"percolation_ensemble", "interface_areas_ensemble", "thickness_distribution_ensemble",
                                 "particle_size_summary_ensemble", "contacts_ensemble"}) {
    INFO(name);
    REQUIRE(has(name));
  }
  const op4d::ResultTable th = table("thickness_distribution_ensemble");
  REQUIRE(th.Find("median_p95")->unit == "um");
  for (std::size_t r = 0; r < th.rows(); ++r) {
    REQUIRE(th.Find("median_p05")->values[r] <= th.Find("median_mean")->values[r]);
    REQUIRE(th.Find("median_mean")->values[r] <= th.Find("median_p95")->values[r]);
  }
  const op4d::ResultTable ps = table("particle_size_summary_ensemble");
  REQUIRE(ps.Find("particles")->values[0] == table("particle_size_summary").Find("particles")->values[0]);
  REQUIRE(ps.Find("particles_mean")->values[0] > 0.5 * ps.Find("particles")->values[0]);
  const op4d::ResultTable ct = table("contacts_ensemble");
  REQUIRE(ct.Find("area_um2_sd")->values[0] > 0);  // the binder is the most uncertain phase
  REQUIRE(ct.Find("area_um2_sd")->unit == "um^2");

  REQUIRE(Run("conductivity " + store + m + " --ensemble 4 --axes zx --contact-resistance 1e-7 --threads 2 --quiet", &out) == 0);
  REQUIRE(out.find("axis x sigma_eff") != std::string::npos);
  const op4d::ResultTable ce = table("conductivity_ensemble"), cp = table("conductivity");
  REQUIRE(ce.Find("axis")->values == std::vector<double>{0, 2});
  REQUIRE(ce.Find("sigma_eff")->unit == "S/m");
  for (std::size_t r = 0; r < 2; ++r) {
    REQUIRE(ce.Find("sigma_eff")->values[r] == cp.Find("sigma_eff")->values[r]);
    REQUIRE(ce.Find("sigma_eff_sd")->values[r] > 0);
    REQUIRE(ce.Find("sigma_eff_p05")->values[r] <= ce.Find("sigma_eff_mean")->values[r]);
    REQUIRE(ce.Find("sigma_eff_mean")->values[r] <= ce.Find("sigma_eff_p95")->values[r]);
    REQUIRE(std::abs(ce.Find("sigma_eff_mean")->values[r] / ce.Find("sigma_eff")->values[r] - 1) < 0.2);
  }

  REQUIRE(Run("network " + store + m + " --ensemble 4 --threads 2 --quiet", &out) == 0);
  REQUIRE(out.find("throats") != out.rfind("throats"));  // the summary, then the throats' band
  REQUIRE(out.find("throat_radius_median") != std::string::npos);
  const op4d::ResultTable ne = table("network_ensemble");
  REQUIRE(ne.Find("throats")->values[0] == table("network_summary").Find("throats")->values[0]);
  REQUIRE(ne.Find("throat_radius_median")->unit == "um");
  REQUIRE(ne.Find("throat_radius_median_mean")->values[0] > 0);
  REQUIRE(ne.Find("throats_p05")->values[0] <= ne.Find("throats_p95")->values[0]);
  REQUIRE(ne.Find("seconds_per_sample")->values[0] > 0);

  // The throat history: each throat's open probability per frame; their sum is the mean open count.
  const std::string law = " --gamma 0.1 --theta 20 --r-min 0.2 --tolerance 0.5";
  REQUIRE(Run("throats " + store + m + law + " --ensemble 5 --quiet", &out) == 2);
  REQUIRE(out.find("frame 0 holds 4 label samples") != std::string::npos);
  REQUIRE(Run("throats " + store + m + law + " --ensemble 4 --quiet", &out) == 0);
  REQUIRE(out.find("P(percolates)") != std::string::npos);
  auto series = [&](const std::string& name) { return op4d::FrameStore::OpenRead(store).ReadSeriesTable(name); };
  const op4d::ResultTable op = series("throat_open_probability"), tf = series("throat_frames_ensemble"),
                          tp = series("throat_frames");
  REQUIRE(op.rows() > 10);
  double expected_open = 0;
  for (double p : op.Find("open_0")->values) {
    REQUIRE(p >= 0);
    REQUIRE(p <= 1);
    expected_open += p;
  }
  op4d::test::RequireClose(expected_open, tf.Find("open_throats_mean")->values[0], 1e-9);
  REQUIRE(tf.Find("open_throats")->values[0] == tp.Find("open_throats")->values[0]);
  REQUIRE(tf.Find("percolates_mean")->values[0] >= 0);
  REQUIRE(tf.Find("percolates_mean")->values[0] <= 1);
  REQUIRE(series("percolation_summary_ensemble").Find("percolation_fraction_p95")->values[0] <= 1);

  // Run again without an ensemble: the stale ensemble tables go.
  REQUIRE(Run("throats " + store + m + law + " --quiet", &out) == 0);
  {
    const auto names = op4d::FrameStore::OpenRead(store).ListSeriesTables();
    REQUIRE(std::find(names.begin(), names.end(), "throat_open_probability") == names.end());
    REQUIRE(std::find(names.begin(), names.end(), "throat_frames") != names.end());
  }
  REQUIRE(Run("geometry " + store + m + " --threads 2 --quiet", &out) == 0);
  REQUIRE(Run("conductivity " + store + m + " --threads 2 --quiet", &out) == 0);
  REQUIRE(Run("network " + store + m + " --threads 2 --quiet", &out) == 0);
  for (const std::string name : {"volume_fractions_ensemble", "contacts_ensemble", "conductivity_ensemble", "network_ensemble"}) {
    INFO(name);
    REQUIRE(!has(name));
  }
  REQUIRE(has("volume_fractions"));
}

TEST_CASE("segment takes the nlm+gmm tuning and clean-ups, and refuses a bad one before labels are stored", "[cli][segment][errors]") {
  op4d::test::TempDir dir;
  std::string out;
  const std::string store = dir / "c.h5";
  REQUIRE(Run("synth --out " + store + " --frames 1 --shape 32 32 32 --spacing 0.25 0.25 0.25 --radius 3 --quiet", &out) == 0);
  // An opening of the pore larger than a quarter of its feature radius (1 um) would distort it.
  REQUIRE(Run("segment " + store + " --method nlm+gmm --clean-up opening:pore:0.3 --quiet", &out) == 2);
  REQUIRE(out == "op4d: error: clean_up/opening:pore: radius_um: 0.3 um is not small against the phase's feature radius 1 um "
                 "(median inscribed radius): an opening would distort the structure; use less than 0.25 um\n");
  REQUIRE(Run("segment " + store + " --method nlm+gmm --psf 5", &out) == 2);
  REQUIRE(out == "op4d: error: --psf: the PSF sigma must be in (0, 3] voxels, or 0 for no refinement; got 5\n");
  REQUIRE(Run("segment " + store + " --method gmm --nlm-h 0.6", &out) == 2);
  REQUIRE(out == "op4d: error: --nlm-h: tunes the nlm+gmm chain; give --method nlm+gmm\n");
  REQUIRE(Run("segment " + store + " --method nlm+gmm --clean-up opening:foo:1", &out) == 2);
  REQUIRE(out == "op4d: error: --clean-up: no phase named 'foo' in pore=0:pore,active=1:active,binder=2:binder\n");
  REQUIRE(Run("segment " + store + " --method nlm+gmm --clean-up open:binder:1", &out) == 2);
  REQUIRE(out == "op4d: error: --clean-up: 'open:binder:1': the operation must be opening or closing\n");
  REQUIRE(Run("info " + store, &out) == 0);
  REQUIRE(out.find("per-frame results: none") != std::string::npos);
  // Without the refinement, with an opening of the active phase after the island removal; then
  // without the island removal.
  REQUIRE(Run("segment " + store + " --method nlm+gmm --psf 0 --clean-up opening:active:0.4 --quiet", &out) == 0);
  INFO(out);
  REQUIRE(out.find(" 0 relabelled by the forward model, ") != std::string::npos);
  REQUIRE(out.find(" island voxels relabelled; opening of active (0.4 um) relabelled ") != std::string::npos);
  REQUIRE(out.find("opening of active (0.4 um) relabelled 0 voxels") == std::string::npos);
  REQUIRE(Run("segment " + store + " --method nlm+gmm --islands 0 --quiet", &out) == 0);
  REQUIRE(out.find(" 0 island voxels relabelled)") != std::string::npos);
  REQUIRE(out.find(" 0 relabelled by the forward model") == std::string::npos);
  REQUIRE(Run("segment " + store + " --method nlm+gmm --nlm-h 0.6 --nlm-sigma 2000 --nlm-patch 0.25 --nlm-search 0.5 --psf 0.8 "
              "--smoothness 1 --quiet", &out) == 0);
  REQUIRE(out.find("NLM sigma 2000.000000") != std::string::npos);
}

TEST_CASE("a frame that does not fit the campaign fails the import and keeps the stored frames", "[cli][errors]") {
  op4d::test::TempDir dir;
  std::string out;
  const std::string store = dir / "c.h5";
  REQUIRE(Run("synth --out " + (dir / "s.h5") + " --frames 1 --shape 8 10 12 --radius 2 --quiet", &out) == 0);
  REQUIRE(Run("export " + (dir / "s.h5") + " --frame 0 --out " + (dir / "f.tif"), &out) == 0);
  REQUIRE(Run("import " + (dir / "f.tif") + " " + (dir / "f.tif") + " --store " + store + " --spacing 1 1 1 --quiet", &out) == 0);
  REQUIRE(Run("import " + (dir / "f.tif") + " --store " + store + " --append --spacing 1 1 2 --quiet", &out) == 1);
  REQUIRE(out.find("op4d: error: " + store + ":/frames/volume: frame spacing") == 0);
  REQUIRE(Run("import " + (dir / "f.tif") + " --store " + store + " --quiet", &out) == 1);  // no --append
  REQUIRE(out.find("already exists") != std::string::npos);
  REQUIRE(Run("info " + store, &out) == 0);
  REQUIRE(out.find("frames: 2") != std::string::npos);
}

TEST_CASE("synth, info and export work together, and h5py reads the store without op4d", "[cli][h5py]") {
  op4d::test::TempDir dir;
  std::string out;
  for (const std::string codec : {"gzip", "blosc-zstd"}) {
    INFO(codec);
    const std::string store = dir / (codec + ".h5");
    REQUIRE(Run("synth --out " + store + " --frames 3 --shape 16 24 20 --spacing 0.8 0.5 0.5 --radius 2.5 --quiet --codec " + codec, &out) == 0);
    REQUIRE(Run("info " + store, &out) == 0);
    REQUIRE(out.find("frames: 3") != std::string::npos);
    REQUIRE(out.find("16x24x20 voxels (z,y,x), spacing (0.8, 0.5, 0.5) um") != std::string::npos);
    REQUIRE(Run("export " + store + " --frame 2 --out " + (dir / "f2.raw"), &out) == 0);
    REQUIRE(Run("export " + store + " --time-table --out " + (dir / "time.csv"), &out) == 0);
    const std::string py =
        "import h5py, numpy as np, sys\n"
        "f = h5py.File(sys.argv[1], 'r')\n"
        "v = f['frames/volume']\n"
        "raw = np.fromfile(sys.argv[2], dtype=v.dtype).reshape(v.shape[1:])\n"
        "assert v.shape == (3, 16, 24, 20), v.shape\n"
        "assert (v[2] == raw).all(), 'frame 2 differs'\n"
        "assert list(v.attrs['spacing_um']) == [0.8, 0.5, 0.5]\n"
        "assert f['time/time_s'].shape == (3,) and f['time/time_s'].attrs['unit'] == 's'\n"
        "print('h5py ok')\n";
    std::ofstream(dir / "check.py") << py;
    REQUIRE(op4d::test::RunCommand("/usr/bin/python3 " + (dir / "check.py") + " " + store + " " + (dir / "f2.raw"), &out) == 0);
    REQUIRE(out == "h5py ok\n");
  }
}

TEST_CASE("network on a labelled volume and on a store frame", "[cli][network]") {
  op4d::test::TempDir dir;
  std::string out;
  const std::string store = dir / "c.h5";
  REQUIRE(Run("synth --out " + store + " --frames 2 --shape 24 32 32 --quiet", &out) == 0);
  // The truth store holds phase labels (0 = pore); export one as a TIFF and analyse it as a volume.
  REQUIRE(Run("export " + (dir / "c.truth.h5") + " --frame 1 --out " + (dir / "labels.tif"), &out) == 0);
  REQUIRE(Run("network " + (dir / "labels.tif") + " --pore-value 0 --spacing 0.5 0.5 0.5 --out " + (dir / "net") + " --quiet", &out) == 0);
  INFO(out);
  REQUIRE(out.find("topology kept") != std::string::npos);
  REQUIRE(std::ifstream(dir / "net/labels.vtp").good());
  // The OpenPNM dictionary as h5py (and so OpenPNM) sees it.
  std::ofstream(dir / "pnm.py") << "import h5py, sys\n"
                                   "f = h5py.File(sys.argv[1], 'r')\n"
                                   "d = {k: f[k][()] for k in f}\n"
                                   "np_, nt = d['pore.coords'].shape[0], d['throat.conns'].shape[0]\n"
                                   "assert d['pore.coords'].shape == (np_, 3) and d['throat.conns'].shape == (nt, 2)\n"
                                   "assert d['throat.conns'].dtype.kind == 'i' and d['throat.conns'].max() < np_\n"
                                   "assert d['pore.xmin'].dtype == bool and d['throat.diameter'].shape == (nt,)\n"
                                   "assert f['pore.coords'].attrs['unit'] == 'm' and d['pore.coords'].max() < 1e-4\n"
                                   "print('openpnm keys ok', np_, nt)\n";
  REQUIRE(op4d::test::RunCommand("/usr/bin/python3 " + (dir / "pnm.py") + " " + (dir / "net/labels_openpnm.h5"), &out) == 0);
  REQUIRE(out.find("openpnm keys ok") == 0);
  REQUIRE(Run("network " + store + " --frames 1 --quiet", &out) == 0);
  REQUIRE(out.find("frame 1: ") == 0);
  REQUIRE(Run("info " + store, &out) == 0);
  REQUIRE(out.find("network_throats") != std::string::npos);
  REQUIRE(Run("network " + (dir / "labels.tif"), &out) == 2);
  REQUIRE(out == "op4d: error: --pore-value: a volume input must be a labelled volume: give --pore-value\n");
  REQUIRE(Run("network " + store + " --frames 3:1", &out) == 2);
  REQUIRE(out == "op4d: error: --frames: '3:1' is not a frame K or a range A:B with 0 <= A < B\n");
}

TEST_CASE("tortuosity on a labelled volume and on store frames", "[cli][transport]") {
  op4d::test::TempDir dir;
  std::string out;
  const std::string store = dir / "c.h5";
  REQUIRE(Run("synth --out " + store + " --frames 2 --shape 24 32 32 --quiet", &out) == 0);
  REQUIRE(Run("export " + (dir / "c.truth.h5") + " --frame 1 --out " + (dir / "labels.tif"), &out) == 0);
  REQUIRE(Run("tortuosity " + (dir / "labels.tif") + " --value 0 --axes zx --out " + (dir / "t") + " --field --quiet", &out) == 0);
  INFO(out);
  REQUIRE(out.find("labels.tif: axis z  eps ") != std::string::npos);
  REQUIRE(out.find("labels.tif: axis x  eps ") != std::string::npos);
  REQUIRE(out.find("NOT CONVERGED") == std::string::npos);
  REQUIRE(std::ifstream(dir / "t/labels_tortuosity.csv").good());
  REQUIRE(std::ifstream(dir / "t/labels_c_x.vti").good());
  // Grey frames: segmented as the quick look does, the pore phase by default.
  REQUIRE(Run("tortuosity " + store + " --frames 1 --axes z --quiet", &out) == 0);
  REQUIRE(out.find("frame 1: axis z  eps ") == 0);
  REQUIRE(Run("info " + store, &out) == 0);
  REQUIRE(out.find("tortuosity") != std::string::npos);
  REQUIRE(Run("tortuosity " + (dir / "labels.tif"), &out) == 2);
  REQUIRE(out == "op4d: error: --value: a volume input must be a labelled volume: give --value\n");
  REQUIRE(Run("tortuosity " + store + " --field", &out) == 2);
  REQUIRE(out == "op4d: error: --field: needs --out DIR for the .vti files\n");
}

TEST_CASE("geometry on a labelled volume and on store frames", "[cli][geometry]") {
  op4d::test::TempDir dir;
  std::string out;
  const std::string store = dir / "c.h5";
  REQUIRE(Run("synth --out " + store + " --frames 2 --shape 24 32 32 --quiet", &out) == 0);
  REQUIRE(Run("export " + (dir / "c.truth.h5") + " --frame 0 --out " + (dir / "labels.tif"), &out) == 0);
  REQUIRE(Run("geometry " + (dir / "labels.tif") + " --gc 1 --tmax 1e6 --thickness pore --out " + (dir / "g") + " --quiet", &out) == 0);
  INFO(out);
  REQUIRE(out.find((dir / "labels.tif") + ": pore 0.") == 0);
  REQUIRE(out.find("a_s active|binder ") != std::string::npos);
  REQUIRE(out.find("local thickness of phase 0: median ") != std::string::npos);
  REQUIRE(out.find("local thickness of phase 1") == std::string::npos);  // --thickness pore only
  REQUIRE(std::ifstream(dir / "g/labels_interface_areas.csv").good());
  REQUIRE(std::ifstream(dir / "g/labels_particles.csv").good());
  REQUIRE(Run("geometry " + store + " --frames 1 --no-particles --quiet", &out) == 0);
  REQUIRE(out.find("frame 1: pore ") == 0);
  REQUIRE(Run("info " + store, &out) == 0);
  REQUIRE(out.find("interface_areas") != std::string::npos);
  REQUIRE(Run("geometry " + store + " --thickness electrolyte --quiet", &out) == 2);
  REQUIRE(out.find("op4d: error: thickness_phases: no phase named 'electrolyte'") == 0);
}

// An archive of a store's frames: one TIFF per frame and a manifest with their time-table rows.
std::string WriteArchive(const op4d::test::TempDir& dir, const std::string& store, int frames) {
  std::string out;
  std::filesystem::create_directories(dir / "archive");
  std::ofstream manifest(dir / "archive/manifest.csv");
  manifest << "file,time_s,voltage_V,p_app_Pa\n";
  for (int k = 0; k < frames; ++k) {
    const std::string f = "scan_" + std::to_string(k) + ".tif";
    REQUIRE(Run("export " + store + " --frame " + std::to_string(k) + " --out " + (dir / ("archive/" + f)), &out) == 0);
    manifest << f << "," << 600 * k << "," << 3.6 + 0.1 * k << "," << 1e5 + 2e4 * k << "\n";
  }
  return dir / "archive/manifest.csv";
}

TEST_CASE("every pipeline in pipelines/ validates and runs on a small synthetic campaign", "[cli][run]") {
  // The synth step of a pipeline is skipped when the store exists, so each pipeline runs on this
  // small campaign (3 frames) instead of its own; a pipeline that imports replays an archive of it.
  for (const auto& entry : std::filesystem::directory_iterator(std::string(OP4D_SOURCE_DIR) + "/pipelines")) {
    if (entry.path().extension() != ".json") continue;
    op4d::test::TempDir dir;
    std::string out;
    std::string store = dir / "c.h5";
    std::ifstream in(entry.path());
    const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    // A pipeline for the lattice campaign runs on a small lattice (its truth is a lattice's).
    const bool lattice = text.find("\"kind\": \"lattice\"") != std::string::npos;
    REQUIRE(Run(lattice ? "synth --kind lattice --out " + store + " --frames 3 --bodies 3 2 2 --quiet"
                        : "synth --out " + store + " --frames 3 --shape 24 32 32 --binder-neck 0 --quiet",
                &out) == 0);
    std::string extra;
    if (text.find("\"import\"") != std::string::npos) {
      extra = " --manifest " + WriteArchive(dir, store, 3);
      store = dir / "replay.h5";
    }
    INFO(entry.path().string());
    REQUIRE(Run("run " + entry.path().string() + " --store " + store + extra + " --quiet", &out) == 0);
    INFO(out);
    REQUIRE(out.find("(series table pipeline_run in " + store + ")") != std::string::npos);
    REQUIRE(Run("info " + store, &out) == 0);
    REQUIRE(out.find("frames: 3") != std::string::npos);
    REQUIRE(out.find("pipeline_run") != std::string::npos);
    REQUIRE(out.find(lattice ? "throat_truth_check" : "tortuosity") != std::string::npos);
    if (text.find("\"report\"") != std::string::npos) {
      const std::string stem = store.substr(0, store.size() - 3);
      REQUIRE(std::filesystem::exists(stem + "_report/report.html"));
      REQUIRE(std::filesystem::exists(stem + (lattice ? "_report/csv/series_throat_truth_check.csv" : "_report/csv/tortuosity.csv")));
    }
  }
}

TEST_CASE("the lattice campaign from the command line: options, the truth check and its refusals", "[cli][throats]") {
  op4d::test::TempDir dir;
  std::string out;
  REQUIRE(Run("synth --kind lattice --out " + (dir / "l.h5") + " --radius 2", &out) == 2);
  REQUIRE(out.find("--radius: not an option of --kind lattice") != std::string::npos);
  REQUIRE(Run("synth --out " + (dir / "l.h5") + " --pitch 6", &out) == 2);
  REQUIRE(out.find("--pitch: only for --kind lattice") != std::string::npos);
  REQUIRE(Run("synth --kind lattice --out " + (dir / "l.h5") + " --throat-radii 1 2", &out) == 2);
  REQUIRE(out.find("throat radii") != std::string::npos);
  REQUIRE(Run("synth --kind lattice --out " + (dir / "l.h5") + " --bodies 3 2 2 --times 0 100 300 600 1000 --quiet", &out) == 0);
  INFO(out);
  REQUIRE(out.find("5 frames 60x40x40 (uint16), a 3x2x2 lattice of pore bodies, 28 throats") != std::string::npos);
  const std::string phases = " --phases pore=0:pore,solid=1:active";
  REQUIRE(Run("segment " + (dir / "l.h5") + phases + " --quiet", &out) == 0);
  REQUIRE(Run("register " + (dir / "l.h5") + " --method rigid --quiet", &out) == 0);
  REQUIRE(Run("throats " + (dir / "l.h5") + " --gamma 0.072 --r-min 0.25 --tolerance 0.5 --check-truth --quiet" + phases, &out) == 0);
  REQUIRE(out.find("28 of 28 truth throats found") != std::string::npos);
  REQUIRE(out.find("invented reopenings 0") != std::string::npos);
  REQUIRE(out.find("percolation agrees in 5 of 5 frames") != std::string::npos);
  REQUIRE(Run("segment " + (dir / "l.h5") + " --phases pore=0:pore,pore=1:active", &out) == 2);
  REQUIRE(out.find("--phases") != std::string::npos);
  // A particle campaign has no throat radii in its truth.
  REQUIRE(Run("synth --out " + (dir / "p.h5") + " --frames 2 --shape 16 24 24 --quiet", &out) == 0);
  REQUIRE(Run("throats " + (dir / "p.h5") + " --gamma 0.072 --check-truth --quiet", &out) == 1);
  REQUIRE(out.find("p.truth.h5") != std::string::npos);
  REQUIRE(out.find("not a throat-lattice campaign's truth") != std::string::npos);
}

TEST_CASE("a pipeline run again skips the work it did, and --force with --frames redoes a range", "[cli][run][resume]") {
  op4d::test::TempDir dir;
  std::string out;
  const std::string store = dir / "c.h5";
  const std::string pipeline = std::string(OP4D_SOURCE_DIR) + "/pipelines/quicklook.json";
  REQUIRE(Run("synth --out " + store + " --frames 3 --shape 24 32 32 --binder-neck 0 --quiet", &out) == 0);
  REQUIRE(Run("run " + pipeline + " --store " + store + " --quiet", &out) == 0);
  INFO(out);
  REQUIRE(out.find("plan: 9 units on 3 frames, 9 to run, 0 already done") != std::string::npos);
  REQUIRE(out.find("ETA") != std::string::npos);
  REQUIRE(Run("info " + store + " --digest", &out) == 0);
  const std::string first = out;
  REQUIRE(Run("run " + pipeline + " --store " + store + " --quiet", &out) == 0);
  REQUIRE(out.find("done; 0 units run, 9 already done") != std::string::npos);
  REQUIRE(Run("run " + pipeline + " --store " + store + " --quiet --force --frames 1:3", &out) == 0);
  REQUIRE(out.find("plan: 6 units on 2 frames, 6 to run") != std::string::npos);
  REQUIRE(out.find("done; 6 units run, 0 already done") != std::string::npos);
  REQUIRE(Run("info " + store + " --digest", &out) == 0);
  REQUIRE(out == first);
  // Another option is other work: only the changed step runs again.
  std::ifstream in(pipeline);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const std::string axes = "\"axes\": \"z\"";
  text.replace(text.find(axes), axes.size(), "\"axes\": \"zy\"");
  std::ofstream(dir / "p.json") << text;
  REQUIRE(Run("run " + (dir / "p.json") + " --store " + store + " --quiet", &out) == 0);
  REQUIRE(out.find("done; 3 units run, 6 already done") != std::string::npos);
  // The log holds the runner's lines with their UTC times.
  std::ifstream log(store + ".log");
  const std::string log_text((std::istreambuf_iterator<char>(log)), std::istreambuf_iterator<char>());
  REQUIRE(std::count(log_text.begin(), log_text.end(), '\n') > 30);
  REQUIRE(log_text.find("Z  [3/3 tortuosity] frame 2: ") != std::string::npos);
}

namespace {
// Starts op4d with `args` in a child process (output discarded); returns its pid.
pid_t Spawn(const std::vector<std::string>& args) {
  std::vector<char*> argv;
  const std::string exe = kOp4d;
  argv.push_back(const_cast<char*>(exe.c_str()));
  for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0);
  pid_t pid = -1;
  REQUIRE(posix_spawn(&pid, exe.c_str(), &actions, nullptr, argv.data(), environ) == 0);
  posix_spawn_file_actions_destroy(&actions);
  return pid;
}
}  // namespace

TEST_CASE("a pipeline killed with SIGKILL at random moments and started again gives identical results", "[cli][run][kill]") {
  op4d::test::TempDir dir;
  std::string out;
  const std::string pipeline = std::string(OP4D_SOURCE_DIR) + "/pipelines/operando.json";
  REQUIRE(Run("synth --out " + (dir / "base.h5") + " --frames 4 --shape 48 64 64 --binder-neck 0 --pressure 20000 80000 --quiet", &out) == 0);
  std::filesystem::copy_file(dir / "base.h5", dir / "a.h5");
  std::filesystem::copy_file(dir / "base.h5", dir / "b.h5");
  // Uninterrupted.
  REQUIRE(Run("run " + pipeline + " --store " + (dir / "a.h5") + " --quiet", &out) == 0);
  REQUIRE(Run("info " + (dir / "a.h5") + " --digest", &out) == 0);
  const std::string want = out;
  REQUIRE(std::count(want.begin(), want.end(), '\n') > 60);
  // Killed six times, each after a random 0.2-2.5 s (the whole run takes about 10 s), then finished.
  std::random_device seed;
  std::mt19937 rng(seed());
  std::uniform_real_distribution<double> delay(0.2, 2.5);
  std::string delays;
  for (int i = 0; i < 6; ++i) {
    const double d = delay(rng);
    delays += std::to_string(d) + " ";
    const pid_t pid = Spawn({"run", pipeline, "--store", dir / "b.h5", "--quiet"});
    std::this_thread::sleep_for(std::chrono::duration<double>(d));
    ::kill(pid, SIGKILL);
    int status = 0;
    ::waitpid(pid, &status, 0);
  }
  INFO("kills after " << delays << "s");
  REQUIRE(Run("run " + pipeline + " --store " + (dir / "b.h5") + " --quiet", &out) == 0);
  INFO(out);
  // Work done before the kills was kept ...
  REQUIRE(out.find(" 0 already done") == std::string::npos);
  // ... and every result is byte for byte the uninterrupted run's.
  REQUIRE(Run("info " + (dir / "b.h5") + " --digest", &out) == 0);
  REQUIRE(out == want);
}

TEST_CASE("scale-out: parts run on frame ranges and merged give the single run's results", "[cli][run][merge]") {
  op4d::test::TempDir dir;
  std::string out;
  const std::string pipeline = std::string(OP4D_SOURCE_DIR) + "/pipelines/operando.json";
  REQUIRE(Run("synth --out " + (dir / "base.h5") + " --frames 4 --shape 24 32 32 --binder-neck 0 --pressure 20000 80000 --quiet", &out) == 0);
  for (const std::string copy : {"single.h5", "c.h5", "part_0.h5", "part_1.h5"}) std::filesystem::copy_file(dir / "base.h5", dir / copy);
  REQUIRE(Run("run " + pipeline + " --store " + (dir / "single.h5") + " --quiet", &out) == 0);
  REQUIRE(Run("info " + (dir / "single.h5") + " --digest", &out) == 0);
  const std::string want = out;
  // The recipe of op4d merge --help: two tasks, two frames each, then merge and the series steps.
  REQUIRE(Run("run " + pipeline + " --store " + (dir / "part_0.h5") + " --frames 0:2 --no-series --quiet", &out) == 0);
  REQUIRE(out.find("plan: 14 units on 2 frames") != std::string::npos);  // 7 per-frame steps, no series step
  REQUIRE(Run("run " + pipeline + " --store " + (dir / "part_1.h5") + " --frames 2:4 --no-series --quiet", &out) == 0);
  REQUIRE(Run("merge " + (dir / "c.h5") + " " + (dir / "part_0.h5") + " " + (dir / "part_1.h5"), &out) == 0);
  REQUIRE(out.find("merged 4 frames from 2 parts into " + (dir / "c.h5")) != std::string::npos);
  REQUIRE(Run("run " + pipeline + " --store " + (dir / "c.h5") + " --quiet", &out) == 0);
  REQUIRE(out.find("plan: 32 units on 4 frames, 4 to run, 28 already done") != std::string::npos);
  REQUIRE(Run("info " + (dir / "c.h5") + " --digest", &out) == 0);
  REQUIRE(out == want);
  // A part of another campaign is refused, naming it and the frame, and nothing is written.
  REQUIRE(Run("synth --out " + (dir / "other.h5") + " --frames 4 --shape 24 32 32 --seed 7 --quiet", &out) == 0);
  REQUIRE(Run("run " + pipeline + " --store " + (dir / "other.h5") + " --frames 1 --no-series --quiet", &out) == 0);
  REQUIRE(Run("merge " + (dir / "c.h5") + " " + (dir / "other.h5"), &out) == 1);
  REQUIRE(out.find("op4d: error: " + (dir / "other.h5") + ":/frames/provenance: frame 1 is not " + (dir / "c.h5") + "'s frame 1") == 0);
  REQUIRE(Run("info " + (dir / "c.h5") + " --digest", &out) == 0);
  REQUIRE(out == want);
}

TEST_CASE("frames in parallel jobs give the serial run's results, within the memory budget", "[cli][run][jobs]") {
  op4d::test::TempDir dir;
  std::string out;
  const std::string pipeline = std::string(OP4D_SOURCE_DIR) + "/pipelines/operando.json";
  REQUIRE(Run("synth --out " + (dir / "base.h5") + " --frames 4 --shape 24 32 32 --binder-neck 0 --pressure 20000 80000 --quiet", &out) == 0);
  for (const std::string copy : {"serial.h5", "jobs.h5", "tight.h5"}) std::filesystem::copy_file(dir / "base.h5", dir / copy);
  REQUIRE(Run("run " + pipeline + " --store " + (dir / "serial.h5") + " --quiet", &out) == 0);
  REQUIRE(Run("info " + (dir / "serial.h5") + " --digest", &out) == 0);
  const std::string want = out;
  REQUIRE(Run("run " + pipeline + " --store " + (dir / "jobs.h5") + " --jobs 2 --quiet", &out) == 0);
  INFO(out);
  REQUIRE(out.find("jobs: 2 at a time for 4 frames") != std::string::npos);
  REQUIRE(out.find("jobs: frames 0:2 (14 units)") != std::string::npos);
  REQUIRE(out.find("jobs: frames 2:4 (14 units)") != std::string::npos);
  REQUIRE(out.find("jobs: 28/28 units done") != std::string::npos);
  REQUIRE(out.find("plan: 32 units on 4 frames, 4 to run, 28 already done") != std::string::npos);
  REQUIRE(Run("info " + (dir / "jobs.h5") + " --digest", &out) == 0);
  REQUIRE(out == want);
  REQUIRE_FALSE(std::filesystem::exists(dir / "jobs.h5.job0.h5"));  // parts removed once merged
  // A budget too small for two frame jobs runs the frames one after the other.
  REQUIRE(Run("run " + pipeline + " --store " + (dir / "tight.h5") + " --jobs 2 --memory 0.000001 --quiet", &out) == 0);
  REQUIRE(out.find("jobs: 1 at a time for 4 frames") != std::string::npos);
  REQUIRE(out.find("plan: 32 units on 4 frames, 32 to run") != std::string::npos);
  REQUIRE(Run("info " + (dir / "tight.h5") + " --digest", &out) == 0);
  REQUIRE(out == want);
  // A part left by a killed run is merged when the run starts again: its finished frames are kept.
  std::filesystem::copy_file(dir / "base.h5", dir / "again.h5");
  std::filesystem::copy_file(dir / "base.h5", dir / "again.h5.job0.h5");
  REQUIRE(Run("run " + pipeline + " --store " + (dir / "again.h5.job0.h5") + " --frames 1 --no-series --quiet", &out) == 0);
  REQUIRE(Run("run " + pipeline + " --store " + (dir / "again.h5") + " --quiet", &out) == 0);
  REQUIRE(out.find("jobs: merged 1 frames left by an interrupted job") != std::string::npos);
  REQUIRE(out.find("plan: 32 units on 4 frames, 25 to run, 7 already done") != std::string::npos);
  REQUIRE_FALSE(std::filesystem::exists(dir / "again.h5.job0.h5"));
  REQUIRE(Run("info " + (dir / "again.h5") + " --digest", &out) == 0);
  REQUIRE(out == want);
}

TEST_CASE("batch replay of an archive and its manifest in one command, resumed after an interruption", "[cli][run][replay]") {
  op4d::test::TempDir dir;
  std::string out;
  REQUIRE(Run("synth --out " + (dir / "c.h5") + " --frames 4 --shape 24 32 32 --binder-neck 0 --quiet", &out) == 0);
  const std::string manifest = WriteArchive(dir, dir / "c.h5", 4);
  const std::string pipeline = std::string(OP4D_SOURCE_DIR) + "/pipelines/replay.json";
  // An import interrupted after two frames: the replay keeps them and imports the rest.
  {
    std::ifstream in(manifest);
    std::string line, two;
    for (int i = 0; i < 3 && std::getline(in, line); ++i) two += line + "\n";
    std::ofstream(dir / "archive/first_two.csv") << two;
  }
  REQUIRE(Run("import --manifest " + (dir / "archive/first_two.csv") + " --store " + (dir / "r.h5") + " --quiet", &out) == 0);
  REQUIRE(Run("run " + pipeline + " --store " + (dir / "r.h5") + " --manifest " + manifest + " --quiet", &out) == 0);
  INFO(out);
  REQUIRE(out.find("plan: 25 units on 4 frames, 25 to run") != std::string::npos);
  REQUIRE(Run("info " + (dir / "r.h5") + " --time", &out) == 0);
  REQUIRE(out.find("frames: 4") != std::string::npos);
  REQUIRE(out.find("1800") != std::string::npos);  // time_s of the last manifest row
  REQUIRE(out.find("registration_series") != std::string::npos);
  REQUIRE(std::filesystem::exists(dir / "r_report/report.html"));
  // A manifest that does not match the stored frames is refused, naming the frame.
  std::ofstream(dir / "archive/other.csv") << "file,time_s\nscan_3.tif,0\n";
  REQUIRE(Run("run " + pipeline + " --store " + (dir / "r.h5") + " --manifest " + (dir / "archive/other.csv") + " --quiet", &out) != 0);
  REQUIRE(out.find("has 4 frames, more than the manifest") != std::string::npos);
  // Without a manifest the import step says where to give one.
  REQUIRE(Run("run " + pipeline + " --store " + (dir / "r.h5") + " --quiet", &out) == 2);
  REQUIRE(out.find("/steps/0/options/manifest: no manifest; give it here or with op4d run --manifest FILE") != std::string::npos);
}

TEST_CASE("live follow processes the frames an acquisition appends while it runs", "[cli][run][follow]") {
  op4d::test::TempDir dir;
  std::string out;
  REQUIRE(Run("synth --out " + (dir / "c.h5") + " --frames 4 --shape 24 32 32 --binder-neck 0 --quiet", &out) == 0);
  for (int k = 0; k < 4; ++k)
    REQUIRE(Run("export " + (dir / "c.h5") + " --frame " + std::to_string(k) + " --out " + (dir / ("f" + std::to_string(k) + ".tif")), &out) == 0);
  const std::string live = dir / "live.h5";
  REQUIRE(Run("import " + (dir / "f0.tif") + " --store " + live + " --spacing 0.5 0.5 0.5 --quiet", &out) == 0);
  // The acquisition: a frame every 1.5 s, each appended by its own process that waits for the lock.
  const std::string script = "sleep 1; for k in 1 2 3; do " + kOp4d + " import " + (dir / "f") + "$k.tif --store " + live +
                             " --append --spacing 0.5 0.5 0.5 --time-step 1 --wait-lock 60 --quiet || exit 1; sleep 1.5; done";
  const pid_t acquisition = ::fork();
  if (acquisition == 0) {
    ::execl("/bin/sh", "sh", "-c", script.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  const int run_status =
      Run("run " + std::string(OP4D_SOURCE_DIR) + "/pipelines/follow.json --store " + live + " --follow --idle 8 --poll 0.2 --quiet", &out);
  int status = 0;
  ::waitpid(acquisition, &status, 0);  // before the checks: the directory must outlive the acquisition
  INFO(out);
  REQUIRE(run_status == 0);
  REQUIRE(WIFEXITED(status));
  REQUIRE(WEXITSTATUS(status) == 0);
  INFO(out);
  REQUIRE(out.find("follow: no new frame for 8.0 s; stopping") != std::string::npos);
  REQUIRE(Run("info " + live, &out) == 0);
  REQUIRE(out.find("frames: 4") != std::string::npos);
  // Every frame has its per-frame results, and the series were brought up to date with all four.
  REQUIRE(out.find("tortuosity (table, 4 frames)") != std::string::npos);
  REQUIRE(out.find("geometry_timing (table, 4 frames)") != std::string::npos);
  REQUIRE(Run("export " + live + " --series registration_series --out " + (dir / "reg.csv"), &out) == 0);
  std::ifstream reg(dir / "reg.csv");
  const std::string csv((std::istreambuf_iterator<char>(reg)), std::istreambuf_iterator<char>());
  REQUIRE(std::count(csv.begin(), csv.end(), '\n') == 5);  // header + 4 frames
}

TEST_CASE("op4d info reads a store while another process holds it open to change its structure", "[cli][follow]") {
  op4d::test::TempDir dir;
  std::string out;
  REQUIRE(Run("synth --out " + (dir / "c.h5") + " --frames 2 --shape 16 16 16 --quiet", &out) == 0);
  // The writer holds the store (not in SWMR mode, so HDF5 refuses readers) for 2 s, then closes it.
  FILE* writer = ::popen((std::string(OP4D_STORE_WRITER_HELPER) + " " + (dir / "c.h5") + " 0 0 2000 hold").c_str(), "r");
  REQUIRE(writer != nullptr);
  char line[64] = {};
  REQUIRE(std::fgets(line, sizeof line, writer) != nullptr);
  REQUIRE(std::string(line) == "open\n");
  const auto t0 = std::chrono::steady_clock::now();
  const int status = Run("info " + (dir / "c.h5"), &out);
  const double waited = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  REQUIRE(::pclose(writer) == 0);
  INFO(out);
  REQUIRE(status == 0);
  REQUIRE(out.find("frames: 2") != std::string::npos);
  REQUIRE(waited > 1.0);  // it waited for the writer rather than read past it
}

TEST_CASE("pipeline faults are one line naming the JSON pointer and the expected form", "[cli][run][errors]") {
  op4d::test::TempDir dir;
  std::string out;
  auto check = [&](const std::string& json, const std::string& want) {
    std::ofstream(dir / "p.json") << json;
    REQUIRE(Run("run " + (dir / "p.json") + " --store " + (dir / "c.h5"), &out) == 2);
    INFO(out);
    REQUIRE(out.find("op4d: error: " + (dir / "p.json") + ": " + want) == 0);
    REQUIRE(std::count(out.begin(), out.end(), '\n') == 1);
  };
  // A misspelled key, with the keys the step knows.
  check(R"({"steps": [{"step": "quicklook"}, {"step": "throats", "options": {"gama": 0.03}}]})",
        "/steps/1/options/gama: unknown key; expected one of: check-truth, ensemble, gamma, ");
  check(R"({"stepz": []})", "/stepz: unknown key; expected one of: ");
  // A wrong type and a value out of range.
  check(R"({"steps": [{"step": "tortuosity", "options": {"axes": 3}}]})", "/steps/0/options/axes: ");
  check(R"({"steps": [{"step": "throats", "options": {"gamma": -1}}]})", "/steps/0/options/gamma: ");
  check(R"({"steps": [{"step": "geometry", "options": {"gc": "high"}}]})", "/steps/0/options/gc: ");
  // An unknown step, a missing required option, and text that is not JSON.
  check(R"({"steps": [{"step": "tortuosty"}]})", "/steps/0/step: ");
  check(R"({"steps": [{"step": "throats", "options": {}}]})", "/steps/0/options");
  std::ofstream(dir / "p.json") << "{\"steps\": [";
  REQUIRE(Run("run " + (dir / "p.json") + " --store " + (dir / "c.h5"), &out) == 2);
  REQUIRE(out.find("not valid JSON") != std::string::npos);
  // Nothing ran: no store was created.
  REQUIRE_FALSE(std::filesystem::exists(dir / "c.h5"));
}

namespace {
// Decodes an 8-bit RGB or RGBA PNG (what Chromium writes) into RGB; false if it is not one.
bool DecodePng(const std::string& png, int* width, int* height, std::vector<std::uint8_t>* rgb) {
  if (png.size() < 33 || png.compare(0, 8, "\x89PNG\r\n\x1a\n", 8) != 0) return false;
  auto be32 = [&](std::size_t at) {
    return (std::uint32_t(std::uint8_t(png[at])) << 24) | (std::uint32_t(std::uint8_t(png[at + 1])) << 16) |
           (std::uint32_t(std::uint8_t(png[at + 2])) << 8) | std::uint8_t(png[at + 3]);
  };
  std::string idat;
  int w = 0, h = 0, channels = 0;
  for (std::size_t at = 8; at + 12 <= png.size();) {
    const std::uint32_t len = be32(at);
    const std::string type = png.substr(at + 4, 4);
    if (type == "IHDR") {
      w = int(be32(at + 8)), h = int(be32(at + 12));
      const int depth = std::uint8_t(png[at + 16]), colour = std::uint8_t(png[at + 17]), interlace = std::uint8_t(png[at + 20]);
      if (depth != 8 || interlace != 0 || (colour != 2 && colour != 6)) return false;
      channels = colour == 2 ? 3 : 4;
    } else if (type == "IDAT") {
      idat += png.substr(at + 8, len);
    }
    at += 12 + len;
  }
  const std::size_t stride = std::size_t(w) * std::size_t(channels);
  std::vector<std::uint8_t> raw(std::size_t(h) * (stride + 1));
  libdeflate_decompressor* d = libdeflate_alloc_decompressor();
  const auto r = libdeflate_zlib_decompress(d, idat.data(), idat.size(), raw.data(), raw.size(), nullptr);
  libdeflate_free_decompressor(d);
  if (r != LIBDEFLATE_SUCCESS) return false;
  // Undo the per-row filters (none, sub, up, average, Paeth).
  std::vector<std::uint8_t> img(std::size_t(h) * stride), zero(stride, 0);
  for (int y = 0; y < h; ++y) {
    const std::uint8_t* in = &raw[std::size_t(y) * (stride + 1)];
    std::uint8_t* row = &img[std::size_t(y) * stride];
    const std::uint8_t* up = y ? &img[std::size_t(y - 1) * stride] : zero.data();
    for (std::size_t i = 0; i < stride; ++i) {
      const int a = i >= std::size_t(channels) ? row[i - std::size_t(channels)] : 0, b = up[i],
                c = i >= std::size_t(channels) ? up[i - std::size_t(channels)] : 0;
      int p = 0;
      switch (in[0]) {
        case 0: p = 0; break;
        case 1: p = a; break;
        case 2: p = b; break;
        case 3: p = (a + b) / 2; break;
        case 4: {
          const int pa = std::abs(b - c), pb = std::abs(a - c), pc = std::abs(a + b - 2 * c);
          p = pa <= pb && pa <= pc ? a : (pb <= pc ? b : c);
          break;
        }
        default: return false;
      }
      row[i] = std::uint8_t(in[1 + i] + p);
    }
  }
  rgb->resize(std::size_t(w) * std::size_t(h) * 3);
  for (std::size_t i = 0; i < std::size_t(w) * std::size_t(h); ++i)
    for (int ch = 0; ch < 3; ++ch) (*rgb)[3 * i + std::size_t(ch)] = img[i * std::size_t(channels) + std::size_t(ch)];
  *width = w, *height = h;
  return true;
}
}  // namespace

TEST_CASE("the report opened in headless Chromium renders its plots and slices (screenshot)", "[cli][report]") {
  op4d::test::TempDir dir;
  std::string out;
  const std::string store = dir / "c.h5";
  REQUIRE(Run("synth --out " + store + " --frames 3 --shape 24 32 32 --binder-neck 0 --quiet", &out) == 0);
  REQUIRE(Run("run " + std::string(OP4D_SOURCE_DIR) + "/pipelines/quicklook.json --store " + store + " --quiet", &out) == 0);
  REQUIRE(Run("report " + store + " --out " + (dir / "rep") + " --slices 1 --quiet", &out) == 0);
  INFO(out);
  REQUIRE(out.find("report " + (dir / "rep/report.html") + ": ") == 0);
  std::ifstream html_in(dir / "rep/report.html");
  const std::string html((std::istreambuf_iterator<char>(html_in)), std::istreambuf_iterator<char>());
  // The page has as many plots as the command says, more than a few dozen.
  std::size_t svgs = 0;
  for (std::size_t at = 0; (at = html.find("<svg class=\"plot\"", at)) != std::string::npos; ++at) ++svgs;
  REQUIRE(svgs > 40);
  REQUIRE(out.find(": " + std::to_string(svgs) + " plots, 2 slice images") != std::string::npos);
  REQUIRE(html.find("tortuosity · tau") != std::string::npos);
  REQUIRE(html.find("<script") == std::string::npos);  // self-contained, no scripts
  REQUIRE(html.find("http://") == html.find("http://www.w3.org/2000/svg"));
  // Headless Chromium (Debian's, installed by scripts/setup.sh) takes a screenshot of the top of the page.
  const std::string shot = dir / "shot.png";
  const std::string cmd = "timeout 120 chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run "
                          "--disable-background-networking --disable-component-update --disable-sync --user-data-dir=" +
                          (dir / "profile") + " --window-size=1200,1600 --screenshot=" + shot + " file://" + (dir / "rep/report.html");
  REQUIRE(op4d::test::RunCommand(cmd, &out) == 0);
  std::ifstream png_in(shot, std::ios::binary);
  const std::string png((std::istreambuf_iterator<char>(png_in)), std::istreambuf_iterator<char>());
  int w = 0, h = 0;
  std::vector<std::uint8_t> rgb;
  REQUIRE(DecodePng(png, &w, &h, &rgb));
  REQUIRE(w == 1200);
  REQUIRE(h == 1600);
  // The plot lines are drawn in #1f77b4 (31, 119, 180): count the pixels of that colour, and the
  // pixels that are not white (text, axes, lines).
  std::size_t line = 0, ink = 0;
  for (std::size_t i = 0; i < rgb.size(); i += 3) {
    if (std::abs(rgb[i] - 31) < 25 && std::abs(rgb[i + 1] - 119) < 25 && std::abs(rgb[i + 2] - 180) < 25) ++line;
    if (rgb[i] < 200 || rgb[i + 1] < 200 || rgb[i + 2] < 200) ++ink;
  }
  INFO("line pixels " << line << ", ink pixels " << ink);
  REQUIRE(line > 3000);  // the top of the page holds about a dozen plots
  REQUIRE(ink > 20000);
  REQUIRE(ink < rgb.size() / 3 / 2);  // and the page is mostly white, not a blank or black frame
}

TEST_CASE("the old synth defaults through the operando pipeline print the guards, not unresolved numbers", "[cli][run][guards]") {
  // op4d synth's own defaults: 64x96x96 voxels of 0.5 um, particle radius 3 um (about 5 voxels once
  // separated), p_app 100-250 kPa above the network's critical pressure.
  op4d::test::TempDir dir;
  std::string out;
  const std::string store = dir / "c.h5";
  REQUIRE(Run("synth --out " + store + " --quiet", &out) == 0);
  REQUIRE(Run("run " + std::string(OP4D_SOURCE_DIR) + "/pipelines/operando.json --store " + store + " --quiet", &out) == 0);
  INFO(out);
  // The register step's verdict, the SOC step's refusal, the throats' message, no J nan.
  CHECK(out.find("particles: UNRESOLVED: median radius") != std::string::npos);
  CHECK(out.find("per-particle SOC not reported") != std::string::npos);
  CHECK(out.find("non-percolating at the reference: no throat history") != std::string::npos);
  CHECK(out.find("no J field with --method affine") != std::string::npos);
  CHECK(out.find(" nan ") == std::string::npos);
  // No per-particle SOC is stored as measured, so none outside [0, 1]; the scorecard says what fails.
  const op4d::FrameStore s = op4d::FrameStore::OpenRead(store);
  for (std::int64_t k = 0; k < s.frame_count(); ++k) {
    const op4d::ResultTable t = s.ReadFrameTable(k, "particle_soc");
    for (double v : t.Find("valid")->values) CHECK(v == 0);
  }
  const op4d::ResultTable reg = s.ReadSeriesTable("registration_series");
  // The guard's inputs as stored: the reference's bound above a tenth of the frames' strain range.
  double lo = 0, hi = 0;
  for (double v : reg.Find("particle_eps_v_median")->values)
    if (std::isfinite(v)) lo = std::min(lo, v), hi = std::max(hi, v);
  CHECK(reg.Find("eps_v_crb_median")->values[0] > (hi - lo) / 10);
  REQUIRE(Run("score " + store + " --stored", &out) == 0);
  CHECK(out.find("reported SOC outside [0, 1] beyond 2 se      all             0") != std::string::npos);
  CHECK(out.find("per-particle SOC RMS") == std::string::npos);
  CHECK(Run("score " + store + " --stored --require-pass", &out) == 1);
}

TEST_CASE("advise ranks the techniques for an operando cell and writes the ranking as JSON", "[cli][advise]") {
  const op4d::test::TempDir dir;
  std::string out;
  REQUIRE(Run("advise --feature 5 --rve 2000 --thickness 2000 --in-operando --contrast-at 30 --json " + (dir / "a.json"), &out) == 0);
  INFO(out);
  // The contrast table at 30 keV flags carbon-binder | electrolyte beside NMC.
  REQUIRE(out.find("carbon-binder | electrolyte") != std::string::npos);
  REQUIRE(out.find("carbon-binder | electrolyte      0.005238   0.105    2.66       BELOW threshold") != std::string::npos);
  // Rank 1 is synchrotron micro-CT: lab micro-CT resolves and transmits too, but without phase contrast
  // the carbon-binder cannot be told from the electrolyte.
  REQUIRE(out.find("1    synchrotron micro-CT") != std::string::npos);
  REQUIRE(out.find("2    lab micro-CT") != std::string::npos);
  // FIB-SEM is excluded in operando.
  REQUIRE(out.find("destructive: cannot follow an operating cell") != std::string::npos);
  std::ifstream in(dir / "a.json");
  const std::string json((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  REQUIRE(json.find("\"rank\": 1") != std::string::npos);
  REQUIRE(json.find("\"id\": \"lab-micro-ct\"") < json.find("\"id\": \"fib-sem\""));
  REQUIRE(Run("advise --feature 5 --rve 2000 --phases 'NMC=Xx2O@4.7'", &out) == 2);
  REQUIRE(out.find("--phases") != std::string::npos);
  REQUIRE(out.find("Xx") != std::string::npos);
  REQUIRE(Run("advise --feature -1 --rve 2000", &out) == 2);
  REQUIRE(out.find("smallest_feature_um") != std::string::npos);
  // The same question as a schema-validated file; the command line wins over it.
  std::ofstream(dir / "in.json") << R"({"feature_um": 0.08, "rve_um": 20, "destructive_ok": true})";
  REQUIRE(Run("advise --input " + (dir / "in.json"), &out) == 0);
  REQUIRE(out.find("1    FIB-SEM serial sectioning (Ga)") != std::string::npos);
  REQUIRE(Run("advise --input " + (dir / "in.json") + " --feature 5 --rve 2000 --thickness 2000 --in-operando", &out) == 0);
  REQUIRE(out.find("1    synchrotron micro-CT") != std::string::npos);
  std::ofstream(dir / "bad.json") << R"({"feature_um": 5, "rve_um": 20, "phases": [{"name": "x", "composition": "LiCoO2"}]})";
  REQUIRE(Run("advise --input " + (dir / "bad.json"), &out) == 2);
  REQUIRE(out.find("bad.json: /phases/0") != std::string::npos);
  REQUIRE(out.find("density_g_cm3") != std::string::npos);
  // From a campaign store: frame 0's stored labels and, once the network step ran, its throats.
  const std::string store = dir / "s.h5";
  REQUIRE(Run("synth --out " + store + " --frames 1 --shape 40 48 48 --quiet", &out) == 0);
  REQUIRE(Run("advise --store " + store + " --rve 20", &out) == 1);
  REQUIRE(out.find("no stored labels: run op4d segment") != std::string::npos);
  REQUIRE(Run("segment " + store + " --quiet", &out) == 0);
  REQUIRE(Run("network " + store + " --quiet", &out) == 0);
  REQUIRE(Run("geometry " + store + " --quiet", &out) == 0);
  REQUIRE(Run("advise --store " + store + " --rve-samples 3 --no-save", &out) == 0);
  REQUIRE(out.find("throats (2 r_min)") != std::string::npos);
  REQUIRE(out.find("particles (d_eq)") != std::string::npos);
  REQUIRE(out.find("RVE") != std::string::npos);
  REQUIRE(out.find("1    ") != std::string::npos);
  REQUIRE(out.find("stored series results") == std::string::npos);
  REQUIRE(Run("report " + store + " --out " + (dir / "rep0") + " --quiet", &out) == 0);
  const auto read = [](const std::string& path) {
    std::ifstream f(path);
    return std::string((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  };
  REQUIRE(read(dir / "rep0/report.html").find("Imaging-technique advice") == std::string::npos);
  // Stored, the ranking and the RVE curve become the report's imaging-technique section.
  REQUIRE(Run("advise --store " + store + " --rve-samples 3", &out) == 0);
  REQUIRE(out.find("stored series results advice and advice_rve in " + store) != std::string::npos);
  REQUIRE(Run("report " + store + " --out " + (dir / "rep") + " --quiet", &out) == 0);
  const std::string html = read(dir / "rep/report.html");
  REQUIRE(html.find("<h2 id=\"advice\">Imaging-technique advice</h2>") != std::string::npos);
  REQUIRE(html.find("particles (d_eq)") != std::string::npos);
  REQUIRE(html.find("RVE · a_s") != std::string::npos);
  REQUIRE(html.find("cube edge [um]") != std::string::npos);
  REQUIRE(html.find("<td>1</td><td style=\"text-align:left\">") != std::string::npos);
  REQUIRE(html.find("FIB-SEM") != std::string::npos);
  const std::string rows = read(dir / "rep/csv/series_advice.csv");
  REQUIRE(std::count(rows.begin(), rows.end(), '\n') == 7);  // header and the six techniques
  REQUIRE(Run("advise --store " + store + " --frame 3 --rve 20", &out) == 2);
  REQUIRE(out.find("--frame") != std::string::npos);
}

TEST_CASE("large-frame gives the segment step's nlm+gmm labels block by block and names a bad frame", "[cli][blockwise]") {
  op4d::test::TempDir dir;
  std::string out;
  const std::string store = dir / "c.h5";
  REQUIRE(Run("synth --out " + store + " --frames 1 --shape 40 36 38 --spacing 0.25 0.25 0.25 --radius 1.5 --quiet", &out) == 0);
  REQUIRE(Run("large-frame " + store + " --frame 3 --quiet", &out) == 2);
  REQUIRE(out.find("--frame: 3 is not a frame of " + store + " (1 frames)") != std::string::npos);
  REQUIRE(Run("large-frame " + store + " --slab 0 --quiet", &out) == 2);
  REQUIRE(Run("segment " + store + " --method nlm+gmm --no-probabilities --quiet", &out) == 0);
  REQUIRE(Run("large-frame " + store + " --slab 7 --quiet", &out) == 0);
  INFO(out);
  REQUIRE(out.find("island voxels relabelled") != std::string::npos);
  REQUIRE(out.find("a_s pore|active ") != std::string::npos);
  const op4d::FrameStore s = op4d::FrameStore::OpenRead(store);
  const auto whole = std::get<op4d::Volume<std::uint8_t>>(s.ReadFrameVolume(0, "labels"));
  const auto blocks = std::get<op4d::Volume<std::uint8_t>>(s.ReadFrameVolume(0, "labels_blockwise"));
  REQUIRE(blocks.values() == whole.values());
  const op4d::ResultTable f = s.ReadFrameTable(0, "fractions_blockwise");
  double pore = 0;
  for (std::uint8_t v : whole.values()) pore += v == 0;
  REQUIRE(f.Find("volume_fraction")->values[0] == Approx(pore / double(whole.size())).epsilon(1e-12));
  REQUIRE(s.ReadFrameTable(0, "percolation_blockwise").Find("spanning_fraction_z")->values.size() == 3);
  REQUIRE(s.ReadFrameTable(0, "interface_areas_blockwise").Find("area_um2")->unit == "um^2");
}
