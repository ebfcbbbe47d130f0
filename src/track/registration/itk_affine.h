// Internal: the ITK v4 multi-stage registration behind RegisterAffine, with plain types only (the
// caller's translation unit uses Eigen, this one ITK's bundled Eigen; they must not meet).
#pragma once

#include <vector>

#include "op4d/core/volume.h"
#include "op4d/track/registration/affine_options.h"

namespace op4d {

struct ItkAffineRun {
  double F[3][3] = {{1, 0, 0}, {0, 1, 0}, {0, 0, 1}};  // reference -> current, (z, y, x)
  double t[3] = {0, 0, 0};                             // µm, (z, y, x)
  std::vector<AffineStageReport> stages;
  bool converged = false;
};

// Rotation centre: the reference grid centre (µm, z y x).
ItkAffineRun RunItkAffine(const Volume<float>& reference, const Volume<float>& current,
                          const Volume<std::uint8_t>* reference_mask,
                          const AffineRegistrationOptions& options, const double centre_zyx[3],
                          const double initial_t_zyx[3]);  // the first stage's starting translation (µm)

}  // namespace op4d
