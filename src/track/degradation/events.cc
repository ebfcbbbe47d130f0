#include "op4d/track/degradation/events.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <functional>
#include <unordered_map>

#include "op4d/core/error.h"

namespace op4d {

bool LabelEventOptions::IsValid(std::string* why) const {
  auto fail = [&](const char* m) {
    if (why) *why = m;
    return false;
  };
  if (!(continue_share > 0.0 && continue_share <= 1.0)) return fail("continue_share must be in (0, 1]");
  if (!(split_share > 0.0 && split_share < continue_share)) return fail("split_share must be in (0, continue_share)");
  if (min_voxels < 1) return fail("min_voxels must be at least 1");
  if (joined_faces < 1) return fail("joined_faces must be at least 1");
  return true;
}

const char* ToString(LabelFate f) {
  switch (f) {
    case LabelFate::kContinued: return "continued";
    case LabelFate::kMerged: return "merged";
    case LabelFate::kSplit: return "split";
    case LabelFate::kVanished: return "vanished";
    case LabelFate::kLeftOut: return "left out";
  }
  return "?";
}

ResultTable LabelEvents::FateTable() const {
  ResultTable t;
  t.name = "label_fates";
  ResultColumn p{"previous", "1", {}}, v{"voxels", "1", {}}, f{"fate", "1", {}}, s{"successor", "1", {}}, sh{"share", "1", {}},
      pc{"pieces", "1", {}};
  for (const LabelFateRow& r : fates) {
    p.values.push_back(r.previous);
    v.values.push_back(double(r.voxels));
    f.values.push_back(double(int(r.fate)));
    s.values.push_back(r.successor);
    sh.values.push_back(r.share);
    pc.values.push_back(r.pieces);
  }
  t.columns = {std::move(p), std::move(v), std::move(f), std::move(s), std::move(sh), std::move(pc)};
  return t;
}

namespace {

// Faces between voxels of two different labels (both > 0), per unordered pair.
std::map<std::pair<int, int>, std::int64_t> SharedFaces(const LabelVolume& v) {
  std::map<std::pair<int, int>, std::int64_t> faces;
  const Index3 n = v.shape();
  for (std::int64_t z = 0; z < n[0]; ++z)
    for (std::int64_t y = 0; y < n[1]; ++y)
      for (std::int64_t x = 0; x < n[2]; ++x) {
        const int a = v(z, y, x);
        if (a <= 0) continue;
        const std::int64_t nb[3][3] = {{z + 1, y, x}, {z, y + 1, x}, {z, y, x + 1}};
        for (const auto& q : nb) {
          if (q[0] >= n[0] || q[1] >= n[1] || q[2] >= n[2]) continue;
          const int b = v(q[0], q[1], q[2]);
          if (b > 0 && b != a) ++faces[{std::min(a, b), std::max(a, b)}];
        }
      }
  return faces;
}

// Groups of `labels` joined through at least `min_faces` shared faces (union-find); the number of groups.
int Groups(const std::vector<int>& labels, const std::map<std::pair<int, int>, std::int64_t>& faces, std::int64_t min_faces) {
  std::vector<int> parent(labels.size());
  for (std::size_t i = 0; i < labels.size(); ++i) parent[i] = int(i);
  std::function<int(int)> root = [&](int i) { return parent[std::size_t(i)] == i ? i : parent[std::size_t(i)] = root(parent[std::size_t(i)]); };
  for (std::size_t i = 0; i < labels.size(); ++i)
    for (std::size_t j = i + 1; j < labels.size(); ++j) {
      const auto it = faces.find({std::min(labels[i], labels[j]), std::max(labels[i], labels[j])});
      if (it != faces.end() && it->second >= min_faces) parent[std::size_t(root(int(i)))] = root(int(j));
    }
  int groups = 0;
  for (std::size_t i = 0; i < labels.size(); ++i) groups += root(int(i)) == int(i);
  return groups;
}

}  // namespace

LabelEvents TrackLabelEvents(const LabelVolume& previous, const LabelVolume& current, const AffineMap& current_to_previous,
                             const LabelEventOptions& o) {
  std::string why;
  if (!o.IsValid(&why)) throw InvalidArgument("TrackLabelEvents: " + why);
  const Vec3 h = previous.spacing_um(), hc = current.spacing_um();
  for (int a = 0; a < 3; ++a)
    if (std::abs(hc[a] - h[a]) > 1e-9 * h[a]) throw InvalidArgument("TrackLabelEvents: the frames' spacings differ");
  const Vec3 po = previous.origin_um(), co = current.origin_um();
  const Index3 pn = previous.shape();
  const bool identity = current_to_previous.F.isIdentity(0) && current_to_previous.t.isZero(0) && po == co &&
                        previous.shape() == current.shape();

  // Overlaps o(A, B), and for every previous label the voxels whose image is in the current view.
  std::map<std::pair<int, int>, std::int64_t> overlap;
  std::unordered_map<int, std::int64_t> cur_size;
  std::vector<unsigned char> seen(std::size_t(previous.size()), 0);  // previous voxels some current voxel maps to
  for (std::int64_t z = 0; z < current.nz(); ++z)
    for (std::int64_t y = 0; y < current.ny(); ++y)
      for (std::int64_t x = 0; x < current.nx(); ++x) {
        const int b = current(z, y, x);
        if (b > 0) ++cur_size[b];
        std::int64_t j[3];
        if (identity) {
          j[0] = z, j[1] = y, j[2] = x;
        } else {
          const Eigen::Vector3d xc(co[0] + h[0] * double(z), co[1] + h[1] * double(y), co[2] + h[2] * double(x));
          const Eigen::Vector3d X = current_to_previous.Apply(xc);
          bool in = true;
          for (int a = 0; a < 3; ++a) {
            j[a] = std::int64_t(std::llround((X[a] - po[a]) / h[a]));
            in = in && j[a] >= 0 && j[a] < pn[a];
          }
          if (!in) continue;
        }
        const std::int64_t pi = (j[0] * pn[1] + j[1]) * pn[2] + j[2];
        seen[std::size_t(pi)] = 1;
        const int a = previous[pi];
        if (a > 0 && b > 0) ++overlap[{a, b}];
      }
  // n_A: previous voxels of A inside the current view (some current voxel maps to them; under a
  // contraction several do, and a voxel none maps to is outside or between the images).
  std::map<int, std::int64_t> n_prev;
  for (std::int64_t i = 0; i < previous.size(); ++i)
    if (previous[i] > 0 && seen[std::size_t(i)]) ++n_prev[previous[i]];
  std::map<int, std::int64_t> all_prev;
  for (std::int64_t i = 0; i < previous.size(); ++i)
    if (previous[i] > 0) ++all_prev[previous[i]];

  const std::map<std::pair<int, int>, std::int64_t> prev_faces = SharedFaces(previous), cur_faces = SharedFaces(current);
  LabelEvents ev;
  // Per previous label: its overlaps, largest first.
  std::map<int, std::vector<std::pair<std::int64_t, int>>> by_prev;
  std::map<int, std::pair<std::int64_t, int>> best_pred;  // current label -> (overlap, previous label)
  for (const auto& [ab, n] : overlap) {
    by_prev[ab.first].push_back({n, ab.second});
    auto& bp = best_pred[ab.second];
    if (n > bp.first || (n == bp.first && ab.first < bp.second)) bp = {n, ab.first};
  }
  for (auto& [a, v] : by_prev)
    std::sort(v.begin(), v.end(), [](const auto& p, const auto& q) { return p.first != q.first ? p.first > q.first : p.second < q.second; });
  std::map<int, std::vector<int>> into;  // current label -> previous labels that continue into it
  std::map<int, bool> reached;           // current labels some previous label continues or splits into
  for (const auto& [a, total] : all_prev) {
    if (total < o.min_voxels) continue;  // a speck, not an object
    LabelFateRow r;
    r.previous = a;
    r.voxels = n_prev.count(a) ? n_prev[a] : 0;
    if (r.voxels < o.min_voxels) {
      r.fate = LabelFate::kLeftOut;
      ++ev.left_out;
      ev.fates.push_back(r);
      continue;
    }
    ++ev.previous;
    const auto it = by_prev.find(a);
    if (it != by_prev.end() && !it->second.empty()) {
      r.successor = it->second.front().second;
      r.share = double(it->second.front().first) / double(r.voxels);
    }
    // A's pieces: current labels holding at least split_share of it whose own largest predecessor is A.
    std::vector<int> pieces;
    std::int64_t in_pieces = 0;
    if (it != by_prev.end())
      for (const auto& [n, b] : it->second)
        if (double(n) >= o.split_share * double(r.voxels) && best_pred[b].second == a && cur_size[b] >= o.min_voxels)
          pieces.push_back(b), in_pieces += n;
    if (pieces.size() >= 2 && Groups(pieces, cur_faces, o.joined_faces) >= 2) {
      // Apart in the current frame: A broke into pieces (a film formed, a fragment came off).
      r.fate = LabelFate::kSplit;
      r.pieces = int(pieces.size());
      ++ev.splits;
      ev.split_pieces += std::int64_t(pieces.size());
      for (int b : pieces) reached[b] = true;
    } else if (r.successor > 0 && (r.share >= o.continue_share || (r.share >= o.split_share && best_pred[r.successor].second == a) ||
                                   (pieces.size() >= 2 && double(in_pieces) >= o.continue_share * double(r.voxels)))) {
      // One object there (pieces that touch through the object's own phase are one object the
      // watershed cut in two).
      r.fate = LabelFate::kContinued;  // or merged, decided below
      into[r.successor].push_back(a);
      reached[r.successor] = true;
      for (int b : pieces) reached[b] = true;
    } else {
      r.fate = LabelFate::kVanished;
      ++ev.vanished;
    }
    ev.fates.push_back(r);
  }
  // A merge: previous objects continuing into one current object that were apart (not joined
  // through their own phase) in the previous frame. Objects that touched there were one object
  // the watershed had cut: they continue.
  std::map<int, bool> merge_of;
  for (const auto& [b, as] : into)
    if (as.size() >= 2 && Groups(as, prev_faces, o.joined_faces) >= 2) {
      merge_of[b] = true;
      ++ev.merges;
      ev.merged += std::int64_t(as.size());
    }
  for (LabelFateRow& r : ev.fates)
    if (r.fate == LabelFate::kContinued) {
      if (merge_of.count(r.successor)) r.fate = LabelFate::kMerged;
      else ++ev.continued;
    }
  // Born: a current object no previous object continues or splits into, most of whose voxels were
  // in no previous object (the other phase there, or outside the previous view). The rest of the
  // unreached current labels are cuts of objects already counted.
  std::unordered_map<int, std::int64_t> from_prev;
  for (const auto& [ab, n] : overlap) from_prev[ab.second] += n;
  for (const auto& [b, n] : cur_size)
    if (n >= o.min_voxels) {
      ++ev.current;
      if (!reached.count(b) && double(from_prev[b]) < o.continue_share * double(n)) ++ev.born;
    }
  return ev;
}

}  // namespace op4d
