// Example: open a campaign store, print its time table and the mean grey value of a sub-volume of
// every frame. Run: read_campaign CAMPAIGN.h5
#include <cstdio>
#include <variant>

#include "op4d/store/frame_store.h"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: read_campaign CAMPAIGN.h5\n");
    return 2;
  }
  try {
    const op4d::FrameStore store = op4d::FrameStore::OpenRead(argv[1]);
    const auto layout = store.layout();
    if (!layout) return std::printf("no frames\n"), 0;
    const op4d::TimeTable tt = store.ReadTimeTable();
    // The central eighth of the frame, read without loading the rest (a hyperslab of chunks).
    op4d::Box box;
    for (int a = 0; a < 3; ++a) {
      box.size[a] = std::max<std::int64_t>(1, layout->geometry.shape[a] / 2);
      box.begin[a] = layout->geometry.shape[a] / 4;
    }
    std::printf("%5s %10s %12s\n", "frame", "time_s", "mean_grey");
    for (std::int64_t k = 0; k < store.frame_count(); ++k) {
      const op4d::AnyVolume sub = store.ReadRegion(k, box);
      const double mean = std::visit(
          [](const auto& v) {
            double s = 0;
            for (auto x : v.values()) s += double(x);
            return s / double(v.size());
          },
          sub);
      std::printf("%5lld %10.1f %12.3f\n", static_cast<long long>(k), (*tt.Find("time_s"))[std::size_t(k)], mean);
    }
  } catch (const op4d::Error& e) {
    std::fprintf(stderr, "read_campaign: %s\n", e.what());
    return 1;
  }
  return 0;
}
