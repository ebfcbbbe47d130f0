#include "op4d/track/registration/elastix.h"

#include <fcntl.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <Eigen/Dense>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "itk_io.h"
#include "op4d/core/error.h"

extern char** environ;

namespace op4d {

const char* ToString(ElastixTransform t) {
  switch (t) {
    case ElastixTransform::kTranslation: return "translation";
    case ElastixTransform::kRigid: return "rigid";
    case ElastixTransform::kAffine: return "affine";
    case ElastixTransform::kBSpline: return "bspline";
  }
  return "?";
}

bool ElastixOptions::IsValid(std::string* why) const {
  auto fail = [&](const std::string& m) {
    if (why) *why = m;
    return false;
  };
  if (stages.empty()) return fail("no stages given");
  if (resolutions < 1 || resolutions > 8) return fail("resolutions must be in 1..8, got " + std::to_string(resolutions));
  if (iterations < 1) return fail("iterations must be >= 1, got " + std::to_string(iterations));
  if (!(grid_spacing_um > 0)) return fail("grid_spacing_um must be > 0, got " + std::to_string(grid_spacing_um));
  if (spatial_samples < 64) return fail("spatial_samples must be >= 64, got " + std::to_string(spatial_samples));
  if (sampler != "RandomCoordinate" && sampler != "Random" && sampler != "Full" && sampler != "Grid")
    return fail("sampler must be RandomCoordinate, Random, Full or Grid, got '" + sampler + "'");
  if (metric != "AdvancedMeanSquares" && metric != "AdvancedMattesMutualInformation" &&
      metric != "AdvancedNormalizedCorrelation")
    return fail("metric must be AdvancedMeanSquares, AdvancedMattesMutualInformation or "
                "AdvancedNormalizedCorrelation, got '" + metric + "'");
  if (bending_energy_weight < 0) return fail("bending_energy_weight must be >= 0");
  return true;
}

std::string ElastixParameterText(ElastixTransform stage, const ElastixOptions& o) {
  const bool bspline = stage == ElastixTransform::kBSpline;
  const bool penalty = bspline && o.bending_energy_weight > 0;
  std::ostringstream p;
  p << "// op4d " << ToString(stage) << " stage (fixed = reference frame, moving = current frame)\n"
    << "(FixedInternalImagePixelType \"float\")\n(MovingInternalImagePixelType \"float\")\n"
    << "(FixedImageDimension 3)\n(MovingImageDimension 3)\n(UseDirectionCosines \"true\")\n"
    << "(Registration \"" << (penalty ? "MultiMetricMultiResolutionRegistration" : "MultiResolutionRegistration")
    << "\")\n"
    << "(Interpolator \"BSplineInterpolator\")\n(BSplineInterpolationOrder 1)\n"
    << "(ResampleInterpolator \"FinalBSplineInterpolator\")\n(FinalBSplineInterpolationOrder 3)\n"
    << "(Resampler \"DefaultResampler\")\n"
    << "(FixedImagePyramid \"FixedSmoothingImagePyramid\")\n(MovingImagePyramid \"MovingSmoothingImagePyramid\")\n"
    << "(Optimizer \"AdaptiveStochasticGradientDescent\")\n"
    << "(HowToCombineTransforms \"Compose\")\n";
  switch (stage) {
    case ElastixTransform::kTranslation: p << "(Transform \"TranslationTransform\")\n"; break;
    case ElastixTransform::kRigid: p << "(Transform \"EulerTransform\")\n"; break;
    case ElastixTransform::kAffine: p << "(Transform \"AffineTransform\")\n"; break;
    case ElastixTransform::kBSpline: p << "(Transform \"BSplineTransform\")\n"; break;
  }
  if (!bspline)
    p << "(AutomaticScalesEstimation \"true\")\n(AutomaticTransformInitialization \"true\")\n"
      << "(AutomaticTransformInitializationMethod \"GeometricalCenter\")\n";
  if (penalty)
    p << "(Metric \"" << o.metric << "\" \"TransformBendingEnergyPenalty\")\n(Metric0Weight 1.0)\n(Metric1Weight "
      << o.bending_energy_weight << ")\n";
  else
    p << "(Metric \"" << o.metric << "\")\n";
  if (bspline) {
    // elastix wants the spacing in (x, y, z); op4d gives one value in µm for every axis.
    p << "(FinalGridSpacingInPhysicalUnits " << o.grid_spacing_um << " " << o.grid_spacing_um << " "
      << o.grid_spacing_um << ")\n(GridSpacingSchedule";
    for (int r = o.resolutions - 1; r >= 0; --r) p << " " << double(1 << r);
    p << ")\n";
  }
  p << "(NumberOfResolutions " << o.resolutions << ")\n"
    << "(MaximumNumberOfIterations " << o.iterations << ")\n"
    << "(ImageSampler \"" << o.sampler << "\")\n";
  if (o.sampler == "Full") {
    p << "(NewSamplesEveryIteration \"false\")\n";
  } else {
    p << "(NumberOfSpatialSamples " << o.spatial_samples << ")\n(NewSamplesEveryIteration \"true\")\n";
  }
  if (o.metric == "AdvancedMattesMutualInformation") p << "(NumberOfHistogramBins 32)\n";
  p << "(ErodeMask \"false\")\n(DefaultPixelValue 0)\n(WriteResultImage \"false\")\n"
    << "(ResultImagePixelType \"float\")\n(ResultImageFormat \"mhd\")\n";
  return p.str();
}

bool ProgramAvailable(const std::string& program) {
  if (program.empty()) return false;
  if (program.find('/') != std::string::npos) return ::access(program.c_str(), X_OK) == 0;
  const char* path = std::getenv("PATH");
  std::stringstream dirs(path ? path : "");
  std::string dir;
  while (std::getline(dirs, dir, ':')) {
    if (dir.empty()) dir = ".";
    if (::access((dir + "/" + program).c_str(), X_OK) == 0) return true;
  }
  return false;
}

namespace {

namespace fs = std::filesystem;

// Runs argv with stdout and stderr appended to log_path; returns the exit status (-1 on a signal).
int RunProgram(const std::vector<std::string>& argv, const std::string& log_path) {
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  posix_spawn_file_actions_adddup2(&actions, 1, 2);
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = 0;
  const int rc = posix_spawnp(&pid, args[0], &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) throw IoError(argv[0], "", std::string("cannot start the program: ") + std::strerror(rc));
  int status = 0;
  while (waitpid(pid, &status, 0) < 0)
    if (errno != EINTR) throw IoError(argv[0], "", std::string("waiting for the program failed: ") + std::strerror(errno));
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

std::string ReadText(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// The part of a log that says what went wrong: from the first ITK exception block ("Description:"
// line and the four lines before it) or the first "ERROR" line, else the last `n` lines.
std::string LogExcerpt(const std::string& log, int n = 12) {
  std::vector<std::string> lines;
  std::stringstream s(log);
  std::string line;
  while (std::getline(s, line)) lines.push_back(line);
  std::size_t begin = lines.size() > std::size_t(n) ? lines.size() - std::size_t(n) : 0;
  bool found = false;
  for (const char* key : {"Description:", "ERROR"}) {
    for (std::size_t i = 0; i < lines.size() && !found; ++i)
      if (lines[i].find(key) != std::string::npos) {
        begin = i > 4 ? i - 4 : 0;
        found = true;
      }
    if (found) break;
  }
  std::string out;
  for (std::size_t i = begin; i < lines.size() && i < begin + std::size_t(n); ++i)
    if (!lines[i].empty()) out += "  | " + lines[i] + "\n";
  return out;
}

// (Key v1 v2 ...) entries of an elastix parameter file; quotes stripped.
std::map<std::string, std::vector<std::string>> ParseParameters(const std::string& text) {
  std::map<std::string, std::vector<std::string>> out;
  std::stringstream s(text);
  std::string line;
  while (std::getline(s, line)) {
    const auto open = line.find('('), close = line.rfind(')');
    if (open == std::string::npos || close == std::string::npos || close < open) continue;
    if (line.find("//") != std::string::npos && line.find("//") < open) continue;
    std::stringstream items(line.substr(open + 1, close - open - 1));
    std::string key, v;
    items >> key;
    std::vector<std::string>& values = out[key];
    while (items >> v) {
      if (v.size() >= 2 && v.front() == '"' && v.back() == '"') v = v.substr(1, v.size() - 2);
      values.push_back(v);
    }
  }
  return out;
}

std::vector<double> Numbers(const std::map<std::string, std::vector<std::string>>& p, const std::string& key,
                            const std::string& file) {
  auto it = p.find(key);
  if (it == p.end()) throw IoError(file, key, "no (" + key + " ...) entry");
  std::vector<double> out;
  for (const std::string& v : it->second) out.push_back(std::stod(v));
  return out;
}

// The op4d map of one linear stage from its TransformParameters file (elastix axes x, y, z).
AffineMap LinearStage(const std::string& text, const std::string& file) {
  const auto p = ParseParameters(text);
  const std::string transform = p.count("Transform") && !p.at("Transform").empty() ? p.at("Transform")[0] : "";
  const std::vector<double> q = Numbers(p, "TransformParameters", file);
  Eigen::Matrix3d A = Eigen::Matrix3d::Identity();  // x y z
  Eigen::Vector3d t = Eigen::Vector3d::Zero(), c = Eigen::Vector3d::Zero();
  if (transform == "TranslationTransform") {
    if (q.size() != 3) throw IoError(file, "TransformParameters", "TranslationTransform with " + std::to_string(q.size()) + " parameters");
    t = Eigen::Vector3d(q[0], q[1], q[2]);
  } else {
    const std::vector<double> cv = Numbers(p, "CenterOfRotationPoint", file);
    if (cv.size() != 3) throw IoError(file, "CenterOfRotationPoint", "needs 3 values");
    c = Eigen::Vector3d(cv[0], cv[1], cv[2]);
    if (transform == "AffineTransform") {
      if (q.size() != 12) throw IoError(file, "TransformParameters", "AffineTransform with " + std::to_string(q.size()) + " parameters");
      for (int i = 0; i < 9; ++i) A(i / 3, i % 3) = q[std::size_t(i)];
      t = Eigen::Vector3d(q[9], q[10], q[11]);
    } else if (transform == "EulerTransform") {
      if (q.size() != 6) throw IoError(file, "TransformParameters", "EulerTransform with " + std::to_string(q.size()) + " parameters");
      // ITK's Euler3DTransform (elastix's default, ComputeZYX false): R = Rz Rx Ry.
      const Eigen::Matrix3d Rx = Eigen::AngleAxisd(q[0], Eigen::Vector3d::UnitX()).toRotationMatrix();
      const Eigen::Matrix3d Ry = Eigen::AngleAxisd(q[1], Eigen::Vector3d::UnitY()).toRotationMatrix();
      const Eigen::Matrix3d Rz = Eigen::AngleAxisd(q[2], Eigen::Vector3d::UnitZ()).toRotationMatrix();
      const bool zyx = p.count("ComputeZYX") && !p.at("ComputeZYX").empty() && p.at("ComputeZYX")[0] == "true";
      A = zyx ? Eigen::Matrix3d(Rz * Ry * Rx) : Eigen::Matrix3d(Rz * Rx * Ry);
      t = Eigen::Vector3d(q[3], q[4], q[5]);
    } else {
      throw IoError(file, "Transform", "linear stage of unexpected transform '" + transform + "'");
    }
  }
  // x = A (X - c) + c + t in (x, y, z); op4d reverses the axes.
  const Eigen::Vector3d offset = c - A * c + t;
  AffineMap m;
  for (int i = 0; i < 3; ++i) {
    for (int j = 0; j < 3; ++j) m.F(i, j) = A(2 - i, 2 - j);
    m.t[i] = offset[2 - i];
  }
  return m;
}

// "Final metric value" lines of elastix.log, one per stage when present.
std::vector<double> FinalMetrics(const std::string& log) {
  std::vector<double> out;
  std::stringstream s(log);
  std::string line;
  while (std::getline(s, line)) {
    const auto k = line.find("Final metric value");
    if (k == std::string::npos) continue;
    const auto eq = line.find('=', k);
    if (eq == std::string::npos) continue;
    try {
      out.push_back(std::stod(line.substr(eq + 1)));
    } catch (...) {
      out.push_back(NAN);
    }
  }
  return out;
}

std::string MakeWorkDir(const std::string& parent) {
  std::string base = parent;
  if (base.empty()) {
    const char* tmp = std::getenv("TMPDIR");
    base = tmp && *tmp ? tmp : "/tmp";
  }
  std::string templ = base + "/op4d-elastix-XXXXXX";
  std::vector<char> buf(templ.begin(), templ.end());
  buf.push_back('\0');
  if (!::mkdtemp(buf.data()))
    throw IoError(base, "", std::string("cannot create the elastix working directory: ") + std::strerror(errno));
  return fs::absolute(buf.data()).string();
}

}  // namespace

ElastixResult RegisterElastix(const Volume<float>& reference, const Volume<float>& current,
                              const ElastixOptions& options, const Volume<std::uint8_t>* reference_mask) {
  std::string why;
  if (!options.IsValid(&why)) throw InvalidArgument("elastix options: " + why);
  for (int a = 0; a < 3; ++a)
    if (std::abs(reference.spacing_um()[a] - current.spacing_um()[a]) > 1e-6 * reference.spacing_um()[a])
      throw InvalidArgument("frames to register have different spacings: reference " +
                            reference.geometry().ToString() + ", current " + current.geometry().ToString());
  if (reference_mask && reference_mask->shape() != reference.shape())
    throw InvalidArgument("registration mask shape differs from the reference frame");
  for (const std::string& program : {options.elastix, options.transformix})
    if (!ProgramAvailable(program))
      throw IoError(program, "", "not found (on PATH or as a path): install the Debian package 'elastix' "
                    "(scripts/setup.sh does) or give its location in the options");

  const auto start = std::chrono::steady_clock::now();
  ElastixResult result;
  result.work_dir = MakeWorkDir(options.work_dir);
  struct Cleanup {
    std::string dir;
    bool keep;
    ~Cleanup() {
      std::error_code ec;
      if (!keep) fs::remove_all(dir, ec);
    }
  } cleanup{result.work_dir, options.keep_work_dir};
  const std::string dir = result.work_dir;

  WriteMetaImage(dir + "/fixed.mha", reference);
  WriteMetaImage(dir + "/moving.mha", current);
  std::vector<std::string> argv{options.elastix, "-f", dir + "/fixed.mha", "-m", dir + "/moving.mha",
                                "-out", dir, "-threads", std::to_string(options.threads.Resolve())};
  if (reference_mask) {
    WriteMetaImage(dir + "/fixed_mask.mha", *reference_mask);
    argv.insert(argv.end(), {"-fMask", dir + "/fixed_mask.mha"});
  }
  for (std::size_t i = 0; i < options.stages.size(); ++i) {
    const std::string path = dir + "/params." + std::to_string(i) + ".txt";
    std::ofstream(path) << ElastixParameterText(options.stages[i], options);
    argv.insert(argv.end(), {"-p", path});
  }
  const int rc = RunProgram(argv, dir + "/elastix.out");
  const std::string log = ReadText(dir + "/elastix.log");
  const std::string last_tp = dir + "/TransformParameters." + std::to_string(options.stages.size() - 1) + ".txt";
  if (rc != 0 || !fs::exists(last_tp)) {
    const std::string text = log.empty() ? ReadText(dir + "/elastix.out") : log;
    throw IoError(options.elastix, "", "elastix failed (exit status " + std::to_string(rc) + ", working directory " + dir +
                  (options.keep_work_dir ? "" : ", removed") + "):\n" + LogExcerpt(text));
  }
  for (std::size_t i = 0; i < options.stages.size(); ++i) {
    const std::string path = dir + "/TransformParameters." + std::to_string(i) + ".txt";
    result.parameter_files.push_back(ReadText(path));
    if (options.stages[i] != ElastixTransform::kBSpline)
      result.linear_stages.push_back(LinearStage(result.parameter_files.back(), path));
  }
  result.final_metric = FinalMetrics(log);
  result.final_metric.resize(options.stages.size(), NAN);

  // transformix: the deformation field on the fixed (reference) grid, T(X) - X.
  const int rc2 = RunProgram({options.transformix, "-tp", last_tp, "-out", dir, "-def", "all",
                              "-threads", std::to_string(options.threads.Resolve())},
                             dir + "/transformix.out");
  const std::string field = dir + "/deformationField.mhd";
  if (rc2 != 0 || !fs::exists(field)) {
    std::string text = ReadText(dir + "/transformix.log");
    if (text.empty()) text = ReadText(dir + "/transformix.out");
    throw IoError(options.transformix, "", "transformix failed (exit status " + std::to_string(rc2) + "):\n" + LogExcerpt(text));
  }
  std::array<Volume<float>, 3> u = ReadVectorImage(field);
  if (!u[0].geometry().SameGrid(reference.geometry(), 1e-6))
    throw IoError(field, "", "grid " + u[0].geometry().ToString() + " differs from the reference " +
                  reference.geometry().ToString());
  for (int a = 0; a < 3; ++a) result.displacement.u[std::size_t(a)] = std::move(u[std::size_t(a)]);
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return result;
}

}  // namespace op4d
