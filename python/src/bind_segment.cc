// Segmentation and label geometry from Python: the Gaussian mixture with its posteriors, the nlm+gmm
// chain the pipeline's segment step runs, connected components under the dual rule, percolation,
// watershed particles, local thickness and particle statistics.
#include <optional>

#include "convert.h"
#include "op4d/core/phase.h"
#include "op4d/frame/geometry/percolation.h"
#include "op4d/frame/geometry/size_distribution.h"
#include "op4d/frame/segment/connectivity.h"
#include "op4d/frame/segment/gmm.h"
#include "op4d/frame/segment/watershed.h"
#include "op4d/pipeline/campaign.h"

namespace op4dpy {

namespace {

PhaseTable PhasesOf(const std::string& spec) { return spec.empty() ? PhaseTable::Electrode() : PhaseTable::FromSpec(spec); }

std::vector<std::uint8_t> ClassLabels(const std::vector<int>& given, const char* what) {
  std::vector<std::uint8_t> out;
  for (int c : given) {
    if (c < 0 || c > 255) throw py::value_error(std::string(what) + ": class label " + std::to_string(c) + " is not 0..255");
    out.push_back(std::uint8_t(c));
  }
  return out;
}

Connectivity ConnectivityOf(int c, const char* what) {
  if (c != 6 && c != 18 && c != 26) throw py::value_error(std::string(what) + ": connectivity " + std::to_string(c) + " is not 6, 18 or 26");
  return ConnectivityFromString(std::to_string(c));
}

}  // namespace

void BindSegment(py::module_& m) {
  m.def(
      "gaussian_mixture",
      [](const py::array& grey, int components, int bins, bool tied_sigma, const std::string& init, std::uint64_t seed,
         int max_iterations, double tolerance, std::optional<std::vector<int>> class_labels, bool posteriors, int threads) {
        const Volume<float> v = ToVolume<float>(grey, Spacing{1, 1, 1}, "gaussian_mixture grey");
        GmmOptions o;
        o.components = components;
        o.bins = bins;
        o.tied_sigma = tied_sigma;
        o.init = GmmInitFromString(init);
        o.seed = seed;
        o.max_iterations = max_iterations;
        o.tolerance = tolerance;
        o.threads.threads = threads;
        std::string why;
        if (!o.IsValid(&why)) throw py::value_error("gaussian_mixture: " + why);
        std::vector<std::uint8_t> labels_of_class;
        if (class_labels) {
          labels_of_class = ClassLabels(*class_labels, "gaussian_mixture class_labels");
          if (int(labels_of_class.size()) != components)
            throw py::value_error("gaussian_mixture class_labels: " + std::to_string(labels_of_class.size()) +
                                  " labels for " + std::to_string(components) + " components");
        } else {
          for (int c = 0; c < components; ++c) labels_of_class.push_back(std::uint8_t(c));
        }
        GmmModel model;
        ProbabilisticSegmentation seg;
        {
          py::gil_scoped_release release;
          const AnyVolume any(v);
          model = FitGaussianMixture(any, o);
          seg = ClassifyGaussianMixture(any, model, labels_of_class, posteriors, o.threads);
        }
        py::dict d;
        d["weights"] = model.weights;
        d["means"] = model.means;
        d["sigmas"] = model.sigmas;
        d["iterations"] = model.iterations;
        d["converged"] = model.converged;
        d["log_likelihood"] = model.log_likelihood;
        d["message"] = model.message;
        d["labels"] = ToArray(std::move(seg.labels));
        py::list p;
        for (Volume<std::uint8_t>& c : seg.posteriors) p.append(ToArray(std::move(c)));
        d["posteriors"] = p;
        return d;
      },
      py::arg("grey"), py::arg("components") = 3, py::arg("bins") = 2048, py::arg("tied_sigma") = false,
      py::arg("init") = "quantiles", py::arg("seed") = 1, py::arg("max_iterations") = 5000, py::arg("tolerance") = 1e-9,
      py::arg("class_labels") = py::none(), py::arg("posteriors") = true, py::arg("threads") = 0,
      "Gaussian mixture fitted by EM to the grey-value histogram, then per-voxel posteriors and MAP labels. "
      "A dict: weights, means, sigmas (grey units, components by increasing mean), iterations, converged, "
      "log_likelihood (mean per voxel), message, labels (uint8: class_labels[c], default c), posteriors "
      "(one uint8 array per component, round(255 p)).");

  m.def(
      "segment",
      [](const py::array& grey, Spacing spacing, const std::string& method, const std::string& phases,
         std::vector<int> class_labels, std::int64_t min_island_voxels, double h_factor, double noise_sigma,
         std::array<double, 3> psf_sigma_vox, double smoothness, int max_sweeps, const std::string& clean_up, int bins,
         int threads) {
        const Volume<float> v = ToVolume<float>(grey, spacing, "segment grey");
        QuickLookOptions o;
        o.method = SegmentMethodFromString(method);
        o.phases = PhasesOf(phases);
        o.class_labels = ClassLabels(class_labels, "segment class_labels");
        o.min_island_voxels = min_island_voxels;
        o.nlm.h_factor = h_factor;
        o.nlm.sigma = noise_sigma;
        std::string why;
        if (!o.nlm.IsValid(&why)) throw py::value_error("segment: " + why);
        o.refine.psf_sigma_vox = {psf_sigma_vox[0], psf_sigma_vox[1], psf_sigma_vox[2]};
        o.refine.smoothness = smoothness;
        o.refine.max_sweeps = max_sweeps;
        if (max_sweeps < 0) throw py::value_error("segment: max_sweeps " + std::to_string(max_sweeps) + " is negative");
        if (!clean_up.empty()) o.clean_up = PhaseCleanUpsFromSpec(clean_up, "clean_up");  // "" = none, the C++ default
        o.bins = bins;
        o.threads.threads = threads;
        o.progress = ProgressStyle::kOff;
        QuickLookRow row;
        std::vector<Volume<std::uint8_t>> posteriors;
        PhaseVolume labels;
        {
          py::gil_scoped_release release;
          labels = SegmentFrame(AnyVolume(v), o, &row, &posteriors);
        }
        py::dict d;
        d["labels"] = ToArray(std::move(labels));
        py::dict p;
        for (std::size_t c = 0; c < posteriors.size(); ++c) {
          const auto phase = o.phases.FindLabel(o.class_labels[c]);
          p[py::str(phase ? phase->name : std::to_string(o.class_labels[c]))] = ToArray(std::move(posteriors[c]));
        }
        d["probabilities"] = p;
        d["thresholds"] = row.thresholds;
        d["status"] = row.status;
        d["provenance"] = SegmentationJson(o);
        return d;
      },
      py::arg("grey"), py::arg("spacing") = Spacing{1, 1, 1}, py::arg("method") = "nlm+gmm", py::arg("phases") = "",
      py::arg("class_labels") = std::vector<int>{0, 2, 1}, py::arg("min_island_voxels") = 27, py::arg("h_factor") = 0.45,
      py::arg("noise_sigma") = 0.0, py::arg("psf_sigma_vox") = std::array<double, 3>{0.6, 0.6, 0.6},
      py::arg("smoothness") = 0.3, py::arg("max_sweeps") = 10, py::arg("clean_up") = "", py::arg("bins") = 256,
      py::arg("threads") = 0,
      "Segments a grey frame as the pipeline's segment step does. method 'nlm+gmm' (default: non-local means, "
      "tied-sigma mixture, partial-volume correction, forward-model refinement with the PSF psf_sigma_vox "
      "(voxels) and smoothness, islands under min_island_voxels removed under the dual rule), 'gmm' or "
      "'multi-otsu'. class_labels: phase label of each intensity class, darkest first (pore, binder, active). "
      "A dict: labels (uint8), probabilities {phase: uint8 round(255 p)} (empty for multi-otsu), thresholds "
      "(grey units: Otsu thresholds or mixture means), status, provenance (JSON).");

  m.def(
      "label_phase",
      [](const py::array& labels, int phase, const std::string& phases, std::optional<int> connectivity, int threads) {
        const PhaseVolume v = ToVolume<std::uint8_t>(labels, Spacing{1, 1, 1}, "label_phase labels");
        const PhaseTable table = PhasesOf(phases);
        if (phase < 0 || phase > 255) throw py::value_error("label_phase: phase " + std::to_string(phase) + " is not 0..255");
        const auto p = table.FindLabel(std::uint8_t(phase));
        if (!p) throw py::value_error("label_phase: phase label " + std::to_string(phase) + " is not in the phase table " + table.ToSpec());
        ComponentOptions o;
        // The dual rule (DESIGN.md): pore 26-connected, solids 6-connected, unless overridden.
        o.connectivity = connectivity ? ConnectivityOf(*connectivity, "label_phase")
                                      : (p->role == PhaseRole::kPore ? Connectivity::k26 : Connectivity::k6);
        o.threads.threads = threads;
        ComponentLabels c;
        {
          py::gil_scoped_release release;
          c = LabelPhase(v, std::uint8_t(phase), o);
        }
        const std::array<double, 3> span = SpanningFractions(c);
        py::dict d;
        d["components"] = c.components.size();
        d["connectivity"] = std::stoi(ToString(o.connectivity));
        d["spanning_fraction"] = py::make_tuple(span[0], span[1], span[2]);
        d["labels"] = ToArray(std::move(c.labels));
        return d;
      },
      py::arg("labels"), py::arg("phase"), py::arg("phases") = "", py::arg("connectivity") = py::none(), py::arg("threads") = 0,
      "Connected components of one phase of a uint8 label array under the dual rule (pore-role phases "
      "26-connected, the others 6-connected; connectivity overrides). A dict: labels (int32, 0 elsewhere, 1..n), "
      "components (n), connectivity, spanning_fraction (z, y, x: share of the phase in components touching "
      "both faces normal to the axis).");

  m.def(
      "percolation",
      [](const py::array& labels, const std::string& phases, int pore_connectivity, int solid_connectivity, int threads) {
        const PhaseVolume v = ToVolume<std::uint8_t>(labels, Spacing{1, 1, 1}, "percolation labels");
        DualConnectivity dual;
        dual.pore = ConnectivityOf(pore_connectivity, "percolation pore_connectivity");
        dual.solid = ConnectivityOf(solid_connectivity, "percolation solid_connectivity");
        std::string why;
        if (!dual.IsValid(&why)) throw py::value_error("percolation: " + why);
        const PhaseTable table = PhasesOf(phases);
        Percolation p;
        {
          py::gil_scoped_release release;
          p = ComputePercolation(v, table, dual, ThreadBudget{threads});
        }
        py::dict d;
        for (const PhasePercolation& q : p.phases) {
          py::dict e;
          e["label"] = int(q.label);
          e["connectivity"] = std::stoi(ToString(q.connectivity));
          e["voxels"] = q.voxels;
          e["components"] = q.components;
          e["spanning_fraction"] = py::make_tuple(q.spanning_fraction[0], q.spanning_fraction[1], q.spanning_fraction[2]);
          e["isolated_fraction"] = q.isolated_fraction;
          d[py::str(q.name)] = e;
        }
        return d;
      },
      py::arg("labels"), py::arg("phases") = "", py::arg("pore_connectivity") = 26, py::arg("solid_connectivity") = 6,
      py::arg("threads") = 0,
      "Percolation of every phase with the dual connectivity rule: {phase: {label, connectivity, voxels, components, "
      "spanning_fraction (z, y, x), isolated_fraction}} (shares of the phase's voxels, dimensionless).");

  m.def(
      "watershed",
      [](const py::array& mask, Spacing spacing, double h_um, int connectivity, int threads) {
        const Volume<std::uint8_t> v = ToMask(mask, spacing, "watershed mask");
        WatershedOptions o;
        o.h_um = h_um;
        o.connectivity = ConnectivityOf(connectivity, "watershed");
        o.threads.threads = threads;
        std::string why;
        if (!o.IsValid(&why)) throw py::value_error("watershed: " + why);
        WatershedResult r;
        {
          py::gil_scoped_release release;
          r = SeparateParticles(v, o);
        }
        return py::make_tuple(ToArray(std::move(r.labels)), r.particles);
      },
      py::arg("mask"), py::arg("spacing") = Spacing{1, 1, 1}, py::arg("h_um") = 0.2, py::arg("connectivity") = 6,
      py::arg("threads") = 0,
      "Particles of mask != 0 split by the watershed of the distance transform (maxima less than h_um above "
      "their saddle merged): (labels int32 (0 outside, 1..n), n).");

  m.def(
      "local_thickness",
      [](const py::array& mask, Spacing spacing, int threads) {
        const Volume<std::uint8_t> v = ToMask(mask, spacing, "local_thickness mask");
        Volume<float> t;
        {
          py::gil_scoped_release release;
          t = LocalThickness(v, ThreadBudget{threads});
        }
        return ToArray(std::move(t));
      },
      py::arg("mask"), py::arg("spacing") = Spacing{1, 1, 1}, py::arg("threads") = 0,
      "Local thickness (Hildebrand & Rueegsegger 1997): at every voxel of mask != 0 the diameter (um) of the "
      "largest ball inside the set that holds it; 0 outside. float32, (z, y, x).");

  m.def(
      "particle_table",
      [](const py::array& labels, Spacing spacing, int threads) {
        const LabelVolume v = ToVolume<std::int32_t>(labels, spacing, "particle_table labels");
        std::vector<ParticleStats> p;
        {
          py::gil_scoped_release release;
          p = MeasureParticles(v, ThreadBudget{threads});
        }
        return TableWithUnits(ParticleTable(p));
      },
      py::arg("labels"), py::arg("spacing") = Spacing{1, 1, 1}, py::arg("threads") = 0,
      "Size and shape of every labelled particle (int32 labels 1..n): {'columns': {label, voxels, volume_um3, "
      "equivalent_diameter_um, surface_um2, sphericity, centroid_*_um, semi_axis_*_um, axis1_*, touches_border}, "
      "'units': {...}}.");
}

}  // namespace op4dpy
