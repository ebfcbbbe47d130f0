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

// Replaces data (shape z, y, x) in place by its cubic B-spline coefficients: the exact recursive
// prefilter (pole sqrt(3) - 2, gain 6) along each axis with whole-sample mirror borders (Unser,
// IEEE Signal Process. Mag. 16(6), 1999), accumulated in double. The cubic spline through the
// coefficients interpolates the original samples (SampleCubicBSpline in interpolate.h).
void CubicBSplinePrefilter(float* data, const Index3& shape, ThreadBudget threads = {});

}  // namespace op4d
