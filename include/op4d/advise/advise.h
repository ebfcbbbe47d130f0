// The imaging-technique advisor: X-ray attenuation and contrast of an electrode's phases from their
// composition (xraylib, Debian libxrl-dev, behind these types), and a ranking of lab micro-CT, nano-CT,
// synchrotron micro/nano-CT and FIB-SEM from the smallest feature to resolve, the representative volume
// to image, the sample thickness and whether the measurement may destroy the sample.
//
// Units: energies in keV, mass attenuation mu/rho in cm^2/g (total: photoelectric + Compton + Rayleigh,
// as NIST XCOM's "total attenuation with coherent scattering"), linear attenuation mu in 1/cm, lengths in
// um, densities in g/cm^3.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "op4d/core/parallel.h"
#include "op4d/core/table.h"
#include "op4d/core/volume.h"

namespace op4d {

// One element of a composition: atomic number and mass fraction (the fractions sum to 1).
struct ElementFraction {
  int z = 0;
  double mass_fraction = 0;
};

// A composition from a chemical formula ("LiNi0.33Mn0.33Co0.33O2", "C3H4O3") or a mixture of formulas by
// mass ("LiPF6:0.12,C3H4O3:0.44,C3H6O3:0.44"; the weights are normalised). Throws ConfigError naming
// `where` and the formula at fault (unknown element, a formula that does not parse, a weight <= 0).
std::vector<ElementFraction> ParseComposition(const std::string& spec, const std::string& where);

// A phase of the sample.
struct XrayPhase {
  std::string name;
  std::string composition;  // as ParseComposition reads it
  double density_g_cm3 = 0;
  double volume_fraction = 0;  // share of the sample (0 = unknown: phases weighted equally)
};
// Parses "name=composition@density[@fraction];..." (e.g. "NMC=LiNi0.333Mn0.333Co0.333O2@4.77;...").
std::vector<XrayPhase> ParsePhases(const std::string& spec, const std::string& where);
// NMC111 (4.77 g/cm^3), carbon-binder (carbon black + PVDF 1:1 by mass, 1.95 g/cm^3: the solid, not
// the nanoporous domain), electrolyte (1 M LiPF6 in EC:DMC 1:1 by mass: LiPF6 12 %, 1.29 g/cm^3).
std::vector<XrayPhase> ElectrodePhases();

double MassAttenuation(const std::vector<ElementFraction>& c, double energy_keV);  // cm^2/g
double LinearAttenuation(const XrayPhase& p, double energy_keV);                 // 1/cm
// delta of the refractive index n = 1 - delta + i beta (phase contrast), dimensionless.
double RefractiveDecrement(const XrayPhase& p, double energy_keV);

// A source spectrum: weights over energies (normalised on use).
struct Spectrum {
  std::string name;
  std::vector<double> energy_keV, weight;
};
Spectrum Monochromatic(double energy_keV);
// A tungsten-anode tube at kVp: Kramers' bremsstrahlung (kVp - E) / E from 5 keV, hardened by a
// filter_al_mm aluminium filter; characteristic lines are left out (stated in the name).
Spectrum LabTube(double kVp, double filter_al_mm = 1.0);
// Spectrum-weighted mean of mu (thin-sample limit), 1/cm, and transmission of the spectrum through
// thickness_um of the phase mixture (exact for the spectrum: sum_E w(E) exp(-mu(E) t)).
double EffectiveAttenuation(const XrayPhase& p, const Spectrum& s);
double Transmission(const std::vector<XrayPhase>& phases, const Spectrum& s, double thickness_um);

// Absorption contrast between two phases. The noise of the reconstructed mu is set by the exposure the
// whole sample needs, so a pair is judged against the strongest-attenuating phase: CNR = snr x
// |mu_a - mu_b| / mu_max, with snr the grey-level SNR of that phase (typical 20); detectable when CNR >=
// the Rose criterion (default 3). phase_cnr is the same with the refractive decrement delta (propagation
// or Zernike phase contrast), reported so a flagged pair shows whether phase contrast would separate it.
struct PairContrast {
  std::string a, b;
  double mu_a = 0, mu_b = 0;  // 1/cm
  double relative = 0;        // |mu_a - mu_b| / mu_max
  double cnr = 0, phase_cnr = 0;
  bool detectable = false, phase_detectable = false;
};
std::vector<PairContrast> ContrastTable(const std::vector<XrayPhase>& phases, const Spectrum& s, double snr = 20,
                                        double rose = 3);

// One technique of the table (data/techniques.json; values with their sources, not in code).
struct Technique {
  std::string id, name, contrast, energy_kind, notes;
  double min_voxel_um = 0, max_voxel_um = 0, max_fov_um = 0, scan_min = 0;
  double energy_min = 0, energy_max = 0;  // kVp (lab) or keV (mono); 0 for electrons
  int detector_px = 0;
  bool destructive = false, in_operando = false;
  std::vector<std::string> sources;
};
// Reads the technique table; throws IoError / ConfigError naming the file and the key at fault.
std::vector<Technique> LoadTechniques(const std::string& path);
std::string DefaultTechniquesPath();  // the installed data/techniques.json (source tree when built)

struct AdviceInput {
  double smallest_feature_um = 0;   // the smallest feature that must be resolved
  double rve_edge_um = 0;           // the edge of the cube that must be imaged to be representative
  double sample_thickness_um = 0;   // the X-ray path through the sample (0: the RVE edge)
  bool in_operando = false;
  bool destructive_allowed = false;
  std::vector<XrayPhase> phases;    // empty: ElectrodePhases()
  double min_voxels_per_feature = 3;
  double min_transmission = 0.1;    // the sample must pass at least this share of the beam
  double snr = 20, rose = 3;
  bool IsValid(std::string* why) const;
};

struct TechniqueAdvice {
  Technique technique;
  bool allowed = false;       // destructive / in operando rules
  bool resolves = false;      // min_voxels_per_feature at a voxel the technique reaches
  bool fov_covers_rve = false;
  bool transmits = false;     // enough beam through the sample (always true for electrons)
  bool contrast_ok = false;   // every phase pair detectable (absorption, or phase where the technique has it)
  double voxel_um = 0, voxels_per_feature = 0, fov_um = 0, scans_for_rve = 0;
  double energy = 0;          // kVp or keV chosen (the lowest that transmits: best contrast)
  double transmission = 0;
  std::vector<PairContrast> contrast;
  double score = 0;
  int rank = 0;
  std::vector<std::string> reasons;
};
// Every technique with its reasons, best first (rank 1). Deterministic.
std::vector<TechniqueAdvice> Advise(const AdviceInput& in, const std::vector<Technique>& techniques);
std::string FormatAdvice(const std::vector<TechniqueAdvice>& advice);
std::string AdviceJson(const AdviceInput& in, const std::vector<TechniqueAdvice>& advice);
// The ranking as a table ("advice": one row per technique, best first; 0/1 for the rule verdicts) for a
// store's series results; the technique names and reasons go with it as AdviceJson in the provenance.
ResultTable AdviceTable(const std::vector<TechniqueAdvice>& advice);

// Representative volume from a measured label volume: porosity (the phase's fraction), a_s (its
// boundary area per volume, 1/um) and tau along z of a phase on cubes of growing edge, `samples` cubes
// per edge at seeded random positions. The RVE edge is the smallest edge from which on, for every
// metric, the cubes' coefficient of variation and the gap of their mean to the whole volume's value are
// both within `tolerance`; reached = false when no edge qualifies (a gradient, a too small volume).
struct RveOptions {
  std::uint8_t label = 0;          // the phase (e.g. 0 = pore)
  std::vector<std::int64_t> edges; // voxels; empty: 16, 24, 32, 48, 64, 96, 128, ... below the shortest axis
  int samples = 6;
  double tolerance = 0.05;
  bool tortuosity = true;
  std::uint64_t seed = 1;
  ThreadBudget threads;
};
struct RvePoint {
  std::int64_t edge_vox = 0;
  double edge_um = 0;
  double porosity_mean = 0, porosity_cv = 0, as_mean = 0, as_cv = 0, tau_mean = 0, tau_cv = 0;
  int tau_percolating = 0;  // cubes in which the phase percolates along z (tau finite)
};
struct RveResult {
  std::vector<RvePoint> curve;
  double porosity = 0, as_per_um = 0, tau = 0;  // the whole volume
  bool reached = false;
  double rve_edge_um = 0;  // 0 when not reached
  std::string limiting;    // the metric that converges last
};
RveResult ComputeRve(const Volume<std::uint8_t>& labels, const RveOptions& options);
// The RVE curve as a table ("advice_rve": one row per cube edge, means and coefficients of variation).
ResultTable RveTable(const RveResult& r);

// The smallest feature of a label volume: the 10th percentile of the local thickness (ball diameter,
// um) of every listed phase; the smallest of them and which phase it is.
struct FeatureSize {
  std::string phase;
  double p10_um = 0, p50_um = 0;
};
std::vector<FeatureSize> FeatureSizes(const Volume<std::uint8_t>& labels, const std::vector<std::pair<std::string, std::uint8_t>>& phases,
                                      ThreadBudget threads = {});

}  // namespace op4d
