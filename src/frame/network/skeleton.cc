#include "op4d/frame/network/skeleton.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>
#include <vector>

#include "op4d/core/error.h"
#include "skeleton_grid.h"

namespace op4d {
namespace {

// Masks over the 27 positions of a 3x3x3 neighbourhood, bit (dz+1)*9 + (dy+1)*3 + (dx+1).
struct NeighbourMasks {
  std::array<std::uint32_t, 27> adj26{};  // positions 26-adjacent to each position (centre excluded)
  std::array<std::uint32_t, 27> adj6{};   // positions 6-adjacent to each position (centre excluded)
  std::uint32_t n6 = 0;                    // the 6 face neighbours of the centre
  std::uint32_t n18 = 0;                   // the 18 face and edge neighbours of the centre
  NeighbourMasks() {
    for (int a = 0; a < 27; ++a) {
      const int az = a / 9 - 1, ay = a / 3 % 3 - 1, ax = a % 3 - 1;
      const int ca = std::abs(az) + std::abs(ay) + std::abs(ax);
      if (ca == 1) n6 |= 1u << a;
      if (ca == 1 || ca == 2) n18 |= 1u << a;
      for (int b = 0; b < 27; ++b) {
        if (b == a || b == 13) continue;
        const int dz = std::abs(b / 9 - 1 - az), dy = std::abs(b / 3 % 3 - 1 - ay), dx = std::abs(b % 3 - 1 - ax);
        if (std::max({dz, dy, dx}) == 1) adj26[a] |= 1u << b;
        if (dz + dy + dx == 1) adj6[a] |= 1u << b;
      }
    }
  }
};
const NeighbourMasks& Masks() {
  static const NeighbourMasks m;
  return m;
}

// Number of components of `set` (connected through `adj`) that meet `touch`, stopping at 2.
int ComponentsTouching(std::uint32_t set, const std::array<std::uint32_t, 27>& adj, std::uint32_t touch) {
  int n = 0;
  while (set) {
    std::uint32_t comp = set & (~set + 1), frontier = comp;
    while (frontier) {
      std::uint32_t next = 0;
      for (std::uint32_t f = frontier; f; f &= f - 1) next |= adj[__builtin_ctz(f)];
      next &= set & ~comp;
      comp |= next;
      frontier = next;
    }
    set &= ~comp;
    if ((comp & touch) && ++n > 1) return n;
  }
  return n;
}

// IsSimplePoint26 memoised on the 26 neighbour bits (2 x 8 MiB, filled lazily).
class SimpleTable {
 public:
  SimpleTable() : known_(std::size_t(1) << 20, 0), value_(std::size_t(1) << 20, 0) {}
  bool operator()(std::uint32_t m) {
    const std::uint32_t key = (m & 0x1FFFu) | ((m >> 14) << 13);  // drop the centre bit
    const std::uint64_t bit = std::uint64_t(1) << (key & 63);
    std::uint64_t& k = known_[key >> 6];
    if (!(k & bit)) {
      k |= bit;
      if (IsSimplePoint26(m)) value_[key >> 6] |= bit;
    }
    return value_[key >> 6] & bit;
  }

 private:
  std::vector<std::uint64_t> known_, value_;
};

constexpr std::uint8_t kIn = 1, kQueued = 2, kAnchor = 4;

// False when the inscribed ball at voxel i lies inside the ball of a 26-neighbour q:
// d(q) >= d(i) + |iq|, less a tolerance of 0.6 of the finest spacing for the discretisation of the
// distances between voxel centres (a one-voxel bump of a surface is then not a maximal ball).
bool IsMaximalBall(const SkeletonGrid& g, const Volume<float>& distance, std::int64_t i) {
  const Index3 c = g.Coords(i);
  const double di = distance[i], slack = 0.6 * g.min_spacing;
  for (int b = 0; b < 27; ++b)
    if (b != 13 && g.InBounds(c, b) && distance[i + g.offset[b]] >= di + g.step_um[b] - slack) return false;
  return true;
}

// Ordered thinning of the voxels with state & kIn, starting from the voxels in `seeds`: a voxel is
// examined in order of its distance bucket, removed when it is a simple point and not a curve end,
// and its remaining neighbours are (re)examined. Returns the number of simple-point tests.
// dmax: the largest finite distance in the set (voxels deeper than the seeds are queued later).
std::int64_t Thin(std::vector<std::uint8_t>& state, const SkeletonGrid& g, const Volume<float>& distance, double dmax,
                  const std::vector<std::int64_t>& seeds, SimpleTable& simple, Progress* progress) {
  const double q = g.min_spacing / 4;  // bucket width: a quarter of the finest voxel size
  const std::size_t nb = std::min<std::size_t>(std::size_t(dmax / q) + 2, std::size_t(1) << 22);
  auto bucket_of = [&](std::int64_t i) {
    if (state[i] & kAnchor) return nb - 1;  // examined last: the branch to it forms first
    const double d = distance[i];
    return std::isfinite(d) ? std::min(nb - 1, std::size_t(std::max(0.0, d) / q)) : nb - 1;
  };
  std::vector<std::vector<std::int64_t>> buckets(nb);
  for (std::int64_t s : seeds)
    if (!(state[s] & kQueued)) {
      state[s] |= kQueued;
      buckets[bucket_of(s)].push_back(s);
    }
  std::int64_t tests = 0;
  for (std::size_t b = 0; b < nb; ++b) {
    std::vector<std::int64_t>& bucket = buckets[b];
    for (std::size_t k = 0; k < bucket.size(); ++k) {  // the bucket may grow while we walk it
      const std::int64_t i = bucket[k];
      state[i] &= std::uint8_t(~kQueued);
      if (!(state[i] & kIn)) continue;
      const std::uint32_t m = g.Gather(state, i, kIn);
      const int count = __builtin_popcount(m);
      if (count == 0) continue;  // an isolated voxel: a component of its own
      // A curve end is kept when it is the centre of a maximal ball; an end whose ball lies inside a
      // neighbour's (a bump of the surface, or a branch left behind by the peeling) recedes.
      if (count == 1 && IsMaximalBall(g, distance, i)) continue;
      ++tests;
      if (!simple(m)) continue;
      state[i] &= std::uint8_t(~kIn);
      if (progress) progress->Advance();
      for (std::uint32_t f = m; f; f &= f - 1) {
        const std::int64_t n = i + g.offset[__builtin_ctz(f)];
        if (state[n] & kQueued) continue;
        state[n] |= kQueued;
        buckets[std::max(b, bucket_of(n))].push_back(n);
      }
    }
    std::vector<std::int64_t>().swap(bucket);
  }
  return tests;
}

// Marks one voxel of every opening of the set on every face of the volume (a component of the set in
// the face plane, 8-connected there as the 26-rule implies): the one of largest distance, the first
// in scan order among equals. Thinning examines these last, so the set around them thins to a branch
// that ends there (a boundary throat), even where the face does not widen the channel; an anchor
// that is not a curve end at its turn is removed like any other simple point.
void AnchorFaceOpenings(std::vector<std::uint8_t>& state, const SkeletonGrid& g, const Volume<float>& distance) {
  const std::int64_t n[3] = {g.nz, g.ny, g.nx};
  std::vector<std::uint8_t> seen;
  std::vector<std::int64_t> stack;
  for (int axis = 0; axis < 3; ++axis) {
    const int u = axis == 0 ? 1 : 0, v = axis == 2 ? 1 : 2;  // the two in-plane axes
    for (std::int64_t layer : {std::int64_t(0), n[axis] - 1}) {
      seen.assign(std::size_t(n[u] * n[v]), 0);
      auto linear = [&](std::int64_t a, std::int64_t b) {
        std::int64_t c[3];
        c[axis] = layer;
        c[u] = a;
        c[v] = b;
        return (c[0] * g.ny + c[1]) * g.nx + c[2];
      };
      for (std::int64_t a0 = 0; a0 < n[u]; ++a0)
        for (std::int64_t b0 = 0; b0 < n[v]; ++b0) {
          if (seen[std::size_t(a0 * n[v] + b0)] || !(state[linear(a0, b0)] & kIn)) continue;
          seen[std::size_t(a0 * n[v] + b0)] = 1;
          stack.assign(1, a0 * n[v] + b0);
          std::int64_t best = linear(a0, b0);
          while (!stack.empty()) {
            const std::int64_t p = stack.back();
            stack.pop_back();
            const std::int64_t a = p / n[v], b = p % n[v], i = linear(a, b);
            if (distance[i] > distance[best] || (distance[i] == distance[best] && i < best)) best = i;
            for (std::int64_t da = -1; da <= 1; ++da)
              for (std::int64_t db = -1; db <= 1; ++db) {
                const std::int64_t aa = a + da, bb = b + db;
                if (aa < 0 || bb < 0 || aa >= n[u] || bb >= n[v] || seen[std::size_t(aa * n[v] + bb)]) continue;
                if (!(state[linear(aa, bb)] & kIn)) continue;
                seen[std::size_t(aa * n[v] + bb)] = 1;
                stack.push_back(aa * n[v] + bb);
              }
          }
          state[best] |= kAnchor;
        }
    }
  }
}

// Removes spurs: walks from every free end (not on a face of the volume) to the first junction and
// removes the branch when it is short enough. Returns the number of branches removed.
std::int64_t Trim(std::vector<std::uint8_t>& state, const SkeletonGrid& g, const Volume<float>& distance,
                  const SkeletonOptions& options, std::vector<std::int64_t>& skeleton) {
  std::int64_t removed = 0;
  std::vector<std::int64_t> branch;
  for (std::int64_t e : skeleton) {
    if (!(state[e] & kIn) || g.OnFace(e)) continue;
    std::uint32_t m = g.Gather(state, e, kIn);
    if (__builtin_popcount(m) != 1) continue;
    branch.assign(1, e);
    double length = 0;
    std::int64_t prev = -1, cur = e;
    bool junction = false;
    while (true) {
      std::int64_t next = -1;
      int step_bit = -1;
      for (std::uint32_t f = m; f; f &= f - 1) {
        const int bit = __builtin_ctz(f);
        if (cur + g.offset[bit] != prev) next = cur + g.offset[bit], step_bit = bit;
      }
      length += g.step_um[step_bit];
      const std::uint32_t mn = g.Gather(state, next, kIn);
      const int count = __builtin_popcount(mn);
      if (count >= 3) {
        junction = true;
        cur = next;
        break;
      }
      if (count != 2) break;  // another free end: an isolated segment, kept whole
      branch.push_back(next);
      prev = cur;
      cur = next;
      m = mn;
    }
    if (!junction) continue;
    const double limit = options.prune_length_um + (options.trim_inside_ball ? double(distance[cur]) : 0.0);
    if (length > limit) continue;
    for (std::int64_t v : branch) state[v] &= std::uint8_t(~kIn);
    ++removed;
  }
  skeleton.erase(std::remove_if(skeleton.begin(), skeleton.end(), [&](std::int64_t v) { return !(state[v] & kIn); }),
                 skeleton.end());
  return removed;
}

}  // namespace

bool IsSimplePoint26(std::uint32_t neighbours) {
  const NeighbourMasks& M = Masks();
  const std::uint32_t in = neighbours & ~(1u << 13) & ((1u << 27) - 1);
  // One 26-component of the set among the 26 neighbours …
  if (ComponentsTouching(in, M.adj26, in) != 1) return false;
  // … and one 6-component of the complement within the 18-neighbourhood that is 6-adjacent to the
  // centre (Bertrand & Malandain's topological numbers T26 = T6 = 1).
  const std::uint32_t out = ~in & M.n18;
  return ComponentsTouching(out, M.adj6, M.n6) == 1;
}

Skeleton Skeletonize(const Volume<std::uint8_t>& mask, const Volume<float>& distance, const SkeletonOptions& options) {
  if (!distance.geometry().SameGrid(mask.geometry()))
    throw InvalidArgument("Skeletonize: the distance map's grid (" + distance.geometry().ToString() +
                          ") differs from the mask's (" + mask.geometry().ToString() + ")");
  if (!(options.prune_length_um >= 0) || !std::isfinite(options.prune_length_um))
    throw InvalidArgument("Skeletonize: prune_length_um must be finite and >= 0, got " +
                          std::to_string(options.prune_length_um));
  const SkeletonGrid g(mask.geometry());
  std::vector<std::uint8_t> state(std::size_t(mask.size()), 0);
  std::vector<std::int64_t> seeds;
  std::int64_t in_count = 0;
  double dmax = 0;
  for (std::int64_t i = 0; i < mask.size(); ++i) {
    if (!mask[i]) continue;
    state[i] = kIn;
    ++in_count;
    if (std::isfinite(distance[i])) dmax = std::max(dmax, double(distance[i]));
  }
  AnchorFaceOpenings(state, g, distance);
  // Seeds: voxels of the set with a face neighbour outside it (or on a face of the volume).
  for (std::int64_t i = 0; i < mask.size(); ++i)
    if ((state[i] & kIn) && (g.OnFace(i) || (g.Gather(state, i, kIn) & Masks().n6) != Masks().n6))
      seeds.push_back(i);

  Skeleton out;
  SimpleTable simple;
  {
    Progress progress("skeleton: thinning (voxels removed, at most)", in_count, options.progress);
    out.simple_tests += Thin(state, g, distance, dmax, seeds, simple, &progress);
  }
  std::vector<std::int64_t> skeleton;
  for (std::int64_t i = 0; i < mask.size(); ++i)
    if (state[i] & kIn) skeleton.push_back(i);
  // Trimming can leave junction voxels that are now simple; thin again, and trim what that exposes.
  for (int pass = 0; pass < 8; ++pass) {
    const std::int64_t removed = Trim(state, g, distance, options, skeleton);
    out.spurs_removed += removed;
    if (removed == 0) break;
    out.simple_tests += Thin(state, g, distance, dmax, skeleton, simple, nullptr);
    skeleton.erase(std::remove_if(skeleton.begin(), skeleton.end(), [&](std::int64_t v) { return !(state[v] & kIn); }),
                   skeleton.end());
  }
  out.voxels = Volume<std::uint8_t>(mask.geometry(), 0);
  for (std::int64_t v : skeleton) out.voxels[v] = 1;
  out.voxel_count = std::int64_t(skeleton.size());
  return out;
}

}  // namespace op4d
