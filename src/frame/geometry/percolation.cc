#include "op4d/frame/geometry/percolation.h"

#include "op4d/core/error.h"

namespace op4d {

const PhasePercolation* Percolation::Find(const std::string& name) const {
  for (const PhasePercolation& p : phases)
    if (p.name == name) return &p;
  return nullptr;
}

ResultTable Percolation::ToTable() const {
  ResultTable t{"percolation",
                {{"label", "1", {}}, {"connectivity", "1", {}}, {"voxels", "1", {}}, {"components", "1", {}},
                 {"spanning_z", "1", {}}, {"spanning_y", "1", {}}, {"spanning_x", "1", {}}, {"isolated", "1", {}}}};
  for (const PhasePercolation& p : phases) {
    const double row[] = {double(p.label), std::stod(ToString(p.connectivity)), double(p.voxels), double(p.components),
                          p.spanning_fraction[0], p.spanning_fraction[1], p.spanning_fraction[2], p.isolated_fraction};
    for (std::size_t c = 0; c < t.columns.size(); ++c) t.columns[c].values.push_back(row[c]);
  }
  return t;
}

Percolation ComputePercolation(const PhaseVolume& phases, const PhaseTable& table, const DualConnectivity& dual,
                               ThreadBudget threads) {
  std::string why;
  if (!table.IsValid(&why)) throw InvalidArgument("phase table: " + why);
  if (!dual.IsValid(&why)) throw ConfigError("connectivity", why);
  Percolation out;
  for (const Phase& ph : table.phases()) {
    PhasePercolation p;
    p.label = ph.label;
    p.name = ph.name;
    p.connectivity = ph.role == PhaseRole::kPore ? dual.pore : dual.solid;
    const ComponentLabels c = LabelPhase(phases, ph.label, {p.connectivity, threads});
    p.components = std::int64_t(c.components.size());
    std::int64_t isolated = 0;
    for (const Component& comp : c.components) {
      p.voxels += comp.voxels;
      if (comp.faces == 0) isolated += comp.voxels;
    }
    p.spanning_fraction = SpanningFractions(c);
    p.isolated_fraction = p.voxels > 0 ? double(isolated) / double(p.voxels) : 0.0;
    out.phases.push_back(p);
  }
  return out;
}

}  // namespace op4d
