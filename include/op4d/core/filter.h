// Separable Gaussian smoothing of a float voxel array: the one filter the synthetic renderer (PSF),
// the Gaussian denoiser and the surface-area smoothing share.
#pragma once

#include "op4d/core/parallel.h"
#include "op4d/core/volume.h"

namespace op4d {

// Smooths data (shape z, y, x, z-major) in place with a Gaussian of sigma_vox voxels per axis (an
// axis with sigma <= 0 is left alone). Kernel radius ceil(3 sigma), normalised; borders mirrored
// (half-sample symmetric: the value beyond the face is the one just inside), accumulated in double.
// Every line is filtered from a copy of itself, so the result does not depend on the thread count.
void GaussianSmooth(float* data, const Index3& shape, const Vec3& sigma_vox, ThreadBudget threads = {});

}  // namespace op4d
