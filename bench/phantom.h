// A labelled volume (0 pore, 1 active, 2 binder; e.g. the real NMC cathode) rendered through the
// synthetic campaign's detector (grey values, PSF and noise of `so`, at SNR `snr`) without sub-voxel
// partial volume: its labels are the truth. Shared by the segmentation and uncertainty benchmarks.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "op4d/core/volume.h"
#include "op4d/io/import.h"
#include "op4d/synth/campaign.h"

namespace op4d::bench {

// Reads the labels of `path` (the first frame op4d imports from it); false with `why` naming the file
// and the value at fault when it is not uint8 labels 0..2.
inline bool LoadPhantom(const std::string& path, PhaseVolume* labels, std::string* why) {
  AnyVolume v;
  try {
    v = OpenInput(path, ImportOptions{})->ReadFrame(0);
  } catch (const std::exception& e) {
    *why = e.what();
    return false;
  }
  auto* l = std::get_if<PhaseVolume>(&v);
  if (!l) {
    *why = path + ": a phantom must hold uint8 labels 0 pore, 1 active, 2 binder";
    return false;
  }
  for (std::int64_t i = 0; i < l->size(); ++i)
    if ((*l)[i] > 2) {
      *why = path + ": label " + std::to_string(int((*l)[i])) + " at voxel " + std::to_string(i) +
             "; a phantom holds 0 pore, 1 active, 2 binder";
      return false;
    }
  *labels = std::move(*l);
  return true;
}

inline AnyVolume RenderPhantom(const PhaseVolume& labels, const SynthOptions& so, double snr, int threads) {
  const double grey_of[3] = {so.grey_pore, so.grey_active, so.grey_binder};
  std::vector<float> g(std::size_t(labels.size()));
  for (std::int64_t i = 0; i < labels.size(); ++i) g[std::size_t(i)] = float(grey_of[labels[i]]);
  return Detect(g, labels.geometry(), so.blur_sigma_vox, snr > 0 ? (so.grey_active - so.grey_pore) / snr : 0.0, so.seed, 0,
                so.dtype, {threads});
}

}  // namespace op4d::bench
