#include "op4d/advise/advise.h"

#include <xraylib/xraylib.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <map>
#include <sstream>

#include <nlohmann/json.hpp>

#include "op4d/core/error.h"

#ifndef OP4D_DATA_DIR
#define OP4D_DATA_DIR "data"
#endif
#ifndef OP4D_INSTALLED_DATA_DIR
#define OP4D_INSTALLED_DATA_DIR "share/op4d"
#endif

namespace op4d {
namespace {

// xraylib reports through an xrl_error; this turns one into a ConfigError naming what was asked.
template <typename F>
auto Xrl(const std::string& where, const std::string& what, F f) {
  xrl_error* error = nullptr;
  auto v = f(&error);
  if (error) {
    const std::string m = error->message;
    xrl_error_free(error);
    throw ConfigError(where, "'" + what + "': " + m);
  }
  return v;
}

std::string Trim(std::string s) {
  const auto b = s.find_first_not_of(" \t"), e = s.find_last_not_of(" \t");
  return b == std::string::npos ? std::string() : s.substr(b, e - b + 1);
}

std::vector<std::string> Split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::stringstream in(s);
  std::string item;
  while (std::getline(in, item, sep)) out.push_back(Trim(item));
  return out;
}

double ParsePositive(const std::string& v, const std::string& where, const std::string& what) {
  char* end = nullptr;
  const double d = std::strtod(v.c_str(), &end);
  if (v.empty() || *end != '\0' || !std::isfinite(d) || !(d > 0))
    throw ConfigError(where, what + " '" + v + "' must be a number > 0");
  return d;
}

std::vector<ElementFraction> FormulaFractions(const std::string& formula, const std::string& where) {
  compoundData* cd = Xrl(where, formula, [&](xrl_error** e) { return CompoundParser(formula.c_str(), e); });
  std::vector<ElementFraction> out;
  for (int i = 0; i < cd->nElements; ++i) out.push_back({cd->Elements[i], cd->massFractions[i]});
  FreeCompoundData(cd);
  return out;
}

double Clamp(double v, double lo, double hi) { return std::max(lo, std::min(hi, v)); }

// A phase's composition, parsed once per use of the phase rather than once per energy.
std::vector<ElementFraction> CompositionOf(const XrayPhase& p) { return ParseComposition(p.composition, "phase " + p.name); }

// delta is linear in density and additive over elements: each element at its partial density.
double Decrement(const std::vector<ElementFraction>& c, double density, const std::string& name, double energy_keV) {
  double delta = 0;
  for (const ElementFraction& e : c) {
    char* symbol = Xrl("phase " + name, "Z " + std::to_string(e.z), [&](xrl_error** err) { return AtomicNumberToSymbol(e.z, err); });
    const std::string sym = symbol;
    xrlFree(symbol);
    delta += 1 - Xrl("phase " + name, sym, [&](xrl_error** err) {
               return Refractive_Index_Re(sym.c_str(), energy_keV, density * e.mass_fraction, err);
             });
  }
  return delta;
}

std::string Fmt(const char* f, double a) {
  char b[96];
  std::snprintf(b, sizeof b, f, a);
  return b;
}

}  // namespace

std::vector<ElementFraction> ParseComposition(const std::string& spec, const std::string& where) {
  const std::string s = Trim(spec);
  if (s.empty()) throw ConfigError(where, "an empty composition: give a formula (e.g. LiCoO2) or formula:mass,...");
  std::map<int, double> sum;
  double total = 0;
  for (const std::string& part : Split(s, ',')) {
    const auto colon = part.rfind(':');
    const std::string formula = Trim(colon == std::string::npos ? part : part.substr(0, colon));
    const double w = colon == std::string::npos ? 1.0 : ParsePositive(Trim(part.substr(colon + 1)), where, "mass weight of " + formula);
    for (const ElementFraction& e : FormulaFractions(formula, where)) sum[e.z] += w * e.mass_fraction;
    total += w;
  }
  std::vector<ElementFraction> out;
  for (const auto& [z, w] : sum) out.push_back({z, w / total});
  return out;
}

std::vector<XrayPhase> ParsePhases(const std::string& spec, const std::string& where) {
  std::vector<XrayPhase> out;
  for (const std::string& item : Split(spec, ';')) {
    if (item.empty()) continue;
    const auto eq = item.find('=');
    if (eq == std::string::npos || eq == 0)
      throw ConfigError(where, "'" + item + "' is not name=composition@density[@volume_fraction]");
    XrayPhase p;
    p.name = Trim(item.substr(0, eq));
    const std::vector<std::string> f = Split(item.substr(eq + 1), '@');
    if (f.size() < 2 || f.size() > 3) throw ConfigError(where, "phase " + p.name + ": '" + item.substr(eq + 1) + "' is not composition@density[@volume_fraction]");
    p.composition = f[0];
    ParseComposition(p.composition, where + " (phase " + p.name + ")");
    p.density_g_cm3 = ParsePositive(f[1], where, "phase " + p.name + ": density (g/cm^3)");
    if (f.size() == 3) {
      p.volume_fraction = ParsePositive(f[2], where, "phase " + p.name + ": volume fraction");
      if (p.volume_fraction > 1) throw ConfigError(where, "phase " + p.name + ": volume fraction " + f[2] + " is above 1");
    }
    out.push_back(p);
  }
  if (out.empty()) throw ConfigError(where, "no phase given");
  return out;
}

std::vector<XrayPhase> ElectrodePhases() {
  return {{"NMC", "LiNi0.333333Mn0.333333Co0.333333O2", 4.77, 0.5},
          {"carbon-binder", "C:0.5,C2H2F2:0.5", 1.95, 0.1},
          {"electrolyte", "LiPF6:0.12,C3H4O3:0.44,C3H6O3:0.44", 1.29, 0.4}};
}

double MassAttenuation(const std::vector<ElementFraction>& c, double energy_keV) {
  if (!(energy_keV > 0)) throw ConfigError("energy_keV", Fmt("%g must be > 0", energy_keV));
  double mu = 0;
  for (const ElementFraction& e : c)
    mu += e.mass_fraction * Xrl("energy_keV", "Z " + std::to_string(e.z) + Fmt(" at %g keV", energy_keV),
                                [&](xrl_error** err) { return CS_Total(e.z, energy_keV, err); });
  return mu;
}

double LinearAttenuation(const XrayPhase& p, double energy_keV) {
  return MassAttenuation(CompositionOf(p), energy_keV) * p.density_g_cm3;
}

double RefractiveDecrement(const XrayPhase& p, double energy_keV) {
  return Decrement(CompositionOf(p), p.density_g_cm3, p.name, energy_keV);
}

Spectrum Monochromatic(double energy_keV) { return {Fmt("%g keV monochromatic", energy_keV), {energy_keV}, {1.0}}; }

Spectrum LabTube(double kVp, double filter_al_mm) {
  if (!(kVp > 6)) throw ConfigError("kVp", Fmt("%g must be above 6 kV", kVp));
  Spectrum s;
  s.name = Fmt("W tube %g kVp", kVp) + Fmt(", %g mm Al, Kramers bremsstrahlung without lines", filter_al_mm);
  const std::vector<ElementFraction> al{{13, 1.0}};
  const int n = 100;
  for (int i = 0; i < n; ++i) {
    const double e = 5 + (kVp - 5) * (i + 0.5) / n;
    const double w = (kVp - e) / e * std::exp(-MassAttenuation(al, e) * 2.699 * filter_al_mm * 0.1);
    s.energy_keV.push_back(e);
    s.weight.push_back(w);
  }
  return s;
}

double EffectiveAttenuation(const XrayPhase& p, const Spectrum& s) {
  const std::vector<ElementFraction> c = CompositionOf(p);
  double mu = 0, w = 0;
  for (std::size_t i = 0; i < s.energy_keV.size(); ++i) {
    mu += s.weight[i] * MassAttenuation(c, s.energy_keV[i]) * p.density_g_cm3;
    w += s.weight[i];
  }
  return mu / w;
}

double Transmission(const std::vector<XrayPhase>& phases, const Spectrum& s, double thickness_um) {
  double known = 0;
  std::vector<std::vector<ElementFraction>> c;
  for (const XrayPhase& p : phases) {
    known += p.volume_fraction;
    c.push_back(CompositionOf(p));
  }
  double t = 0, w = 0;
  for (std::size_t i = 0; i < s.energy_keV.size(); ++i) {
    double mu = 0;
    for (std::size_t k = 0; k < phases.size(); ++k)
      mu += (known > 0 ? phases[k].volume_fraction / known : 1.0 / double(phases.size())) *
            MassAttenuation(c[k], s.energy_keV[i]) * phases[k].density_g_cm3;
    t += s.weight[i] * std::exp(-mu * thickness_um * 1e-4);
    w += s.weight[i];
  }
  return t / w;
}

std::vector<PairContrast> ContrastTable(const std::vector<XrayPhase>& phases, const Spectrum& s, double snr, double rose) {
  std::vector<double> mu, delta;
  for (const XrayPhase& p : phases) {
    mu.push_back(EffectiveAttenuation(p, s));
    const std::vector<ElementFraction> c = CompositionOf(p);
    double d = 0, w = 0;
    for (std::size_t i = 0; i < s.energy_keV.size(); ++i) {
      d += s.weight[i] * Decrement(c, p.density_g_cm3, p.name, s.energy_keV[i]);
      w += s.weight[i];
    }
    delta.push_back(d / w);
  }
  const double mu_max = *std::max_element(mu.begin(), mu.end());
  const double delta_max = *std::max_element(delta.begin(), delta.end());
  std::vector<PairContrast> out;
  for (std::size_t i = 0; i < phases.size(); ++i)
    for (std::size_t j = i + 1; j < phases.size(); ++j) {
      PairContrast c;
      c.a = phases[i].name;
      c.b = phases[j].name;
      c.mu_a = mu[i];
      c.mu_b = mu[j];
      c.relative = std::abs(mu[i] - mu[j]) / mu_max;
      c.cnr = snr * c.relative;
      c.phase_cnr = snr * std::abs(delta[i] - delta[j]) / delta_max;
      c.detectable = c.cnr >= rose;
      c.phase_detectable = c.phase_cnr >= rose;
      out.push_back(c);
    }
  return out;
}

std::string DefaultTechniquesPath() {
  for (const std::string& dir : {std::string(OP4D_DATA_DIR), std::string(OP4D_INSTALLED_DATA_DIR)}) {
    const std::string p = dir + "/techniques.json";
    if (std::ifstream(p).good()) return p;
  }
  return std::string(OP4D_DATA_DIR) + "/techniques.json";
}

std::vector<Technique> LoadTechniques(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw IoError(path, "", "cannot open the technique table");
  nlohmann::json j;
  try {
    in >> j;
  } catch (const nlohmann::json::exception& e) {
    throw IoError(path, "", std::string("not valid JSON: ") + e.what());
  }
  if (!j.contains("techniques") || !j["techniques"].is_array() || j["techniques"].empty())
    throw ConfigError(path + "#/techniques", "an array of techniques is needed");
  std::vector<Technique> out;
  for (std::size_t i = 0; i < j["techniques"].size(); ++i) {
    const nlohmann::json& t = j["techniques"][i];
    const std::string at = path + "#/techniques/" + std::to_string(i);
    auto need = [&](const char* key) -> const nlohmann::json& {
      if (!t.contains(key)) throw ConfigError(at + "/" + key, "missing");
      return t[key];
    };
    Technique x;
    try {
      x.id = need("id").get<std::string>();
      x.name = need("name").get<std::string>();
      x.contrast = need("contrast").get<std::string>();
      x.notes = t.value("notes", "");
      const auto v = need("voxel_um").get<std::vector<double>>();
      if (v.size() != 2 || !(v[0] > 0) || !(v[1] >= v[0])) throw ConfigError(at + "/voxel_um", "[finest, coarsest] with 0 < finest <= coarsest");
      x.min_voxel_um = v[0];
      x.max_voxel_um = v[1];
      x.detector_px = need("detector_px").get<int>();
      x.max_fov_um = need("max_fov_um").get<double>();
      x.scan_min = need("scan_min").get<double>();
      x.destructive = need("destructive").get<bool>();
      x.in_operando = need("in_operando").get<bool>();
      const nlohmann::json& e = need("energy");
      x.energy_kind = e.at("kind").get<std::string>();
      const auto r = e.at("range").get<std::vector<double>>();
      if (r.size() != 2 || r[1] < r[0]) throw ConfigError(at + "/energy/range", "[lowest, highest] is needed");
      x.energy_min = r[0];
      x.energy_max = r[1];
      x.sources = t.value("sources", std::vector<std::string>{});
    } catch (const nlohmann::json::exception& e) {
      throw ConfigError(at, std::string("wrong type: ") + e.what());
    }
    if (x.detector_px < 1 || !(x.max_fov_um > 0) || !(x.scan_min > 0))
      throw ConfigError(at, "detector_px, max_fov_um and scan_min must be > 0");
    if (x.contrast != "absorption" && x.contrast != "absorption+phase" && x.contrast != "electron")
      throw ConfigError(at + "/contrast", "'" + x.contrast + "' is not absorption, absorption+phase or electron");
    if (x.energy_kind != "lab" && x.energy_kind != "mono" && x.energy_kind != "none")
      throw ConfigError(at + "/energy/kind", "'" + x.energy_kind + "' is not lab, mono or none");
    if ((x.energy_kind == "none") != (x.contrast == "electron"))
      throw ConfigError(at + "/energy/kind", "electron contrast goes with kind none, X-rays with lab or mono");
    out.push_back(x);
  }
  return out;
}

bool AdviceInput::IsValid(std::string* why) const {
  auto fail = [&](const std::string& m) { return (why ? (*why = m, false) : false); };
  if (!(smallest_feature_um > 0) || !std::isfinite(smallest_feature_um)) return fail("smallest_feature_um must be > 0");
  if (!(rve_edge_um > 0) || !std::isfinite(rve_edge_um)) return fail("rve_edge_um must be > 0");
  if (!(sample_thickness_um >= 0) || !std::isfinite(sample_thickness_um)) return fail("sample_thickness_um must be >= 0");
  if (!(min_voxels_per_feature >= 1)) return fail("min_voxels_per_feature must be >= 1");
  if (!(min_transmission > 0 && min_transmission < 1)) return fail("min_transmission must be in (0, 1)");
  if (!(snr > 0) || !(rose > 0)) return fail("snr and rose must be > 0");
  for (const XrayPhase& p : phases)
    if (!(p.density_g_cm3 > 0)) return fail("phase " + p.name + ": density must be > 0 g/cm^3");
  return true;
}

std::vector<TechniqueAdvice> Advise(const AdviceInput& input, const std::vector<Technique>& techniques) {
  std::string why;
  if (!input.IsValid(&why)) throw ConfigError("advise", why);
  AdviceInput in = input;
  if (in.phases.empty()) in.phases = ElectrodePhases();
  const double thickness = in.sample_thickness_um > 0 ? in.sample_thickness_um : in.rve_edge_um;
  std::vector<TechniqueAdvice> out;
  for (const Technique& t : techniques) {
    TechniqueAdvice a;
    a.technique = t;
    a.allowed = true;
    if (in.in_operando && !t.in_operando) {
      a.allowed = false;
      a.reasons.push_back(t.destructive ? "destructive: cannot follow an operating cell" : "not in operando capable (" + t.notes + ")");
    } else if (t.destructive && !in.destructive_allowed) {
      a.allowed = false;
      a.reasons.push_back("destructive, and the sample must be kept");
    }
    // The coarsest voxel that still gives min_voxels_per_feature (largest field of view), within reach.
    const double wanted = in.smallest_feature_um / in.min_voxels_per_feature;
    a.voxel_um = Clamp(wanted, t.min_voxel_um, t.max_voxel_um);
    a.voxels_per_feature = in.smallest_feature_um / a.voxel_um;
    a.resolves = a.voxels_per_feature >= in.min_voxels_per_feature * (1 - 1e-9);
    a.reasons.push_back(Fmt("%.1f voxels across the smallest feature", a.voxels_per_feature) + Fmt(" at %.3g um", a.voxel_um) +
                        (a.resolves ? "" : Fmt(" (< %g needed: the finest voxel is too coarse)", in.min_voxels_per_feature)));
    a.fov_um = std::min(a.voxel_um * t.detector_px, t.max_fov_um);
    a.fov_covers_rve = a.fov_um >= in.rve_edge_um;
    a.scans_for_rve = std::pow(std::ceil(in.rve_edge_um / a.fov_um), 3);
    a.reasons.push_back(Fmt("field of view %.4g um", a.fov_um) + Fmt(" vs RVE %.4g um", in.rve_edge_um) +
                        (a.fov_covers_rve ? ": one scan" : Fmt(": %.0f scans to tile it", a.scans_for_rve) +
                                                              (in.in_operando ? " (not while the cell operates)" : "")));
    if (t.contrast == "electron") {
      a.transmits = true;
      a.transmission = 1;
      a.contrast_ok = true;
      a.reasons.push_back("electron contrast (composition/topography): no absorption limit; " + t.notes);
    } else {
      // The lowest energy that passes min_transmission: absorption contrast falls with energy.
      const int steps = t.energy_max > t.energy_min ? 40 : 0;
      for (int k = 0; k <= steps; ++k) {
        const double e = steps ? t.energy_min + (t.energy_max - t.energy_min) * k / steps : t.energy_min;
        const Spectrum s = t.energy_kind == "lab" ? LabTube(e) : Monochromatic(e);
        a.energy = e;
        a.transmission = Transmission(in.phases, s, thickness);
        if (a.transmission >= in.min_transmission) break;
      }
      a.transmits = a.transmission >= in.min_transmission;
      const Spectrum s = t.energy_kind == "lab" ? LabTube(a.energy) : Monochromatic(a.energy);
      a.contrast = ContrastTable(in.phases, s, in.snr, in.rose);
      a.reasons.push_back(s.name + Fmt(": transmission %.3g", a.transmission) + Fmt(" through %.4g um", thickness) +
                          (a.transmits ? "" : Fmt(" (< %g: the sample is too thick)", in.min_transmission)));
      const bool phase = t.contrast == "absorption+phase";
      a.contrast_ok = true;
      for (const PairContrast& c : a.contrast) {
        const bool ok = c.detectable || (phase && c.phase_detectable);
        a.contrast_ok = a.contrast_ok && ok;
        if (!c.detectable)
          a.reasons.push_back(c.a + " | " + c.b + Fmt(": absorption CNR %.2g below the Rose criterion", c.cnr) +
                              (c.phase_detectable ? Fmt("; phase contrast CNR %.2g would separate them", c.phase_cnr) +
                                                        (phase ? " (available)" : " (not available here)")
                                                  : "; phase contrast does not separate them either"));
      }
    }
    // Order: allowed, resolves, transmits, one scan covers the RVE, contrast, then voxels per feature
    // (up to 4x the minimum) and the scan time.
    a.score = (a.allowed ? 1e6 : 0) + (a.resolves ? 1e5 : 0) + (a.transmits ? 1e4 : 0) + (a.fov_covers_rve ? 1e3 : 0) +
              (a.contrast_ok ? 1e2 : 0) + 10 * std::min(a.voxels_per_feature / in.min_voxels_per_feature, 4.0) / 4 -
              std::log10(t.scan_min) / 10;
    out.push_back(a);
  }
  std::stable_sort(out.begin(), out.end(), [](const TechniqueAdvice& x, const TechniqueAdvice& y) { return x.score > y.score; });
  for (std::size_t i = 0; i < out.size(); ++i) out[i].rank = int(i + 1);
  return out;
}

std::string FormatAdvice(const std::vector<TechniqueAdvice>& advice) {
  std::ostringstream o;
  char line[256];
  std::snprintf(line, sizeof line, "%-4s %-38s %-9s %-10s %-11s %-11s %-8s %s\n", "rank", "technique", "voxel_um", "vox/feat",
                "fov_um", "transmit", "contrast", "verdict");
  o << line;
  for (const TechniqueAdvice& a : advice) {
    const bool ok = a.allowed && a.resolves && a.transmits && a.fov_covers_rve && a.contrast_ok;
    std::snprintf(line, sizeof line, "%-4d %-38s %-9.3g %-10.1f %-11.4g %-11.3g %-8s %s\n", a.rank, a.technique.name.c_str(),
                  a.voxel_um, a.voxels_per_feature, a.fov_um, a.transmission, a.contrast_ok ? "ok" : "LOW",
                  !a.allowed ? "excluded" : ok ? "suitable" : "limited");
    o << line;
    for (const std::string& r : a.reasons) o << "       - " << r << "\n";
  }
  return o.str();
}

std::string AdviceJson(const AdviceInput& in, const std::vector<TechniqueAdvice>& advice) {
  nlohmann::json j;
  j["input"] = {{"smallest_feature_um", in.smallest_feature_um}, {"rve_edge_um", in.rve_edge_um},
                {"sample_thickness_um", in.sample_thickness_um}, {"in_operando", in.in_operando},
                {"destructive_allowed", in.destructive_allowed}, {"min_voxels_per_feature", in.min_voxels_per_feature},
                {"min_transmission", in.min_transmission}, {"snr", in.snr}, {"rose", in.rose}};
  for (const TechniqueAdvice& a : advice) {
    nlohmann::json t{{"rank", a.rank}, {"id", a.technique.id}, {"name", a.technique.name}, {"allowed", a.allowed},
                     {"resolves", a.resolves}, {"fov_covers_rve", a.fov_covers_rve}, {"transmits", a.transmits},
                     {"contrast_ok", a.contrast_ok}, {"voxel_um", a.voxel_um}, {"voxels_per_feature", a.voxels_per_feature},
                     {"fov_um", a.fov_um}, {"scans_for_rve", a.scans_for_rve}, {"energy", a.energy},
                     {"energy_unit", a.technique.energy_kind == "lab" ? "kVp" : a.technique.energy_kind == "mono" ? "keV" : ""},
                     {"transmission", a.transmission}, {"scan_min", a.technique.scan_min}, {"reasons", a.reasons},
                     {"sources", a.technique.sources}};
    for (const PairContrast& c : a.contrast)
      t["contrast"].push_back({{"a", c.a}, {"b", c.b}, {"mu_a_per_cm", c.mu_a}, {"mu_b_per_cm", c.mu_b}, {"relative", c.relative},
                               {"cnr", c.cnr}, {"phase_cnr", c.phase_cnr}, {"detectable", c.detectable},
                               {"phase_detectable", c.phase_detectable}});
    j["ranking"].push_back(t);
  }
  return j.dump(2);
}

ResultTable AdviceTable(const std::vector<TechniqueAdvice>& advice) {
  ResultTable t{"advice",
                {{"rank", "1", {}}, {"score", "1", {}}, {"voxel_um", "um", {}}, {"voxels_per_feature", "1", {}}, {"fov_um", "um", {}},
                 {"scans_for_rve", "1", {}}, {"energy", "keV or kVp", {}}, {"transmission", "1", {}}, {"allowed", "1", {}},
                 {"resolves", "1", {}}, {"fov_covers_rve", "1", {}}, {"transmits", "1", {}}, {"contrast_ok", "1", {}}}};
  for (const TechniqueAdvice& a : advice) {
    const double row[] = {double(a.rank), a.score, a.voxel_um, a.voxels_per_feature, a.fov_um, a.scans_for_rve, a.energy,
                          a.transmission, double(a.allowed), double(a.resolves), double(a.fov_covers_rve), double(a.transmits),
                          double(a.contrast_ok)};
    for (std::size_t c = 0; c < t.columns.size(); ++c) t.columns[c].values.push_back(row[c]);
  }
  return t;
}

}  // namespace op4d
