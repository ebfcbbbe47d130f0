#include "op4d/pipeline/large_frame.h"

#include <chrono>

#include "op4d/core/error.h"
#include "op4d/store/frame_store.h"

namespace op4d {

ResultTable LargeFrameResult::FractionsTable(const Geometry& g, const PhaseTable& t) const {
  ResultTable r{"fractions_blockwise",
                {{"label", "1", {}}, {"voxels", "1", {}}, {"volume_fraction", "1", {}}, {"volume_um3", "um^3", {}}}};
  const double n = double(g.voxel_count());
  for (std::size_t i = 0; i < t.phases().size(); ++i) {
    r.columns[0].values.push_back(t.phases()[i].label);
    r.columns[1].values.push_back(double(voxels[i]));
    r.columns[2].values.push_back(double(voxels[i]) / n);
    r.columns[3].values.push_back(double(voxels[i]) * g.voxel_volume_um3());
  }
  return r;
}

ResultTable LargeFrameResult::PercolationTable() const {
  ResultTable r{"percolation_blockwise",
                {{"connectivity", "1", {}}, {"components", "1", {}}, {"spanning_fraction_z", "1", {}},
                 {"spanning_fraction_y", "1", {}}, {"spanning_fraction_x", "1", {}}}};
  for (const Percolation& p : percolation) {
    r.columns[0].values.push_back(std::stod(ToString(p.connectivity)));
    r.columns[1].values.push_back(double(p.components));
    for (int a = 0; a < 3; ++a) r.columns[2 + std::size_t(a)].values.push_back(p.spanning[std::size_t(a)]);
  }
  return r;
}

LargeFrameResult AnalyseLargeFrame(const std::string& store_path, const LargeFrameOptions& o) {
  std::string why;
  if (!o.phases.IsValid(&why)) throw ConfigError("phases", why);
  if (o.slab_z < 1) throw ConfigError("--slab", "must be >= 1 plane, got " + std::to_string(o.slab_z));
  FrameStore store = FrameStore::OpenReadWrite(store_path);
  if (o.frame < 0 || o.frame >= store.frame_count())
    throw ConfigError("--frame", std::to_string(o.frame) + " is not a frame of " + store_path + " (" +
                                     std::to_string(store.frame_count()) + " frames)");
  const Geometry g = store.layout()->geometry;
  const std::int64_t k = o.frame;
  LargeFrameResult res;
  auto clock = std::chrono::steady_clock::now();
  auto lap = [&](const char* step) {
    const auto now = std::chrono::steady_clock::now();
    res.seconds.push_back({step, std::chrono::duration<double>(now - clock).count()});
    clock = now;
  };
  // Segmentation: the frame by hyperslab, the labels into the store region by region.
  const std::vector<std::uint8_t>& classes = o.class_labels;
  if (classes.size() != o.phases.phases().size())
    throw ConfigError("phases", "need one mixture class per phase (" + std::to_string(o.phases.phases().size()) + "), got " +
                                    std::to_string(classes.size()));
  StreamedSegmentationOptions so;
  so.class_labels = classes;
  so.refine = o.refine;
  so.slab_z = o.slab_z;
  so.scratch_dir = o.scratch_dir;
  so.threads = o.threads;
  so.progress = o.progress;
  const RegionReader grey = [&](const Box& box) { return store.ReadRegion(k, box, o.threads); };
  const std::string labels = "labels_blockwise";
  store.CreateFrameVolume(k, labels, DataType::kUInt8, g,
                          {"segment.blockwise", "frame " + std::to_string(k),
                           "{\"method\":\"nlm+gmm\",\"blockwise\":true,\"min_island_voxels\":" +
                               std::to_string(o.min_island_voxels) + ",\"slab_z\":" + std::to_string(o.slab_z) + "}"});
  res.voxels.assign(o.phases.phases().size(), 0);
  std::vector<int> index_of(256, -1);
  for (std::size_t i = 0; i < o.phases.phases().size(); ++i) index_of[o.phases.phases()[i].label] = int(i);
  res.segmentation = SegmentNlmGmmStreamed(g, grey, [&](const Box& box, const Volume<std::uint8_t>& l) {
    store.WriteFrameVolumeRegion(k, labels, box, l);
  }, so);
  lap("segmentation");
  // The segment step's island clean-up, on the stored labels, written back over them.
  const SlabReader<std::uint8_t> stored = StoredSlabs(store, k, labels);
  const std::vector<Phase> pores = o.phases.WithRole(PhaseRole::kPore);
  if (pores.size() != 1)
    throw ConfigError("phases", "nlm+gmm needs exactly one phase with the pore role (for the dual connectivity), got " +
                                    std::to_string(pores.size()));
  res.islands = RemovePhaseIslandsStreamed(g, stored, [&](const Box& box, const Volume<std::uint8_t>& l) {
    store.WriteFrameVolumeRegion(k, labels, box, l);
    for (std::uint8_t v : l.values())
      if (index_of[v] >= 0) ++res.voxels[std::size_t(index_of[v])];  // fractions on the way out
  }, pores.front().label, DualConnectivity{}, o.min_island_voxels, o.slab_z, o.scratch_dir, o.threads);
  lap("islands");
  // Components and percolation of every phase, read back by hyperslab.
  for (const Phase& p : o.phases.phases()) {
    const std::uint8_t label = p.label;
    const SlabReader<std::uint8_t> mask = [&, label](std::int64_t z0, std::int64_t z1, Volume<std::uint8_t>& out) {
      stored(z0, z1, out);
      for (auto& v : out.values()) v = v == label;
    };
    LargeFrameResult::Percolation pc;
    pc.phase = p.name;
    pc.connectivity = p.role == PhaseRole::kPore ? Connectivity::k26 : Connectivity::k6;
    const StreamedComponents c = LabelComponentsStreamed(g, mask, o.slab_z, {pc.connectivity, o.threads});
    pc.components = std::int64_t(c.components.size());
    pc.spanning = SpanningFractions(c.components);
    res.percolation.push_back(pc);
  }
  lap("components");
  SurfaceAreaOptions ao;
  ao.threads = o.threads;
  res.areas = ComputeInterfaceAreasStreamed(g, stored, o.phases, o.slab_z, ao);
  lap("interface_areas");
  const std::string src = "frame " + std::to_string(k) + ", " + labels;
  store.WriteFrameTable(k, res.FractionsTable(g, o.phases), {"geometry.fractions.blockwise", src});
  ResultTable perc = res.PercolationTable();
  ResultColumn label_col{"label", "1", {}};
  for (const Phase& p : o.phases.phases()) label_col.values.push_back(p.label);
  perc.columns.insert(perc.columns.begin(), label_col);
  store.WriteFrameTable(k, perc, {"geometry.percolation.blockwise", src});
  ResultTable areas = InterfaceAreaTable(res.areas);
  areas.name = "interface_areas_blockwise";
  store.WriteFrameTable(k, areas, {"geometry.interface_areas.blockwise", src});
  ResultTable steps{"blockwise_steps", {{"step", "1", {}}, {"seconds", "s", {}}}};
  for (std::size_t i = 0; i < res.seconds.size(); ++i) {
    steps.columns[0].values.push_back(double(i));
    steps.columns[1].values.push_back(res.seconds[i].second);
  }
  store.WriteFrameTable(k, steps, {"large-frame", src, "{\"steps\":[\"segmentation\",\"islands\",\"components\",\"interface_areas\"]}"});
  return res;
}

}  // namespace op4d
