#include "op4d/frame/segment/segment_streamed.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>

#include "histogram.h"
#include "op4d/core/error.h"
#include "op4d/core/scratch.h"

namespace op4d {
namespace {

template <class T>
class Passes {
 public:
  Passes(const Geometry& frame, const RegionReader& grey, const BoxWriter<std::uint8_t>& write,
         const StreamedSegmentationOptions& o)
      : frame_(frame), n_(frame.shape), plane_(n_[1] * n_[2]), grey_(grey), write_(write), o_(o),
        den_(o.scratch_dir, "the denoised frame"), lab_(o.scratch_dir, "the labels") {}

  StreamedSegmentationReport Run() {
    StreamedSegmentationReport rep;
    const std::int64_t nz = n_[0];
    Progress progress("segmentation (block-wise, 6 passes)", 6 * nz, o_.progress);
    // 1. Noise sigma, from the residuals NonLocalMeans would take.
    NlmOptions no = o_.nlm;
    no.threads = o_.threads;
    no.progress = ProgressStyle::kOff;
    bool estimated = false;
    if (!(no.sigma > 0)) {
      no.sigma = EstimateNoiseSigmaStreamed(frame_, grey_, DefaultNoiseStride(frame_), o_.slab_z, o_.threads);
      estimated = true;
      if (!(no.sigma > 0))
        throw InvalidArgument("nlm: the estimated noise sigma is 0 (a noise-free volume); give sigma explicitly");
    }
    // 2. NLM, its result in the input's type on disk; the finite range on the way.
    double lo = std::numeric_limits<double>::infinity(), hi = -lo;
    rep.nlm = NonLocalMeansStreamed(frame_, grey_, [&](std::int64_t z0, const Volume<float>& slab) {
      std::vector<T> out(std::size_t(slab.size()));
      for (std::int64_t i = 0; i < slab.size(); ++i) {
        out[std::size_t(i)] = NlmOutputValue<T>(slab[i]);
        const double x = double(out[std::size_t(i)]);
        if (!std::isfinite(x)) continue;
        lo = std::min(lo, x);
        hi = std::max(hi, x);
      }
      den_.Write(out.data(), out.size() * sizeof(T), z0 * plane_ * std::int64_t(sizeof(T)));
      progress.Advance(slab.nz());
    }, no);
    rep.nlm.sigma_estimated = estimated;
    if (!std::isfinite(lo)) throw InvalidArgument("the volume has no finite grey value");
    // 3. The mixture, on the histogram of the denoised frame.
    GmmOptions go;
    go.components = int(o_.class_labels.size());
    go.tied_sigma = true;
    go.threads = o_.threads;
    internal::Histogram h = internal::EmptyHistogram(lo, hi, go.bins);
    for (std::int64_t z0 = 0; z0 < nz; z0 += o_.slab_z) {
      const std::int64_t z1 = std::min(nz, z0 + o_.slab_z);
      internal::CountIntoHistogram(h, AnyVolume(Den(z0, z1)), o_.threads);
      progress.Advance(z1 - z0);
    }
    rep.model = internal::FitGaussianMixtureToHistogram(h, go);
    // 4. MAP labels and the partial-volume resolution (a one-plane halo: reach 1 along z).
    for (std::int64_t z0 = 0; z0 < nz; z0 += o_.slab_z) {
      const std::int64_t z1 = std::min(nz, z0 + o_.slab_z), w0 = std::max<std::int64_t>(0, z0 - 1),
                         w1 = std::min(nz, z1 + 1);
      const AnyVolume den(Den(w0, w1));
      PhaseVolume labels = ClassifyGaussianMixture(den, rep.model, o_.class_labels, false, o_.threads).labels;
      const PhaseVolume before = labels;
      ResolvePartialVolume(labels, den, rep.model, o_.class_labels, 1, o_.threads);
      const std::int64_t i0 = (z0 - w0) * plane_, i1 = (z1 - w0) * plane_;
      for (std::int64_t i = i0; i < i1; ++i) rep.partial_volume += labels[i] != before[i];
      lab_.Write(labels.data() + i0, std::size_t(i1 - i0), z0 * plane_);
      progress.Advance(z1 - z0);
    }
    // 5. Pure grey values of the labels, summed in scan order as the whole-frame refinement does.
    ForwardModelTerms t;
    const bool refine = o_.refine.max_sweeps > 0;
    if (refine) {
      internal::CheckForwardModelOptions(o_.refine, "RefineByForwardModel");
      t = internal::ForwardModelSupport(n_, o_.refine);
    }
    if (refine && internal::FrameLargeEnough(n_, t.R)) {
      internal::PureGreySums sums;
      for (std::int64_t z0 = 0; z0 < nz; z0 += o_.slab_z) {
        const std::int64_t z1 = std::min(nz, z0 + o_.slab_z), w0 = std::max<std::int64_t>(0, z0 - 1),
                           w1 = std::min(nz, z1 + 1);
        internal::AccumulatePureGrey(Labels(w0, w1), AnyVolume(Den(w0, w1)), z0, z1, w0, n_, sums);
        progress.Advance(z1 - z0);
      }
      t = internal::FinishForwardModelTerms(sums, n_, o_.refine);
    } else {
      progress.Advance(nz);
    }
    rep.refine.labels = t.labels;
    rep.refine.pure_grey = t.pure_grey;
    // 6. The refinement's slabs in order, each from a window holding its margins.
    if (refine && !t.kk.empty()) {
      const std::int64_t margin = 2 * internal::RefineFilterRadius(o_.refine) + t.R;
      for (std::int64_t z0 = t.R; z0 < nz - t.R; z0 += internal::kRefineSlab) {
        const std::int64_t z1 = std::min(z0 + internal::kRefineSlab, nz - t.R);
        const std::int64_t b0 = std::max<std::int64_t>(0, z0 - margin), b1 = std::min(nz, z1 + margin);
        PhaseVolume window = Labels(b0, b1);
        rep.refined += internal::RefineSlab(window, AnyVolume(Den(b0, b1)), b0, z0, z1, n_, t, o_.refine, rep.refine);
        lab_.Write(window.data() + (z0 - b0) * plane_, std::size_t((z1 - z0) * plane_), z0 * plane_);
        progress.Advance(z1 - z0);
      }
      progress.Advance(2 * t.R);
    } else {
      progress.Advance(nz);
    }
    // 7. Out.
    for (std::int64_t z0 = 0; z0 < nz; z0 += o_.slab_z) {
      const std::int64_t z1 = std::min(nz, z0 + o_.slab_z);
      write_(Box{{z0, 0, 0}, {z1 - z0, n_[1], n_[2]}}, Labels(z0, z1));
      progress.Advance(z1 - z0);
    }
    progress.Finish();
    return rep;
  }

 private:
  Geometry Planes(std::int64_t z0, std::int64_t z1) const {
    Geometry g = frame_;
    g.shape = {z1 - z0, n_[1], n_[2]};
    g.origin_um[0] += double(z0) * frame_.spacing_um[0];
    return g;
  }
  Volume<T> Den(std::int64_t z0, std::int64_t z1) const {
    Volume<T> v(Planes(z0, z1));
    den_.Read(v.data(), std::size_t(v.size()) * sizeof(T), z0 * plane_ * std::int64_t(sizeof(T)));
    return v;
  }
  PhaseVolume Labels(std::int64_t z0, std::int64_t z1) const {
    PhaseVolume v(Planes(z0, z1));
    lab_.Read(v.data(), std::size_t(v.size()), z0 * plane_);
    return v;
  }

  const Geometry frame_;
  const Index3 n_;
  const std::int64_t plane_;
  const RegionReader& grey_;
  const BoxWriter<std::uint8_t>& write_;
  const StreamedSegmentationOptions& o_;
  ScratchFile den_, lab_;
};

}  // namespace

StreamedSegmentationReport SegmentNlmGmmStreamed(const Geometry& frame, const RegionReader& grey,
                                                 const BoxWriter<std::uint8_t>& write,
                                                 const StreamedSegmentationOptions& options) {
  const auto t0 = std::chrono::steady_clock::now();
  std::string why;
  if (!frame.IsValid(&why)) throw InvalidArgument("block-wise segmentation: frame geometry: " + why);
  if (options.slab_z < 1) throw InvalidArgument("block-wise segmentation: slab_z " + std::to_string(options.slab_z) + " is not >= 1");
  if (options.class_labels.size() < 2)
    throw InvalidArgument("block-wise segmentation: need a phase label for each of at least 2 mixture components");
  const AnyVolume first = grey(Box{{0, 0, 0}, {1, frame.shape[1], frame.shape[2]}});
  StreamedSegmentationReport r;
  switch (TypeOf(first)) {
    case DataType::kUInt8: r = Passes<std::uint8_t>(frame, grey, write, options).Run(); break;
    case DataType::kUInt16: r = Passes<std::uint16_t>(frame, grey, write, options).Run(); break;
    case DataType::kFloat32: r = Passes<float>(frame, grey, write, options).Run(); break;
  }
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return r;
}

}  // namespace op4d
