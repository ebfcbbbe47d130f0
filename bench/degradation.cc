// Scores the degradation step against a scripted campaign's truth (issue 24).
//
//   op4d synth --out c.h5 --cycles C --frames F --crack-share S --debond-share S ... ; op4d segment c.h5
//   --method nlm+gmm; op4d register c.h5 --particles --segment nlm+gmm; op4d geometry c.h5 --method
//   nlm+gmm; op4d tortuosity c.h5 --method nlm+gmm --axes z; op4d degradation c.h5 --method nlm+gmm
//   build/bench/op4d_bench_degradation c.h5 [--debond-drop 0.25]
//
// Reference particles (the register step's watershed labels) are matched to the truth's particles by
// majority overlap on frame 0 (at least half the label's voxels, one label per truth particle). A
// particle is scored when it is matched, away from the faces (register's touches_border 0) and
// measured in every frame. Truth onsets: crack = the first frame with crack_stage > 0, fragmentation =
// crack_stage 2 (fragments exact: the last frame's count), debonding = the first frame whose truth
// binder contact is below (1 - drop) of frame 0's (the step's own threshold on the truth's labels).
// Per-cycle drift: the truth's cycle_truth_drift (op4d synth writes it; solved on the truth labels
// when absent) against the step's cycle_drift, absolute and relative to the first cycle's value.
#include <cmath>
#include <cstdio>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "op4d/frame/transport/diffusion.h"
#include "op4d/pipeline/degradation.h"
#include "op4d/store/frame_store.h"
#include <algorithm>

using namespace op4d;

namespace {
std::vector<double> Col(const ResultTable& t, const std::string& c) {
  const ResultColumn* p = t.Find(c);
  if (!p) throw std::runtime_error("table " + t.name + " has no column " + c);
  return p->values;
}
}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: op4d_bench_degradation CAMPAIGN.h5 [--debond-drop F]\n");
    return 2;
  }
  const std::string path = argv[1];
  double drop = 0.25;
  for (int i = 2; i + 1 < argc; ++i)
    if (std::string(argv[i]) == "--debond-drop") drop = std::atof(argv[i + 1]);
  const std::string truth_path = path.substr(0, path.size() - 3) + ".truth.h5";
  const FrameStore store = FrameStore::OpenRead(path);
  const FrameStore truth = FrameStore::OpenRead(truth_path);
  const std::int64_t n = store.frame_count();
  std::string src;
  const std::vector<int> cycle = CyclesOfFrames(store.ReadTimeTable(), path, &src);
  // Match reference labels to truth ids.
  const LabelVolume ref = ToLabels(store.ReadFrameVolume(0, "particle_labels"));
  const LabelVolume tl = ToLabels(truth.ReadFrameVolume(0, "particle_labels"));
  std::map<int, std::map<int, std::int64_t>> overlap;
  std::map<int, std::int64_t> size;
  for (std::size_t i = 0; i < ref.size(); ++i)
    if (ref[i] > 0) ++size[ref[i]], ++overlap[ref[i]][tl[i]];
  std::map<int, int> truth_of;      // reference label -> truth id
  std::map<int, std::int64_t> claimed;  // truth id -> best overlap
  std::map<int, int> claimant;
  for (const auto& [l, m] : overlap) {
    int best = 0;
    std::int64_t bv = 0;
    for (const auto& [t, v] : m)
      if (t > 0 && v > bv) bv = v, best = t;
    if (best && 2 * bv >= size[l] && bv > claimed[best]) claimed[best] = bv, claimant[best] = l;
  }
  for (const auto& [t, l] : claimant) truth_of[l] = t;
  // Truth per frame, by truth id (row = id - 1).
  std::vector<ResultTable> tp(static_cast<std::size_t>(n));
  for (std::int64_t k = 0; k < n; ++k) tp[std::size_t(k)] = truth.ReadFrameTable(k, "particles");
  // The step's per-frame damage and the border flags.
  const ResultTable kin0 = store.ReadFrameTable(0, "particle_kinematics");
  std::map<int, bool> border;
  {
    const auto l = Col(kin0, "label"), b = Col(kin0, "touches_border");
    for (std::size_t r = 0; r < l.size(); ++r) border[int(l[r])] = b[r] != 0;
  }
  std::map<int, bool> always;
  for (std::int64_t k = 0; k < n; ++k) {
    const ResultTable d = store.ReadFrameTable(k, "particle_damage");
    const auto l = Col(d, "label"), m = Col(d, "measured");
    for (std::size_t r = 0; r < l.size(); ++r) {
      auto it = always.find(int(l[r]));
      always[int(l[r])] = (it == always.end() || it->second) && m[r] != 0;
    }
  }
  const ResultTable ev = store.ReadSeriesTable("damage_events");
  const auto el = Col(ev, "label"), ecc = Col(ev, "crack_onset_cycle"), efc = Col(ev, "fragment_cycle"), efn = Col(ev, "fragments"),
             edc = Col(ev, "debond_onset_cycle");
  int scored = 0, t_cracked = 0, hit = 0, t_intact = 0, false_crack = 0, t_frag = 0, frag_exact = 0, frag_onset = 0, t_debond = 0,
      debond_hit = 0, t_nodebond = 0, false_debond = 0;
  for (std::size_t r = 0; r < el.size(); ++r) {
    const int l = int(el[r]);
    if (!truth_of.count(l) || border[l] || !always[l]) continue;
    const std::size_t row = std::size_t(truth_of[l] - 1);
    ++scored;
    int crack_cycle = 0, frag_cycle = 0, debond_cycle = 0;
    const double c0 = tp[0].Find("binder_contact_um2")->values[row];
    for (std::int64_t k = n - 1; k >= 1; --k) {
      const ResultTable& t = tp[std::size_t(k)];
      if (t.Find("crack_stage")->values[row] > 0) crack_cycle = cycle[std::size_t(k)];
      if (t.Find("crack_stage")->values[row] == 2) frag_cycle = cycle[std::size_t(k)];
    }
    // Debond onset on the truth: first frame from which the contact stays below (1 - drop) c0.
    for (std::int64_t k = n - 1; k >= 1; --k) {
      if (!(c0 > 0 && tp[std::size_t(k)].Find("binder_contact_um2")->values[row] < (1 - drop) * c0)) break;
      debond_cycle = cycle[std::size_t(k)];
    }
    if (crack_cycle) {
      ++t_cracked;
      hit += std::isfinite(ecc[r]) && std::abs(ecc[r] - crack_cycle) <= 1;
    } else {
      ++t_intact;
      false_crack += std::isfinite(ecc[r]);
    }
    if (frag_cycle) {
      ++t_frag;
      const double tf = tp[std::size_t(n - 1)].Find("fragments")->values[row];
      frag_exact += efn[r] == tf;
      if (efn[r] != tf) std::printf("  fragments: label %d (truth %d): %g measured, %g true\n", l, truth_of[l], efn[r], tf);
      frag_onset += std::isfinite(efc[r]) && std::abs(efc[r] - frag_cycle) <= 1;
    }
    if (debond_cycle) {
      ++t_debond;
      const bool ok = std::isfinite(edc[r]) && std::abs(edc[r] - debond_cycle) <= 1;
      debond_hit += ok;
      if (!ok)
        std::printf("  debond: label %d (truth %d): onset cycle %g measured, %d true; truth contact %.1f -> %.1f um2\n", l,
                    truth_of[l], edc[r], debond_cycle, c0, tp[std::size_t(n - 1)].Find("binder_contact_um2")->values[row]);
    } else {
      ++t_nodebond;
      false_debond += std::isfinite(edc[r]);
    }
  }
  std::printf("scored particles %d (matched to the truth, away from the faces, measured in all %lld frames)\n", scored,
              static_cast<long long>(n));
  std::printf("cracks detected within one cycle: %d of %d (%.1f %%); false cracks %d of %d intact (%.1f %%)\n", hit, t_cracked,
              100.0 * hit / std::max(1, t_cracked), false_crack, t_intact, 100.0 * false_crack / std::max(1, t_intact));
  std::printf("fragment count exact: %d of %d (%.1f %%); fragmentation onset within one cycle %d of %d\n", frag_exact, t_frag,
              100.0 * frag_exact / std::max(1, t_frag), frag_onset, t_frag);
  std::printf("debonding onset within one cycle: %d of %d (%.1f %%); false debonding %d of %d (%.1f %%)\n", debond_hit, t_debond,
              100.0 * debond_hit / std::max(1, t_debond), false_debond, t_nodebond, 100.0 * false_debond / std::max(1, t_nodebond));
  // Per-cycle drift: the truth's cycle_truth_drift (written by op4d synth; solved here when absent)
  // against the step's cycle_drift, as the slope per cycle and relative to the first cycle's value.
  bool stored = false;
  for (const std::string& t : truth.ListSeriesTables()) stored = stored || t == "cycle_truth_drift";
  const ResultTable td = stored ? truth.ReadSeriesTable("cycle_truth_drift")
                                : ComputeTruthCycles(truth_path, path, TruthCycleOptions{}).drift;
  const ResultTable dr = store.ReadSeriesTable("cycle_drift");
  auto val = [](const ResultTable& t, const std::string& c) { return t.Find(c) ? t.Find(c)->values[0] : NAN; };
  std::printf("per-cycle drift, truth (%s) against the step's cycle_drift (in %%: measured / truth - 1):\n", stored ? "cycle_truth_drift" : "solved here");
  for (const char* q : {"porosity", "tau_z", "tau_z_percolating", "sigma_eff_z"}) {
    const std::string Q = q;
    const double ts = val(td, Q + "_slope"), ms = val(dr, Q + "_slope");
    const double tr = val(td, Q + "_rel_slope"), mr = val(dr, Q + "_rel_slope");
    std::printf("  %-18s slope truth %+.3e measured %+.3e [%+.3e, %+.3e] (%+.1f %%); relative truth %+.3e measured %+.3e (%+.1f %%)\n",
                q, ts, ms, val(dr, Q + "_slope_p025"), val(dr, Q + "_slope_p975"), 100.0 * (ms / ts - 1.0), tr, mr,
                100.0 * (mr / tr - 1.0));
  }
  return 0;
}
