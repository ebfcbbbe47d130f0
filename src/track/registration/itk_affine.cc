// The ITK v4 part of the affine registration. No Eigen in this translation unit: ITK bundles its own.
#include "itk_affine.h"

#include <itkAffineTransform.h>
#include <itkEuler3DTransform.h>
#include <itkImageMaskSpatialObject.h>
#include <itkImageRegistrationMethodv4.h>
#include <itkMattesMutualInformationImageToImageMetricv4.h>
#include <itkMeanSquaresImageToImageMetricv4.h>
#include <itkRegistrationParameterScalesFromPhysicalShift.h>
#include <itkRegularStepGradientDescentOptimizerv4.h>
#include <itkTranslationTransform.h>

#include <algorithm>
#include <cmath>

#include "itk/itk_bridge.h"
#include "op4d/core/error.h"

namespace op4d {
namespace {

using Image = itk::Image<float, 3>;
using Metric = itk::ImageToImageMetricv4<Image, Image>;
using Optimizer = itk::RegularStepGradientDescentOptimizerv4<double>;

// One multi-resolution stage with transform type T, started from (and writing back into) `transform`.
template <class T>
AffineStageReport RunStage(const char* name, typename T::Pointer transform, Image* fixed, Image* moving,
                           const itk::ImageMaskSpatialObject<3>* mask,
                           const AffineRegistrationOptions& o, double spacing_min, bool* converged) {
  typename Metric::Pointer metric;
  if (o.metric == RegistrationMetric::kMeanSquares) {
    metric = itk::MeanSquaresImageToImageMetricv4<Image, Image>::New().GetPointer();
  } else {
    auto mi = itk::MattesMutualInformationImageToImageMetricv4<Image, Image>::New();
    mi->SetNumberOfHistogramBins(itk::SizeValueType(o.mattes_bins));
    metric = mi.GetPointer();
  }
  const int threads = o.threads.Resolve();
  metric->SetMaximumNumberOfWorkUnits(itk::ThreadIdType(threads));
  // The derivative uses the moving image's gradient only: no precomputed gradient image of the fixed one
  // (three doubles per voxel: 400 MB at 256^3). The moving one keeps ITK's smoothed gradient image,
  // which noisy frames need (central differences left foam4d frames in local minima).
  metric->SetUseFixedImageGradientFilter(false);
  if (mask) metric->SetFixedImageMask(mask);

  auto scales = itk::RegistrationParameterScalesFromPhysicalShift<Metric>::New();
  scales->SetMetric(metric);
  auto optimizer = Optimizer::New();
  optimizer->SetScalesEstimator(scales);
  optimizer->SetLearningRate(o.max_step * spacing_min);
  optimizer->SetMinimumStepLength(o.min_step * spacing_min);
  optimizer->SetRelaxationFactor(0.5);
  optimizer->SetGradientMagnitudeTolerance(1e-12);
  optimizer->SetNumberOfIterations(itk::SizeValueType(o.iterations));
  optimizer->SetReturnBestParametersAndValue(true);
  optimizer->SetNumberOfWorkUnits(itk::ThreadIdType(threads));

  using Method = itk::ImageRegistrationMethodv4<Image, Image, T>;
  auto method = Method::New();
  method->SetFixedImage(fixed);
  method->SetMovingImage(moving);
  method->SetMetric(metric);
  method->SetOptimizer(optimizer);
  method->SetInitialTransform(transform);
  method->InPlaceOn();
  method->SetNumberOfWorkUnits(itk::ThreadIdType(threads));
  // No level coarser than 16 voxels along the smallest axis: a smaller image has too little structure
  // and the coarse level's optimum can be a neighbouring particle's (a local minimum the finer levels
  // do not leave).
  const auto size = fixed->GetLargestPossibleRegion().GetSize();
  const double smallest = double(std::min({size[0], size[1], size[2]}));
  const int levels = std::max(1, std::min(o.levels, 1 + int(std::floor(std::log2(smallest / 16.0)))));
  typename Method::ShrinkFactorsArrayType shrink;
  shrink.SetSize(itk::SizeValueType(levels));
  typename Method::SmoothingSigmasArrayType sigmas;
  sigmas.SetSize(itk::SizeValueType(levels));
  for (int l = 0; l < levels; ++l) {
    shrink[l] = 1u << (levels - 1 - l);
    sigmas[l] = double(shrink[l]) / 2.0;  // voxels of the full grid; 0 at full resolution
    if (shrink[l] == 1) sigmas[l] = 0;
  }
  method->SetNumberOfLevels(itk::SizeValueType(levels));
  method->SetShrinkFactorsPerLevel(shrink);
  method->SetSmoothingSigmasPerLevel(sigmas);
  method->SetSmoothingSigmasAreSpecifiedInPhysicalUnits(false);
  const double voxels = double(fixed->GetLargestPossibleRegion().GetNumberOfPixels());
  const std::int64_t cap = o.metric == RegistrationMetric::kMattesMutualInformation ? o.max_samples_mutual_information : o.max_samples;
  const double fraction = std::min(o.sampling_fraction, cap > 0 ? double(cap) / voxels : 1.0);
  if (fraction < 1.0) {
    method->SetMetricSamplingStrategy(Method::MetricSamplingStrategyType::REGULAR);
    method->SetMetricSamplingPercentage(fraction);
    method->MetricSamplingReinitializeSeed(int(o.seed % 2147483647u));
  }

  AffineStageReport report;
  report.stage = name;
  // Iterations per level: the event fires at the start of every level, so each firing after the
  // first closes the previous level's count.
  auto observer = itk::CStyleCommand::New();
  struct LevelState {
    Optimizer* optimizer;
    std::vector<int>* iterations;
    int events = 0;
  } state{optimizer.GetPointer(), &report.iterations};
  observer->SetClientData(&state);
  observer->SetCallback([](itk::Object*, const itk::EventObject&, void* data) {
    auto* s = static_cast<LevelState*>(data);
    if (s->events++ > 0) s->iterations->push_back(int(s->optimizer->GetCurrentIteration()));
  });
  method->AddObserver(itk::MultiResolutionIterationEvent(), observer);
  try {
    method->Update();
  } catch (const itk::ExceptionObject& e) {
    throw InvalidArgument(std::string("registration stage ") + name + " failed in ITK: " +
                          e.GetDescription());
  }
  report.iterations.push_back(int(optimizer->GetCurrentIteration()));
  report.metric_value = optimizer->GetCurrentMetricValue();
  report.stop_condition = optimizer->GetStopConditionDescription();
  *converged = optimizer->GetCurrentIteration() < optimizer->GetNumberOfIterations();
  return report;
}

}  // namespace

ItkAffineRun RunItkAffine(const Volume<float>& reference, const Volume<float>& current,
                          const Volume<std::uint8_t>* reference_mask,
                          const AffineRegistrationOptions& options, const double centre_zyx[3],
                          const double initial_t_zyx[3]) {
  const double spacing_min =
      *std::min_element(reference.spacing_um().begin(), reference.spacing_um().end());
  Image::Pointer fixed = itk_bridge::ToItk(reference);
  Image::Pointer moving = itk_bridge::ToItk(current);
  itk::ImageMaskSpatialObject<3>::Pointer mask;
  if (reference_mask) {
    mask = itk::ImageMaskSpatialObject<3>::New();
    mask->SetImage(itk_bridge::ToItk(*reference_mask));
    mask->Update();
  }

  ItkAffineRun result;
  itk::Point<double, 3> centre;
  for (int a = 0; a < 3; ++a) centre[a] = centre_zyx[2 - a];
  itk::Vector<double, 3> start;
  for (int a = 0; a < 3; ++a) start[a] = initial_t_zyx[2 - a];

  bool converged = false;
  // op4d map from an ITK matrix M (x y z), centre c and translation: x = M (X - c) + c + t.
  // op4d (z y x) matrix and vector from ITK's (x y z) ones: T(p) = M p + offset.
  auto set_map = [&](const itk::Matrix<double, 3, 3>& M, const itk::Vector<double, 3>& offset) {
    for (int i = 0; i < 3; ++i) {
      for (int j = 0; j < 3; ++j) result.F[i][j] = M[2 - i][2 - j];
      result.t[i] = offset[2 - i];
    }
  };

  if (options.model == AffineModel::kTranslation) {
    auto translation = itk::TranslationTransform<double, 3>::New();
    translation->SetIdentity();
    translation->SetOffset(start);
    result.stages.push_back(RunStage<itk::TranslationTransform<double, 3>>(
        "translation", translation, fixed, moving, mask.GetPointer(), options, spacing_min, &converged));
    itk::Matrix<double, 3, 3> I;
    I.SetIdentity();
    set_map(I, translation->GetOffset());
  } else {
    auto rigid = itk::Euler3DTransform<double>::New();
    rigid->SetIdentity();
    rigid->SetCenter(centre);
    rigid->SetTranslation(start);
    result.stages.push_back(RunStage<itk::Euler3DTransform<double>>(
        "rigid", rigid, fixed, moving, mask.GetPointer(), options, spacing_min, &converged));
    set_map(rigid->GetMatrix(), rigid->GetOffset());
    if (options.model == AffineModel::kAffine) {
      auto affine = itk::AffineTransform<double, 3>::New();
      affine->SetCenter(centre);
      affine->SetMatrix(rigid->GetMatrix());
      affine->SetTranslation(rigid->GetTranslation());
      result.stages.push_back(RunStage<itk::AffineTransform<double, 3>>(
          "affine", affine, fixed, moving, mask.GetPointer(), options, spacing_min, &converged));
      set_map(affine->GetMatrix(), affine->GetOffset());
    }
  }
  result.converged = converged;
  return result;
}

}  // namespace op4d
