#include "op4d/track/degradation/damage.h"

#include <tbb/parallel_for.h>

#include <Eigen/LU>
#include <algorithm>
#include <array>
#include <cmath>
#include <limits>
#include <map>

#include "op4d/core/error.h"

namespace op4d {

bool DamageOptions::IsValid(std::string* why) const {
  auto fail = [&](const std::string& m) {
    if (why) *why = m;
    return false;
  };
  if (!(interior_vox >= 0) || !std::isfinite(interior_vox)) return fail("interior_vox must be >= 0");
  if (crack_component_min < 1) return fail("crack_component_min must be >= 1");
  if (crack_min_voxels < 1) return fail("crack_min_voxels must be >= 1");
  if (!(crack_min_fraction >= 0 && crack_min_fraction < 1)) return fail("crack_min_fraction must be in [0, 1)");
  if (!(fragment_min_share > 0 && fragment_min_share < 0.5)) return fail("fragment_min_share must be in (0, 0.5)");
  if (active == binder) return fail("the active and binder labels must differ");
  if (min_reference_voxels < 1) return fail("min_reference_voxels must be >= 1");
  return true;
}

namespace {

struct ParticleBox {
  std::array<std::int64_t, 3> lo{std::numeric_limits<std::int64_t>::max(), std::numeric_limits<std::int64_t>::max(),
                                 std::numeric_limits<std::int64_t>::max()};
  std::array<std::int64_t, 3> hi{-1, -1, -1};
  std::int64_t voxels = 0;
};

// Components of `mask` (a box-local 0/1 array) by 6-connectivity: component index per voxel (-1
// outside) and the sizes.
std::vector<std::int64_t> Components(const std::vector<std::uint8_t>& mask, const std::array<std::int64_t, 3>& n,
                                     std::vector<int>* comp) {
  comp->assign(mask.size(), -1);
  std::vector<std::int64_t> sizes;
  std::vector<std::int64_t> stack;
  const std::int64_t stride[3] = {n[1] * n[2], n[2], 1};
  for (std::size_t s = 0; s < mask.size(); ++s) {
    if (!mask[s] || (*comp)[s] >= 0) continue;
    const int c = int(sizes.size());
    sizes.push_back(0);
    stack.assign(1, std::int64_t(s));
    (*comp)[s] = c;
    while (!stack.empty()) {
      const std::int64_t v = stack.back();
      stack.pop_back();
      ++sizes.back();
      const std::int64_t idx[3] = {v / stride[0], (v / stride[1]) % n[1], v % n[2]};
      for (int a = 0; a < 3; ++a)
        for (int d = -1; d <= 1; d += 2) {
          const std::int64_t q = idx[a] + d;
          if (q < 0 || q >= n[a]) continue;
          const std::int64_t w = v + d * stride[a];
          if (mask[std::size_t(w)] && (*comp)[std::size_t(w)] < 0) {
            (*comp)[std::size_t(w)] = c;
            stack.push_back(w);
          }
        }
    }
  }
  return sizes;
}

}  // namespace

std::vector<ParticleDamage> MeasureParticleDamage(const LabelVolume& reference_labels, const PhaseVolume& phases,
                                                  const std::vector<ParticleMotion>& motions, const DamageOptions& options) {
  std::string why;
  if (!options.IsValid(&why)) throw InvalidArgument("MeasureParticleDamage: " + why);
  const Vec3 h = reference_labels.spacing_um();
  for (int a = 0; a < 3; ++a)
    if (std::abs(phases.spacing_um()[a] - h[a]) > 1e-9 * h[a])
      throw InvalidArgument("MeasureParticleDamage: the frame's spacing differs from the reference's");
  // Bounding boxes of the reference particles.
  std::map<int, ParticleBox> boxes;
  for (std::int64_t z = 0; z < reference_labels.nz(); ++z)
    for (std::int64_t y = 0; y < reference_labels.ny(); ++y)
      for (std::int64_t x = 0; x < reference_labels.nx(); ++x) {
        const int l = reference_labels(z, y, x);
        if (l <= 0) continue;
        ParticleBox& b = boxes[l];
        const std::int64_t i[3] = {z, y, x};
        for (int a = 0; a < 3; ++a) b.lo[a] = std::min(b.lo[a], i[a]), b.hi[a] = std::max(b.hi[a], i[a]);
        ++b.voxels;
      }
  const Index3 rn = reference_labels.shape(), fn = phases.shape();
  const Vec3 ro = reference_labels.origin_um(), fo = phases.origin_um();
  const double face[3] = {h[1] * h[2], h[0] * h[2], h[0] * h[1]};
  const double voxel_volume = h[0] * h[1] * h[2];
  const int er = int(std::ceil(options.interior_vox));
  std::vector<std::array<int, 3>> ball;  // offsets within interior_vox (voxel units)
  for (int dz = -er; dz <= er; ++dz)
    for (int dy = -er; dy <= er; ++dy)
      for (int dx = -er; dx <= er; ++dx)
        if (dz * dz + dy * dy + dx * dx <= options.interior_vox * options.interior_vox) ball.push_back({dz, dy, dx});

  std::vector<ParticleDamage> out(motions.size());
  RunInArena(options.threads, [&] {
    tbb::parallel_for(std::size_t(0), motions.size(), [&](std::size_t m) {
      const ParticleMotion& mo = motions[m];
      ParticleDamage& d = out[m];
      d.label = mo.label;
      auto it = boxes.find(mo.label);
      if (it == boxes.end()) {
        d.status = "not in the reference labels";
        return;
      }
      const ParticleBox& rb = it->second;
      d.reference_voxels = rb.voxels;
      if (rb.voxels < options.min_reference_voxels) {
        d.status = "too small to read damage (" + std::to_string(rb.voxels) + " voxels, fewer than " +
                   std::to_string(options.min_reference_voxels) + ")";
        return;
      }
      if (!mo.valid) {
        d.status = mo.status.empty() ? "no valid motion" : mo.status;
        return;
      }
      const Eigen::Matrix3d Finv = mo.F.inverse();
      if (!Finv.allFinite()) {
        d.status = "singular F";
        return;
      }
      // The frame box: the reference box's corners carried, padded by two voxels.
      std::array<std::int64_t, 3> lo{}, hi{};
      {
        Eigen::Vector3d cmin = Eigen::Vector3d::Constant(std::numeric_limits<double>::infinity()), cmax = -cmin;
        for (int c = 0; c < 8; ++c) {
          Eigen::Vector3d X;
          for (int a = 0; a < 3; ++a) X[a] = ro[a] + h[a] * double(((c >> a) & 1) ? rb.hi[a] + 1 : rb.lo[a] - 1);
          const Eigen::Vector3d x = mo.centroid_um + mo.F * (X - mo.centroid_ref_um);
          cmin = cmin.cwiseMin(x), cmax = cmax.cwiseMax(x);
        }
        for (int a = 0; a < 3; ++a) {
          lo[a] = std::max<std::int64_t>(0, std::int64_t(std::floor((cmin[a] - fo[a]) / h[a])) - 2);
          hi[a] = std::min<std::int64_t>(fn[a] - 1, std::int64_t(std::ceil((cmax[a] - fo[a]) / h[a])) + 2);
        }
      }
      const std::array<std::int64_t, 3> bn{std::max<std::int64_t>(0, hi[0] - lo[0] + 1), std::max<std::int64_t>(0, hi[1] - lo[1] + 1),
                                           std::max<std::int64_t>(0, hi[2] - lo[2] + 1)};
      const std::size_t count = std::size_t(bn[0] * bn[1] * bn[2]);
      if (count == 0) {
        d.status = "carried out of the frame";
        return;
      }
      // Per frame voxel of the box: 0 other, 1 particle i, 2 particle i deep inside, 3 beside particle i
      // (outside every particle, a 6-neighbour of i in the reference).
      std::vector<std::uint8_t> role(count, 0);
      auto ref_label = [&](std::int64_t z, std::int64_t y, std::int64_t x) {
        if (z < 0 || y < 0 || x < 0 || z >= rn[0] || y >= rn[1] || x >= rn[2]) return -1;
        return int(reference_labels(z, y, x));
      };
      for (std::int64_t z = 0; z < bn[0]; ++z)
        for (std::int64_t y = 0; y < bn[1]; ++y)
          for (std::int64_t x = 0; x < bn[2]; ++x) {
            const Eigen::Vector3d xp(fo[0] + h[0] * double(lo[0] + z), fo[1] + h[1] * double(lo[1] + y), fo[2] + h[2] * double(lo[2] + x));
            const Eigen::Vector3d X = mo.centroid_ref_um + Finv * (xp - mo.centroid_um);
            const std::int64_t r[3] = {std::llround((X[0] - ro[0]) / h[0]), std::llround((X[1] - ro[1]) / h[1]),
                                       std::llround((X[2] - ro[2]) / h[2])};
            const int l = ref_label(r[0], r[1], r[2]);
            std::uint8_t v = 0;
            if (l == mo.label) {
              v = 1;
              bool deep = true;
              for (const auto& o : ball)
                if (ref_label(r[0] + o[0], r[1] + o[1], r[2] + o[2]) != mo.label) {
                  deep = false;
                  break;
                }
              if (deep) v = 2;
            } else if (l == 0) {
              for (int a = 0; a < 3 && !v; ++a)
                for (int s = -1; s <= 1 && !v; s += 2) {
                  std::int64_t q[3] = {r[0], r[1], r[2]};
                  q[a] += s;
                  if (ref_label(q[0], q[1], q[2]) == mo.label) v = 3;
                }
            }
            role[std::size_t((z * bn[1] + y) * bn[2] + x)] = v;
          }
      auto phase_at = [&](std::int64_t z, std::int64_t y, std::int64_t x) { return phases(lo[0] + z, lo[1] + y, lo[2] + x); };
      // Crack voxels (deep, not active) and the particle's active voxels.
      std::vector<std::uint8_t> crack(count, 0), act(count, 0);
      for (std::int64_t z = 0; z < bn[0]; ++z)
        for (std::int64_t y = 0; y < bn[1]; ++y)
          for (std::int64_t x = 0; x < bn[2]; ++x) {
            const std::size_t s = std::size_t((z * bn[1] + y) * bn[2] + x);
            const bool active = phase_at(z, y, x) == options.active;
            if (role[s] == 2) ++d.interior_voxels;
            if (role[s] == 2 && !active) crack[s] = 1;
            if ((role[s] == 1 || role[s] == 2) && active) act[s] = 1, ++d.active_voxels;
          }
      std::vector<int> comp;
      const std::vector<std::int64_t> crack_sizes = Components(crack, bn, &comp);
      for (std::size_t s = 0; s < count; ++s) {
        crack[s] = crack[s] && crack_sizes[std::size_t(comp[s])] >= options.crack_component_min;
        d.crack_voxels += crack[s];
      }
      // Faces: crack | active (crack area) and active (particle i, or beside it) | binder (contact).
      const std::int64_t stride[3] = {bn[1] * bn[2], bn[2], 1};
      double crack_faces_area = 0, contact = 0, contact_faces = 0;
      for (std::int64_t z = 0; z < bn[0]; ++z)
        for (std::int64_t y = 0; y < bn[1]; ++y)
          for (std::int64_t x = 0; x < bn[2]; ++x) {
            const std::size_t s = std::size_t((z * bn[1] + y) * bn[2] + x);
            const bool mine = act[s] || (role[s] == 3 && phase_at(z, y, x) == options.active);
            if (!mine && !crack[s]) continue;
            const std::int64_t i[3] = {z, y, x};
            for (int a = 0; a < 3; ++a)
              for (int dd = -1; dd <= 1; dd += 2) {
                const std::int64_t q = i[a] + dd;
                const std::int64_t g = (a == 0 ? lo[0] : a == 1 ? lo[1] : lo[2]) + q;
                if (g < 0 || g >= fn[a]) continue;
                if (q < 0 || q >= bn[a]) continue;  // the box is padded past the particle
                const std::size_t w = std::size_t(std::int64_t(s) + dd * stride[a]);
                std::int64_t j[3] = {z, y, x};
                j[a] = q;
                if (crack[s] && act[w]) crack_faces_area += face[a];
                if (mine && phase_at(j[0], j[1], j[2]) == options.binder) contact += face[a], contact_faces += 1;
              }
          }
      d.crack_volume_um3 = double(d.crack_voxels) * voxel_volume;
      d.crack_area_um2 = 0.5 * crack_faces_area;
      d.crack_fraction = d.interior_voxels ? double(d.crack_voxels) / double(d.interior_voxels) : 0.0;
      d.binder_contact_um2 = contact;
      d.binder_contact_sd_um2 = contact_faces > 0 ? std::sqrt(contact_faces) * contact / contact_faces : 0.0;
      // Fragments: components of the particle's active voxels eroded by one voxel (6-neighbours all
      // active), so that a bridge one voxel wide across a crack (a sheet voxel partial volume made
      // active) does not join two pieces; each remaining active voxel joins the component of an eroded
      // 6-neighbour.
      std::vector<std::uint8_t> core(count, 0);
      for (std::int64_t z = 1; z + 1 < bn[0]; ++z)
        for (std::int64_t y = 1; y + 1 < bn[1]; ++y)
          for (std::int64_t x = 1; x + 1 < bn[2]; ++x) {
            const std::size_t s = std::size_t((z * bn[1] + y) * bn[2] + x);
            if (!act[s]) continue;
            bool all = true;
            for (int a = 0; a < 3 && all; ++a)
              all = act[s - std::size_t(stride[a])] && act[s + std::size_t(stride[a])];
            core[s] = all;
          }
      const std::vector<std::int64_t> sizes = Components(core, bn, &comp);
      for (bool grew = true; grew;) {  // until every active voxel joined by 6-adjacency has a piece
        grew = false;
      for (std::int64_t z = 0; z < bn[0]; ++z)
        for (std::int64_t y = 0; y < bn[1]; ++y)
          for (std::int64_t x = 0; x < bn[2]; ++x) {
            const std::size_t s = std::size_t((z * bn[1] + y) * bn[2] + x);
            if (!act[s] || core[s]) continue;
            const std::int64_t i[3] = {z, y, x};
            for (int a = 0; a < 3 && comp[s] < 0; ++a)
              for (int dd = -1; dd <= 1 && comp[s] < 0; dd += 2) {
                const std::int64_t q = i[a] + dd;
                if (q < 0 || q >= bn[a]) continue;
                const std::size_t w = std::size_t(std::int64_t(s) + dd * stride[a]);
                if (act[w] && comp[w] >= 0) comp[s] = comp[w], grew = true;
              }
          }
      }
      const double min_fragment = options.fragment_min_share * double(rb.voxels);
      std::vector<Fragment> frags(sizes.size());
      for (std::int64_t z = 0; z < bn[0]; ++z)
        for (std::int64_t y = 0; y < bn[1]; ++y)
          for (std::int64_t x = 0; x < bn[2]; ++x) {
            const std::size_t s = std::size_t((z * bn[1] + y) * bn[2] + x);
            if (!act[s] || comp[s] < 0) continue;
            Fragment& f = frags[std::size_t(comp[s])];
            ++f.voxels;
            const Eigen::Vector3d xp(fo[0] + h[0] * double(lo[0] + z), fo[1] + h[1] * double(lo[1] + y), fo[2] + h[2] * double(lo[2] + x));
            f.centroid_ref_um += mo.centroid_ref_um + Finv * (xp - mo.centroid_um);
          }
      for (Fragment& f : frags)
        if (double(f.voxels) >= min_fragment) {
          f.centroid_ref_um /= double(f.voxels);
          d.fragments.push_back(f);
        }
      std::sort(d.fragments.begin(), d.fragments.end(), [](const Fragment& a, const Fragment& b) {
        if (a.voxels != b.voxels) return a.voxels > b.voxels;
        return std::lexicographical_compare(a.centroid_ref_um.data(), a.centroid_ref_um.data() + 3, b.centroid_ref_um.data(),
                                            b.centroid_ref_um.data() + 3);
      });
      d.cracked = d.fragments.size() >= 2 ||
                  (d.crack_voxels >= options.crack_min_voxels && d.crack_fraction >= options.crack_min_fraction);
      d.measured = true;
      d.status = d.fragments.empty() ? "no active voxels where the particle was carried" : "ok";
    });
  });
  return out;
}

std::vector<ParticleMotion> MotionsFromKinematics(const ResultTable& t) {
  auto col = [&](const std::string& name) -> const ResultColumn& {
    const ResultColumn* c = t.Find(name);
    if (!c) throw InvalidArgument("table " + t.name + ": no column '" + name + "'");
    return *c;
  };
  const char* axes = "zyx";
  const ResultColumn& label = col("label");
  std::vector<const ResultColumn*> cref, ccur, F;
  for (int a = 0; a < 3; ++a) {
    cref.push_back(&col(std::string("centroid_ref_") + axes[a]));
    ccur.push_back(&col(std::string("centroid_") + axes[a]));
  }
  for (int i = 0; i < 9; ++i) F.push_back(&col(std::string("F_") + axes[i / 3] + axes[i % 3]));
  const ResultColumn& converged = col("converged");
  const ResultColumn* leaves = t.Find("leaves_view");
  std::vector<ParticleMotion> out(t.rows());
  for (std::size_t r = 0; r < t.rows(); ++r) {
    ParticleMotion& m = out[r];
    m.label = int(label.values[r]);
    for (int a = 0; a < 3; ++a) m.centroid_ref_um[a] = cref[std::size_t(a)]->values[r], m.centroid_um[a] = ccur[std::size_t(a)]->values[r];
    for (int i = 0; i < 9; ++i) m.F(i / 3, i % 3) = F[std::size_t(i)]->values[r];
    m.valid = converged.values[r] != 0 && m.F.allFinite() && m.centroid_um.allFinite();
    if (!m.valid) m.status = "the particle's fit did not converge";
    if (m.valid && leaves && leaves->values[r] != 0) m.valid = false, m.status = "the particle leaves the view";
  }
  return out;
}

ResultTable ParticleDamageTable(const std::vector<ParticleDamage>& ds) {
  ResultTable t;
  t.name = "particle_damage";
  auto col = [&](const std::string& name, const std::string& unit, auto get) {
    ResultColumn c{name, unit, {}};
    for (const ParticleDamage& d : ds) c.values.push_back(d.measured ? double(get(d)) : NAN);
    t.columns.push_back(std::move(c));
  };
  {
    ResultColumn c{"label", "1", {}}, m{"measured", "1", {}};
    for (const ParticleDamage& d : ds) c.values.push_back(d.label), m.values.push_back(d.measured ? 1.0 : 0.0);
    t.columns.push_back(std::move(c));
    t.columns.push_back(std::move(m));
  }
  col("reference_voxels", "1", [](const auto& d) { return d.reference_voxels; });
  col("interior_voxels", "1", [](const auto& d) { return d.interior_voxels; });
  col("active_voxels", "1", [](const auto& d) { return d.active_voxels; });
  col("crack_voxels", "1", [](const auto& d) { return d.crack_voxels; });
  col("crack_volume_um3", "um^3", [](const auto& d) { return d.crack_volume_um3; });
  col("crack_area_um2", "um^2", [](const auto& d) { return d.crack_area_um2; });
  col("crack_fraction", "1", [](const auto& d) { return d.crack_fraction; });
  col("cracked", "1", [](const auto& d) { return d.cracked ? 1 : 0; });
  col("fragments", "1", [](const auto& d) { return d.fragments.size(); });
  col("binder_contact_um2", "um^2", [](const auto& d) { return d.binder_contact_um2; });
  col("binder_contact_sd_um2", "um^2", [](const auto& d) { return d.binder_contact_sd_um2; });
  return t;
}

}  // namespace op4d
