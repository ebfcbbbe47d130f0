// Non-rigid registration by driving the `elastix` and `transformix` programs (Debian ships the
// programs, no library).
//
// Direction. elastix's transform T maps fixed-image points to moving-image points. op4d passes the
// reference frame as the fixed image and the current frame as the moving one, so T is the motion
// x = phi(X) itself and transformix's deformation field T(X) - X, sampled on the fixed (reference)
// grid, is op4d's Lagrangian displacement u(X): F = I + grad u without any inversion. The axis order
// is swapped from elastix's (x, y, z) to op4d's (z, y, x) when the field is read.
#pragma once

#include <string>
#include <vector>

#include "op4d/core/parallel.h"
#include "op4d/core/volume.h"
#include "op4d/track/deformation/field.h"
#include "op4d/track/registration/affine.h"

namespace op4d {

enum class ElastixTransform { kTranslation, kRigid, kAffine, kBSpline };
const char* ToString(ElastixTransform t);

struct ElastixOptions {
  std::vector<ElastixTransform> stages{ElastixTransform::kAffine, ElastixTransform::kBSpline};
  std::string metric = "AdvancedMeanSquares";  // or AdvancedMattesMutualInformation, AdvancedNormalizedCorrelation
  int resolutions = 3;                 // pyramid levels per stage
  int iterations = 500;                // per resolution
  double grid_spacing_um = 8.0;        // final B-spline control-point spacing, µm
  int spatial_samples = 8192;          // random samples per iteration
  std::string sampler = "RandomCoordinate";  // or "Random", "Full", "Grid"
  double bending_energy_weight = 0;    // > 0 adds TransformBendingEnergyPenalty (B-spline stages)
  std::string elastix = "elastix";     // program names or paths
  std::string transformix = "transformix";
  std::string work_dir;                // parent of the private working directory; "" = $TMPDIR or /tmp
  bool keep_work_dir = false;          // keep the working directory (the path is in the result)
  ThreadBudget threads;

  bool IsValid(std::string* why) const;
};

struct ElastixResult {
  DisplacementField displacement;      // u(X) on the reference grid, µm, (z, y, x)
  std::vector<AffineMap> linear_stages;  // the map of each translation/rigid/affine stage, op4d convention
  std::vector<std::string> parameter_files;   // the TransformParameters.<i>.txt texts elastix wrote
  std::vector<double> final_metric;    // final metric value per stage (from elastix.log; NaN if absent)
  std::string work_dir;                // where it ran (removed unless keep_work_dir)
  double seconds = 0;                  // wall time of elastix + transformix
};

// The parameter-file text for one stage (exposed for tests and for users who want to see it).
std::string ElastixParameterText(ElastixTransform stage, const ElastixOptions& options);

// Registers `current` to `reference` (same spacing required). `reference_mask` (optional, same grid,
// nonzero = use) is passed as elastix's fixed mask. Throws IoError when a program is missing or fails
// (with the end of elastix.log), InvalidArgument for bad inputs or options.
ElastixResult RegisterElastix(const Volume<float>& reference, const Volume<float>& current,
                              const ElastixOptions& options,
                              const Volume<std::uint8_t>* reference_mask = nullptr);

// True when the program can be found (an absolute/relative path that exists, or a name on PATH).
bool ProgramAvailable(const std::string& program);

}  // namespace op4d
