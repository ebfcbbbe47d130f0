#include "op4d/frame/geometry/contacts.h"

#include <cmath>
#include <map>

#include "op4d/core/error.h"

namespace op4d {

bool ContactOptions::IsValid(std::string* why) const {
  if (!(adhesion_energy_J_per_m2 >= 0) || !(adhesion_strength_Pa >= 0) || !std::isfinite(adhesion_energy_J_per_m2) ||
      !std::isfinite(adhesion_strength_Pa)) {
    if (why) *why = "adhesion_energy_J_per_m2 and adhesion_strength_Pa must be finite and >= 0";
    return false;
  }
  return true;
}

ResultTable ContactResult::ToTable() const {
  return {"contacts",
          {{"area_um2", "um^2", {area_um2}},
           {"specific_area", "um^-1", {specific_area_per_um}},
           {"adhesion_energy", "J", {adhesion_energy_J}},
           {"max_force", "N", {max_force_N}},
           {"particles_without_contact", "1", {double(particles_without_contact)}}}};
}

ResultTable ContactResult::ParticleTable() const {
  ResultTable t{"particle_contacts",
                {{"label", "1", {}}, {"area_um2", "um^2", {}}, {"adhesion_energy", "J", {}}, {"max_force", "N", {}}}};
  for (const ParticleContact& p : particles) {
    t.columns[0].values.push_back(p.label);
    t.columns[1].values.push_back(p.area_um2);
    t.columns[2].values.push_back(p.adhesion_energy_J);
    t.columns[3].values.push_back(p.max_force_N);
  }
  return t;
}

ContactResult ComputeContacts(const PhaseVolume& phases, std::uint8_t a, std::uint8_t b, const LabelVolume* particles,
                              const ContactOptions& o) {
  std::string why;
  if (!o.IsValid(&why)) throw ConfigError("contacts", why);
  if (particles && particles->shape() != phases.shape()) throw InvalidArgument("particle labels and phases differ in shape");
  const Index3 s = phases.shape();
  const Vec3 sp = phases.spacing_um();
  const double face[3] = {sp[1] * sp[2], sp[0] * sp[2], sp[0] * sp[1]};
  const std::int64_t stride[3] = {s[1] * s[2], s[2], 1};
  ContactResult r;
  std::map<std::int32_t, double> per;  // particle -> area
  if (particles)
    for (std::int64_t i = 0; i < phases.size(); ++i)
      if (phases[i] == a && (*particles)[i] > 0) per.emplace((*particles)[i], 0.0);
  // Each face between neighbours (v, v + e_axis) once, in scan order: exact sums.
  for (std::int64_t z = 0; z < s[0]; ++z)
    for (std::int64_t y = 0; y < s[1]; ++y)
      for (std::int64_t x = 0; x < s[2]; ++x) {
        const std::int64_t v = phases.Offset(z, y, x);
        const std::int64_t c[3] = {z, y, x};
        for (int ax = 0; ax < 3; ++ax) {
          if (c[ax] + 1 >= s[ax]) continue;
          const std::int64_t w = v + stride[ax];
          std::int64_t in_a = -1;
          if (phases[v] == a && phases[w] == b) in_a = v;
          else if (phases[v] == b && phases[w] == a) in_a = w;
          if (in_a < 0) continue;
          r.area_um2 += face[ax];
          if (particles && (*particles)[in_a] > 0) per[(*particles)[in_a]] += face[ax];
        }
      }
  const double total_volume = double(phases.size()) * phases.geometry().voxel_volume_um3();
  r.specific_area_per_um = r.area_um2 / total_volume;
  const double m2 = 1e-12;  // µm² -> m²
  r.adhesion_energy_J = o.adhesion_energy_J_per_m2 * r.area_um2 * m2;
  r.max_force_N = o.adhesion_strength_Pa * r.area_um2 * m2;
  for (const auto& [label, area] : per) {
    r.particles.push_back({label, area, o.adhesion_energy_J_per_m2 * area * m2, o.adhesion_strength_Pa * area * m2});
    r.particles_without_contact += area == 0.0;
  }
  return r;
}

}  // namespace op4d
