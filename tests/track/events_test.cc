#include <catch2/catch.hpp>

#include "op4d/track/degradation/events.h"

using namespace op4d;

namespace {

// Paints a ball of label l, centre (z, y, x) and radius r in voxels.
void Ball(LabelVolume& v, int l, double z, double y, double x, double r) {
  for (std::int64_t i = 0; i < v.nz(); ++i)
    for (std::int64_t j = 0; j < v.ny(); ++j)
      for (std::int64_t k = 0; k < v.nx(); ++k)
        if ((i - z) * (i - z) + (j - y) * (j - y) + (k - x) * (k - x) <= r * r) v(i, j, k) = l;
}

const LabelFateRow& Fate(const LabelEvents& e, int previous) {
  for (const LabelFateRow& r : e.fates)
    if (r.previous == previous) return r;
  FAIL("no fate for label " << previous);
  return e.fates.front();
}

}  // namespace

TEST_CASE("label events: a merge, a split, a vanished and a born object, each counted once", "[events]") {
  const Geometry g{{40, 48, 56}, {0.5, 0.4, 0.3}, {0, 0, 0}};  // anisotropic spacing
  LabelVolume prev(g, 0), cur(g, 0);
  // 1 and 2 touch-free neighbours that merge into one object (current label 7).
  Ball(prev, 1, 10, 10, 10, 5);
  Ball(prev, 2, 10, 10, 22, 5);
  Ball(cur, 7, 10, 10, 10, 5.5);
  Ball(cur, 7, 10, 10, 22, 5.5);
  for (std::int64_t x = 10; x <= 22; ++x) cur(10, 10, x) = 7;
  // 3 splits into two halves (current 8 and 9) with a gap between them.
  Ball(prev, 3, 28, 30, 20, 6);
  Ball(cur, 8, 28, 30, 20, 6);
  for (std::int64_t i = 0; i < cur.size(); ++i)
    if (cur[i] == 8 && (i % g.shape[2]) >= 19) cur[i] = (i % g.shape[2]) >= 21 ? 9 : 0;
  // 4 vanishes (its place turns into the other phase).
  Ball(prev, 4, 30, 12, 45, 4);
  // 5 continues unchanged; 10 is born.
  Ball(prev, 5, 12, 36, 44, 4);
  Ball(cur, 5, 12, 36, 44, 4);
  Ball(cur, 10, 30, 40, 45, 4);
  const LabelEvents e = TrackLabelEvents(prev, cur, AffineMap{});
  CHECK(e.previous == 5);
  CHECK(e.current == 5);  // 7, 8, 9, 5, 10
  CHECK(e.merges == 1);
  CHECK(e.merged == 2);
  CHECK(e.splits == 1);
  CHECK(e.split_pieces == 2);
  CHECK(e.vanished == 1);
  CHECK(e.born == 1);
  CHECK(e.continued == 1);
  CHECK(e.left_out == 0);
  CHECK(Fate(e, 1).fate == LabelFate::kMerged);
  CHECK(Fate(e, 1).successor == 7);
  CHECK(Fate(e, 2).fate == LabelFate::kMerged);
  CHECK(Fate(e, 3).fate == LabelFate::kSplit);
  CHECK(Fate(e, 3).pieces == 2);
  CHECK(Fate(e, 4).fate == LabelFate::kVanished);
  CHECK(Fate(e, 4).share == 0.0);
  CHECK(Fate(e, 5).fate == LabelFate::kContinued);
  CHECK(Fate(e, 5).share == 1.0);
  const ResultTable t = e.FateTable();
  CHECK(t.rows() == 5);
  CHECK(t.Find("fate")->values[3] == double(int(LabelFate::kVanished)));
}

TEST_CASE("label events: objects carried by the motion between frames continue, the identity would lose them", "[events]") {
  const Geometry g{{32, 32, 48}, {0.5, 0.5, 0.25}, {0, 0, 0}};
  LabelVolume prev(g, 0), cur(g, 0);
  Ball(prev, 1, 16, 16, 10, 3);
  Ball(prev, 2, 8, 8, 30, 3);
  // The frame moved by +4 um along x (16 voxels of 0.25 um): current = previous shifted.
  Ball(cur, 1, 16, 16, 26, 3);
  Ball(cur, 2, 8, 8, 46, 3);  // partly out of the view
  AffineMap back;              // current -> previous: x - 4 um
  back.t = Eigen::Vector3d(0, 0, -4.0);
  const LabelEvents moved = TrackLabelEvents(prev, cur, back);
  CHECK(Fate(moved, 1).fate == LabelFate::kContinued);
  CHECK(Fate(moved, 1).successor == 1);
  CHECK(Fate(moved, 1).share == 1.0);
  // Label 2's image lies partly outside the current view: only its part inside counts in n_A.
  CHECK(Fate(moved, 2).fate == LabelFate::kContinued);
  CHECK(Fate(moved, 2).voxels < 123);  // a ball of radius 3 voxels holds 123
  CHECK(moved.vanished == 0);
  CHECK(moved.born == 0);
  const LabelEvents still = TrackLabelEvents(prev, cur, AffineMap{});
  CHECK(still.vanished == 2);
  CHECK(still.born == 2);
  CHECK(still.continued == 0);
}

TEST_CASE("label events: one object the watershed cut in two is neither a merge nor a split", "[events]") {
  const Geometry g{{24, 24, 40}, {1, 1, 1}, {0, 0, 0}};
  LabelVolume cut(g, 0), whole(g, 0);
  Ball(whole, 1, 12, 12, 20, 8);
  // The same object in two labels that share the plane x = 20 | 21 (a watershed line, no film).
  for (std::int64_t i = 0; i < cut.size(); ++i)
    if (whole[i]) cut[i] = (i % g.shape[2]) <= 20 ? 1 : 2;
  const LabelEvents joined = TrackLabelEvents(cut, whole, AffineMap{});
  CHECK(joined.merges == 0);
  CHECK(joined.continued == 2);
  CHECK(joined.born == 0);
  const LabelEvents parted = TrackLabelEvents(whole, cut, AffineMap{});
  CHECK(parted.splits == 0);
  CHECK(parted.continued == 1);
  CHECK(parted.born == 0);
  CHECK(Fate(parted, 1).fate == LabelFate::kContinued);
  // With a film of the other phase between the two (x = 20 cleared), they were two objects: a merge.
  for (std::int64_t i = 0; i < cut.size(); ++i)
    if (i % g.shape[2] == 20) cut[i] = 0;
  const LabelEvents merged = TrackLabelEvents(cut, whole, AffineMap{});
  CHECK(merged.merges == 1);
  CHECK(merged.merged == 2);
}

TEST_CASE("label events: bad input", "[events]") {
  const LabelVolume a(Geometry{{4, 4, 4}, {1, 1, 1}, {0, 0, 0}}, 0);
  const LabelVolume b(Geometry{{4, 4, 4}, {1, 1, 2}, {0, 0, 0}}, 0);
  CHECK_THROWS_WITH(TrackLabelEvents(a, b, AffineMap{}), Catch::Contains("spacings"));
  LabelEventOptions o;
  o.split_share = 0.6;
  CHECK_THROWS_WITH(TrackLabelEvents(a, a, AffineMap{}, o), Catch::Contains("split_share"));
  o = LabelEventOptions{};
  o.joined_faces = 0;
  CHECK_THROWS_WITH(TrackLabelEvents(a, a, AffineMap{}, o), Catch::Contains("joined_faces"));
  // Nothing labelled: no events, no crash.
  const LabelEvents e = TrackLabelEvents(a, a, AffineMap{});
  CHECK(e.previous == 0);
  CHECK(e.current == 0);
  CHECK(e.fates.empty());
}
