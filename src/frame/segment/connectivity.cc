// Run-length union-find labelling. Rows (fixed z, y) are split into runs of foreground; each run is
// joined to the overlapping runs of the already-visited neighbour rows the connectivity allows.
// Slabs of z are processed in parallel, then their boundaries are joined; final labels are given in
// scan order of each component's first run, so they are the same for any thread count.
#include "op4d/frame/segment/connectivity.h"

#include "op4d/core/union_find.h"

#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cstdlib>
#include <string>

#include "op4d/core/error.h"

namespace op4d {
namespace {

struct Run {
  std::int32_t x0, x1;  // inclusive
};

// Neighbour rows visited before row (z, y): offsets (dz, dy) and whether x may differ by one.
struct RowOffset {
  int dz, dy, dx;
};
std::vector<RowOffset> PreviousRows(Connectivity c) {
  switch (c) {
    case Connectivity::k6: return {{0, -1, 0}, {-1, 0, 0}};
    case Connectivity::k18: return {{0, -1, 1}, {-1, 0, 1}, {-1, -1, 0}, {-1, 1, 0}};
    case Connectivity::k26: return {{0, -1, 1}, {-1, -1, 1}, {-1, 0, 1}, {-1, 1, 1}};
  }
  return {};
}


}  // namespace

const char* ToString(Connectivity c) {
  switch (c) {
    case Connectivity::k6: return "6";
    case Connectivity::k18: return "18";
    case Connectivity::k26: return "26";
  }
  return "6";
}

Connectivity ConnectivityFromString(const std::string& s) {
  if (s == "6") return Connectivity::k6;
  if (s == "18") return Connectivity::k18;
  if (s == "26") return Connectivity::k26;
  throw ConfigError("connectivity", "'" + s + "' is not one of 6, 18, 26");
}

std::vector<std::array<int, 3>> NeighbourOffsets(Connectivity c) {
  std::vector<std::array<int, 3>> o;
  for (int dz = -1; dz <= 1; ++dz)
    for (int dy = -1; dy <= 1; ++dy)
      for (int dx = -1; dx <= 1; ++dx) {
        const int n = std::abs(dz) + std::abs(dy) + std::abs(dx);
        if (n == 0 || (c == Connectivity::k6 && n > 1) || (c == Connectivity::k18 && n > 2)) continue;
        o.push_back({dz, dy, dx});
      }
  return o;
}

bool DualConnectivity::IsValid(std::string* why) const {
  const bool ok = (pore == Connectivity::k6 && solid != Connectivity::k6) || (solid == Connectivity::k6 && pore != Connectivity::k6);
  if (!ok && why)
    *why = std::string("pore/solid connectivity ") + ToString(pore) + "/" + ToString(solid) +
           " is not a dual pair (use 26/6, 6/26, 18/6 or 6/18)";
  return ok;
}

ResultTable ComponentLabels::ToTable() const {
  ResultTable t{"components",
                {{"label", "1", {}}, {"voxels", "1", {}}, {"volume_um3", "um^3", {}}, {"touches_zmin", "1", {}},
                 {"touches_zmax", "1", {}}, {"touches_ymin", "1", {}}, {"touches_ymax", "1", {}},
                 {"touches_xmin", "1", {}}, {"touches_xmax", "1", {}}}};
  const double vv = labels.geometry().voxel_volume_um3();
  for (const Component& c : components) {
    t.columns[0].values.push_back(c.label);
    t.columns[1].values.push_back(double(c.voxels));
    t.columns[2].values.push_back(double(c.voxels) * vv);
    for (int f = 0; f < 6; ++f) t.columns[3 + f].values.push_back((c.faces >> f) & 1 ? 1.0 : 0.0);
  }
  return t;
}

ComponentLabels LabelComponents(const Volume<std::uint8_t>& mask, const ComponentOptions& options) {
  const Index3 s = mask.shape();
  if (s[2] >= (std::int64_t(1) << 31)) throw InvalidArgument("rows longer than 2^31 voxels");
  const std::int64_t rows = s[0] * s[1];
  // 1. Runs of every row (parallel over rows), then offsets: run r of row i has global id start[i] + r.
  std::vector<std::vector<Run>> row_runs(static_cast<std::size_t>(rows));
  RunInArena(options.threads, [&] {
    tbb::parallel_for(tbb::blocked_range<std::int64_t>(0, rows, 64), [&](const auto& r) {
      for (std::int64_t i = r.begin(); i != r.end(); ++i) {
        const std::uint8_t* p = mask.data() + i * s[2];
        std::vector<Run>& out = row_runs[std::size_t(i)];
        for (std::int64_t x = 0; x < s[2];) {
          if (!p[x]) {
            ++x;
            continue;
          }
          const std::int64_t x0 = x;
          while (x < s[2] && p[x]) ++x;
          out.push_back({std::int32_t(x0), std::int32_t(x - 1)});
        }
      }
    });
  });
  std::vector<std::int64_t> start(std::size_t(rows) + 1, 0);
  for (std::int64_t i = 0; i < rows; ++i) start[std::size_t(i) + 1] = start[std::size_t(i)] + std::int64_t(row_runs[std::size_t(i)].size());
  const std::int64_t nruns = start.back();
  UnionFind uf(nruns);
  const std::vector<RowOffset> prev = PreviousRows(options.connectivity);
  // Joins the runs of row (z, y) to those of its earlier neighbour rows; with `only_dz` set, only
  // neighbours in slice z + only_dz (the slab boundary pass).
  auto join_row = [&](UnionFind& u, std::int64_t z, std::int64_t y, bool boundary) {
    const std::int64_t row = z * s[1] + y;
    const auto& runs = row_runs[std::size_t(row)];
    if (runs.empty()) return;
    for (const RowOffset& o : prev) {
      if (boundary != (o.dz == -1)) continue;
      const std::int64_t nz = z + o.dz, ny = y + o.dy;
      if (nz < 0 || ny < 0 || ny >= s[1]) continue;
      const std::int64_t nrow = nz * s[1] + ny;
      const auto& nruns_row = row_runs[std::size_t(nrow)];
      std::size_t j = 0;
      for (std::size_t r = 0; r < runs.size(); ++r) {
        const std::int64_t a0 = runs[r].x0 - o.dx, a1 = runs[r].x1 + o.dx;
        while (j < nruns_row.size() && nruns_row[j].x1 < a0) ++j;
        for (std::size_t k = j; k < nruns_row.size() && nruns_row[k].x0 <= a1; ++k)
          u.Union(start[std::size_t(row)] + std::int64_t(r), start[std::size_t(nrow)] + std::int64_t(k));
      }
    }
  };
  // 2. Within slabs of z, in parallel: a slab only touches the union-find entries of its own runs.
  const int slabs = std::max<int>(1, std::min<std::int64_t>(s[0], 4 * options.threads.Resolve()));
  RunInArena(options.threads, [&] {
    tbb::parallel_for(0, slabs, [&](int b) {
      const std::int64_t z0 = s[0] * b / slabs, z1 = s[0] * (b + 1) / slabs;
      for (std::int64_t z = z0; z < z1; ++z)
        for (std::int64_t y = 0; y < s[1]; ++y) {
          join_row(uf, z, y, false);
          if (z > z0) join_row(uf, z, y, true);
        }
    });
  });
  // 3. Slab boundaries, serially.
  for (int b = 1; b < slabs; ++b) {
    const std::int64_t z = s[0] * b / slabs;
    for (std::int64_t y = 0; y < s[1]; ++y) join_row(uf, z, y, true);
  }
  // 4. Final labels in scan order of each component's first run (its root, by union by index).
  ComponentLabels out;
  std::vector<std::int32_t> label_of(std::size_t(nruns), 0);
  for (std::int64_t r = 0; r < nruns; ++r) {
    const std::int64_t root = uf.Find(r);
    if (root == r) {
      if (out.components.size() >= std::size_t(INT32_MAX)) throw InvalidArgument("more than 2^31 components");
      Component c;
      c.label = std::int32_t(out.components.size() + 1);
      out.components.push_back(c);
      label_of[std::size_t(r)] = c.label;
    } else {
      label_of[std::size_t(r)] = label_of[std::size_t(root)];
    }
  }
  // 5. Label volume, sizes and faces.
  out.labels = LabelVolume(mask.geometry(), 0);
  for (std::int64_t row = 0; row < rows; ++row) {
    const std::int64_t z = row / s[1], y = row % s[1];
    const auto& runs = row_runs[std::size_t(row)];
    for (std::size_t r = 0; r < runs.size(); ++r) {
      const std::int32_t l = label_of[std::size_t(start[std::size_t(row)] + std::int64_t(r))];
      Component& c = out.components[std::size_t(l - 1)];
      c.voxels += runs[r].x1 - runs[r].x0 + 1;
      if (z == 0) c.faces |= kFaceZMin;
      if (z == s[0] - 1) c.faces |= kFaceZMax;
      if (y == 0) c.faces |= kFaceYMin;
      if (y == s[1] - 1) c.faces |= kFaceYMax;
      if (runs[r].x0 == 0) c.faces |= kFaceXMin;
      if (runs[r].x1 == s[2] - 1) c.faces |= kFaceXMax;
    }
  }
  RunInArena(options.threads, [&] {
    tbb::parallel_for(tbb::blocked_range<std::int64_t>(0, rows, 64), [&](const auto& rr) {
      for (std::int64_t row = rr.begin(); row != rr.end(); ++row) {
        const auto& runs = row_runs[std::size_t(row)];
        std::int32_t* dst = out.labels.data() + row * s[2];
        for (std::size_t r = 0; r < runs.size(); ++r)
          std::fill(dst + runs[r].x0, dst + runs[r].x1 + 1, label_of[std::size_t(start[std::size_t(row)] + std::int64_t(r))]);
      }
    });
  });
  return out;
}

ComponentLabels LabelPhase(const PhaseVolume& phases, std::uint8_t phase, const ComponentOptions& options) {
  Volume<std::uint8_t> mask(phases.geometry());
  RunInArena(options.threads, [&] {
    tbb::parallel_for(tbb::blocked_range<std::int64_t>(0, phases.size(), 1 << 16), [&](const auto& r) {
      for (std::int64_t i = r.begin(); i != r.end(); ++i) mask[i] = phases[i] == phase;
    });
  });
  return LabelComponents(mask, options);
}

std::array<double, 3> SpanningFractions(const ComponentLabels& c) { return SpanningFractions(c.components); }

std::array<double, 3> SpanningFractions(const std::vector<Component>& components) {
  std::array<double, 3> f{0, 0, 0};
  std::int64_t total = 0;
  std::array<std::int64_t, 3> spanning{0, 0, 0};
  for (const Component& comp : components) {
    total += comp.voxels;
    for (int a = 0; a < 3; ++a)
      if (comp.Spans(a)) spanning[a] += comp.voxels;
  }
  for (int a = 0; a < 3; ++a) f[a] = total > 0 ? double(spanning[a]) / double(total) : 0.0;
  return f;
}

StreamedComponents LabelComponentsStreamed(const Geometry& frame, const SlabReader<std::uint8_t>& read,
                                           std::int64_t slab_z, const ComponentOptions& options,
                                           const BoxWriter<std::int32_t>* write,
                                           const std::function<void(const StreamedComponents&)>* sizes) {
  std::string why;
  if (!frame.IsValid(&why)) throw InvalidArgument("streamed components: frame geometry: " + why);
  if (slab_z < 1) throw InvalidArgument("streamed components: slab_z " + std::to_string(slab_z) + " is not >= 1");
  const Index3 s = frame.shape;
  const std::int64_t plane = s[1] * s[2];
  // Neighbours in the previous plane (dz == -1) the connectivity allows.
  std::vector<std::array<int, 3>> below;
  for (const auto& o : NeighbourOffsets(options.connectivity))
    if (o[0] == -1) below.push_back(o);
  StreamedComponents out;
  out.geometry = frame;
  UnionFind uf;
  std::vector<Component> piece;          // per provisional id: voxels and faces
  std::vector<std::int32_t> final_of;    // per provisional id, after pass 1
  std::vector<std::int64_t> prev(std::size_t(plane), -1), cur(std::size_t(plane), -1);
  Volume<std::uint8_t> mask;
  for (int pass = 0; pass < (write ? 2 : 1); ++pass) {
    std::int64_t offset = 0;
    std::fill(prev.begin(), prev.end(), -1);
    for (std::int64_t z0 = 0; z0 < s[0]; z0 += slab_z) {
      const std::int64_t z1 = std::min(s[0], z0 + slab_z);
      ReadSlabChecked(read, frame, z0, z1, mask, "streamed components");
      ComponentLabels local = LabelComponents(mask, options);
      const std::int64_t n = std::int64_t(local.components.size());
      const std::int32_t* lab = local.labels.data();
      if (pass == 0) {
        for (const Component& c : local.components) {
          Component p = c;
          if (z0 > 0) p.faces &= std::uint8_t(~kFaceZMin);
          if (z1 < s[0]) p.faces &= std::uint8_t(~kFaceZMax);
          piece.push_back(p);
          uf.Add();
        }
        if (z0 > 0)  // seam: this slab's first plane against the previous slab's last
          for (std::int64_t y = 0; y < s[1]; ++y)
            for (std::int64_t x = 0; x < s[2]; ++x) {
              const std::int32_t l = lab[y * s[2] + x];
              if (!l) continue;
              for (const auto& o : below) {
                const std::int64_t ny = y + o[1], nx = x + o[2];
                if (ny < 0 || nx < 0 || ny >= s[1] || nx >= s[2]) continue;
                const std::int64_t q = prev[std::size_t(ny * s[2] + nx)];
                if (q >= 0) uf.Union(offset + l - 1, q);
              }
            }
      } else {
        LabelVolume final_labels(mask.geometry(), 0);
        for (std::int64_t i = 0; i < final_labels.size(); ++i)
          if (lab[i]) final_labels[i] = final_of[std::size_t(offset + lab[i] - 1)];
        (*write)(Box{{z0, 0, 0}, {z1 - z0, s[1], s[2]}}, final_labels);
      }
      const std::int32_t* last = lab + (z1 - z0 - 1) * plane;
      for (std::int64_t i = 0; i < plane; ++i) cur[std::size_t(i)] = last[i] ? offset + last[i] - 1 : -1;
      std::swap(prev, cur);
      offset += n;
    }
    if (pass == 0) {
      // A set's root is its smallest provisional id: the piece holding the component's first voxel
      // in scan order (earliest slab, then the slab's own scan order).
      out.pieces = std::int64_t(piece.size());
      final_of.assign(piece.size(), 0);
      for (std::int64_t i = 0; i < out.pieces; ++i) {
        const std::int64_t r = uf.Find(i);
        if (r == i) {
          if (out.components.size() >= std::size_t(INT32_MAX)) throw InvalidArgument("more than 2^31 components");
          Component c;
          c.label = std::int32_t(out.components.size() + 1);
          out.components.push_back(c);
          final_of[std::size_t(i)] = c.label;
        } else {
          final_of[std::size_t(i)] = final_of[std::size_t(r)];
        }
        Component& c = out.components[std::size_t(final_of[std::size_t(i)] - 1)];
        c.voxels += piece[std::size_t(i)].voxels;
        c.faces |= piece[std::size_t(i)].faces;
      }
      piece.clear();
      piece.shrink_to_fit();
      if (sizes) (*sizes)(out);
    }
  }
  return out;
}

}  // namespace op4d
