#include "op4d/frame/geometry/volume_fractions.h"

#include <tbb/blocked_range.h>
#include <tbb/parallel_reduce.h>

#include <array>

#include "op4d/core/error.h"

namespace op4d {

const PhaseFraction* VolumeFractions::Find(const std::string& name) const {
  for (const PhaseFraction& p : phases)
    if (p.name == name) return &p;
  return nullptr;
}

ResultTable VolumeFractions::ToTable() const {
  ResultTable t{"volume_fractions", {{"label", "1", {}}, {"voxels", "1", {}}, {"volume_fraction", "1", {}}, {"volume_um3", "um^3", {}}}};
  for (const PhaseFraction& p : phases) {
    t.columns[0].values.push_back(p.label);
    t.columns[1].values.push_back(double(p.voxels));
    t.columns[2].values.push_back(p.fraction);
    t.columns[3].values.push_back(p.volume_um3);
  }
  return t;
}

VolumeFractions ComputeVolumeFractions(const PhaseVolume& phases, const PhaseTable& table, ThreadBudget threads) {
  std::string why;
  if (!table.IsValid(&why)) throw InvalidArgument("phase table: " + why);
  if (phases.empty()) throw InvalidArgument("volume fractions of an empty volume");
  using Hist = std::array<std::int64_t, 256>;
  // Integer counts: the result is identical for any thread count.
  const Hist hist = RunInArena(threads, [&] {
    return tbb::parallel_reduce(
        tbb::blocked_range<std::int64_t>(0, phases.size(), 1 << 16), Hist{},
        [&](const tbb::blocked_range<std::int64_t>& r, Hist h) {
          for (std::int64_t i = r.begin(); i != r.end(); ++i) ++h[phases[i]];
          return h;
        },
        [](Hist a, const Hist& b) {
          for (int i = 0; i < 256; ++i) a[i] += b[i];
          return a;
        });
  });
  VolumeFractions out;
  const double vv = phases.geometry().voxel_volume_um3();
  out.total_volume_um3 = double(phases.size()) * vv;
  std::int64_t counted = 0;
  for (const Phase& p : table.phases()) {
    PhaseFraction f;
    f.label = p.label;
    f.name = p.name;
    f.voxels = hist[p.label];
    f.fraction = double(f.voxels) / double(phases.size());
    f.volume_um3 = double(f.voxels) * vv;
    counted += f.voxels;
    out.phases.push_back(f);
  }
  out.other_voxels = phases.size() - counted;
  return out;
}

}  // namespace op4d
