// Child process for the crash-safety and SWMR tests:
//   store_writer_helper PATH FIRST COUNT DELAY_MS [create|hold]
// appends frames FIRST..FIRST+COUNT-1 (PatternFrame) and prints "committed k" after each. With hold,
// it first prints "open" and keeps the store open for writing (its structure, not SWMR) for DELAY_MS.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>

#include "frame_pattern.h"
#include "op4d/store/frame_store.h"

int main(int argc, char** argv) {
  if (argc < 5) return 2;
  const std::string path = argv[1];
  const long first = std::atol(argv[2]), count = std::atol(argv[3]), delay = std::atol(argv[4]);
  const bool create = argc > 5 && std::string(argv[5]) == "create";
  const bool hold = argc > 5 && std::string(argv[5]) == "hold";
  try {
    op4d::FrameStore store = create ? op4d::FrameStore::Create(path, true) : op4d::FrameStore::OpenReadWrite(path);
    if (hold) {
      std::printf("open\n");
      std::fflush(stdout);
      std::this_thread::sleep_for(std::chrono::milliseconds(delay));
    }
    op4d::StoreOptions opt;
    opt.chunk = {16, 16, 16};
    for (long k = first; k < first + count; ++k) {
      store.AppendFrame(op4d::test::PatternFrame(k), {{"time_s", op4d::test::PatternTime(k)}, {"voltage_V", 3.0 + 0.01 * k}},
                        {"test", "store_writer_helper", "{}", ""}, opt);
      std::printf("committed %ld\n", k);
      std::fflush(stdout);
      if (delay > 0 && !hold) std::this_thread::sleep_for(std::chrono::milliseconds(delay));
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s\n", e.what());
    return 1;
  }
  return 0;
}
