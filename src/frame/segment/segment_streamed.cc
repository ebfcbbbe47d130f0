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
      t = internal::ForwardModelSupport(o_.refine);
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

std::int64_t RemovePhaseIslandsStreamed(const Geometry& frame, const SlabReader<std::uint8_t>& read,
                                        const BoxWriter<std::uint8_t>& write, std::uint8_t pore_phase,
                                        const DualConnectivity& dual, std::int64_t min_voxels, std::int64_t slab_z,
                                        const std::string& scratch_dir, ThreadBudget threads) {
  std::string why;
  if (!dual.IsValid(&why)) throw ConfigError("connectivity", why);
  if (!frame.IsValid(&why)) throw InvalidArgument("block-wise island removal: frame geometry: " + why);
  if (slab_z < 1) throw InvalidArgument("block-wise island removal: slab_z " + std::to_string(slab_z) + " is not >= 1");
  const Index3 n = frame.shape;
  const std::int64_t plane = n[1] * n[2];
  Volume<std::uint8_t> slab;
  if (min_voxels <= 1) {  // nothing to remove: the input as it is
    for (std::int64_t z0 = 0; z0 < n[0]; z0 += slab_z) {
      const std::int64_t z1 = std::min(n[0], z0 + slab_z);
      ReadSlabChecked(read, frame, z0, z1, slab, "block-wise island removal");
      write(Box{{z0, 0, 0}, slab.shape()}, slab);
    }
    return 0;
  }
  ScratchFile out(scratch_dir, "the cleaned labels");
  // The input copied to the output, and the labels present.
  std::array<bool, 256> present{};
  for (std::int64_t z0 = 0; z0 < n[0]; z0 += slab_z) {
    const std::int64_t z1 = std::min(n[0], z0 + slab_z);
    ReadSlabChecked(read, frame, z0, z1, slab, "block-wise island removal");
    for (std::uint8_t v : slab.values()) present[v] = true;
    out.Write(slab.data(), std::size_t(slab.size()), z0 * plane);
  }
  std::int64_t moved = 0;
  const auto faces = NeighbourOffsets(Connectivity::k6);
  for (int p = 0; p < 256; ++p) {
    if (!present[std::size_t(p)]) continue;
    const std::uint8_t label = std::uint8_t(p);
    const ComponentOptions co{label == pore_phase ? dual.pore : dual.solid, threads};
    const SlabReader<std::uint8_t> mask = [&](std::int64_t z0, std::int64_t z1, Volume<std::uint8_t>& m) {
      ReadSlabChecked(read, frame, z0, z1, m, "block-wise island removal");
      for (auto& v : m.values()) v = v == label;
    };
    std::vector<std::int32_t> small;  // labels of the small components, ascending
    std::vector<std::vector<std::pair<std::uint8_t, std::int64_t>>> votes;  // per small component, sized by `sizes`
    const std::function<void(const StreamedComponents&)> sizes = [&](const StreamedComponents& c) {
      for (const Component& comp : c.components)
        if (comp.voxels < min_voxels) small.push_back(comp.label);
      votes.resize(small.size());
    };
    auto small_index = [&](std::int32_t l) -> std::int64_t {
      const auto it = std::lower_bound(small.begin(), small.end(), l);
      return it != small.end() && *it == l ? std::int64_t(it - small.begin()) : -1;
    };
    // Votes: the faces each small component shares with every other label, on the input labels.
    Volume<std::uint8_t> window;
    const BoxWriter<std::int32_t> vote = [&](const Box& box, const Volume<std::int32_t>& lab) {
      if (small.empty()) return;
      const std::int64_t z0 = box.begin[0], z1 = z0 + box.size[0];
      const std::int64_t w0 = std::max<std::int64_t>(0, z0 - 1), w1 = std::min(n[0], z1 + 1);
      ReadSlabChecked(read, frame, w0, w1, window, "block-wise island removal");
      for (std::int64_t z = z0; z < z1; ++z)
        for (std::int64_t y = 0; y < n[1]; ++y)
          for (std::int64_t x = 0; x < n[2]; ++x) {
            const std::int32_t l = lab((z - z0), y, x);
            if (!l) continue;
            const std::int64_t s = small_index(l);
            if (s < 0) continue;
            for (const auto& f : faces) {
              const std::int64_t zz = z + f[0], yy = y + f[1], xx = x + f[2];
              if (zz < 0 || yy < 0 || xx < 0 || zz >= n[0] || yy >= n[1] || xx >= n[2]) continue;
              const std::uint8_t q = window(zz - w0, yy, xx);
              if (q == label) continue;
              auto& v = votes[std::size_t(s)];
              auto it = std::find_if(v.begin(), v.end(), [&](const auto& e) { return e.first == q; });
              if (it == v.end()) v.push_back({q, 1});
              else ++it->second;
            }
          }
    };
    LabelComponentsStreamed(frame, mask, slab_z, co, &vote, &sizes);
    if (small.empty()) continue;
    std::vector<int> target(small.size(), -1);
    for (std::size_t i = 0; i < small.size(); ++i) {
      std::int64_t best = 0;
      for (const auto& [q, c] : votes[i])  // the most faces; ties: the lower label
        if (c > best || (c == best && best > 0 && int(q) < target[i])) best = c, target[i] = q;
    }
    // Relabelling, into the output.
    const BoxWriter<std::int32_t> relabel = [&](const Box& box, const Volume<std::int32_t>& lab) {
      Volume<std::uint8_t> o(lab.geometry());
      out.Read(o.data(), std::size_t(o.size()), box.begin[0] * plane);
      bool changed = false;
      for (std::int64_t i = 0; i < lab.size(); ++i) {
        if (!lab[i]) continue;
        const std::int64_t s = small_index(lab[i]);
        if (s < 0 || target[std::size_t(s)] < 0) continue;
        o[i] = std::uint8_t(target[std::size_t(s)]);
        ++moved;
        changed = true;
      }
      if (changed) out.Write(o.data(), std::size_t(o.size()), box.begin[0] * plane);
    };
    LabelComponentsStreamed(frame, mask, slab_z, co, &relabel);
  }
  for (std::int64_t z0 = 0; z0 < n[0]; z0 += slab_z) {
    const std::int64_t z1 = std::min(n[0], z0 + slab_z);
    Geometry g = frame;
    g.shape = {z1 - z0, n[1], n[2]};
    g.origin_um[0] += double(z0) * frame.spacing_um[0];
    Volume<std::uint8_t> o(g);
    out.Read(o.data(), std::size_t(o.size()), z0 * plane);
    write(Box{{z0, 0, 0}, g.shape}, o);
  }
  return moved;
}

}  // namespace op4d
