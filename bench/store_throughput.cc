// Store write/read throughput for one 512³ uint16 frame, per codec, against a raw write of the same
// bytes on the same disk (write() in 1 MiB blocks + fsync, i.e. `dd bs=1M conv=fsync`).
//
//   op4d_bench_store [--dir DIR] [--edge N] [--repeat R] [--threads T]
//
// The frame is a synthetic electrode (SNR 10, blur, partial volume) rendered at N/2 and tiled 2x2x2:
// each 64³ chunk holds rendered content, so compression behaves as on a full-size render.
// Writes include closing the store and fsync; reads are full-frame reads after a fresh open.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "op4d/store/frame_store.h"
#include "op4d/synth/campaign.h"

using namespace op4d;
using Clock = std::chrono::steady_clock;

namespace {

double Seconds(Clock::time_point a) { return std::chrono::duration<double>(Clock::now() - a).count(); }

void FsyncPath(const std::string& p) {
  const int fd = ::open(p.c_str(), O_RDONLY);
  if (fd >= 0) {
    ::fsync(fd);
    ::close(fd);
  }
}

// Drops the page cache if allowed (root on a real machine); returns whether it worked.
bool DropCaches() {
  ::sync();
  const int fd = ::open("/proc/sys/vm/drop_caches", O_WRONLY);
  if (fd < 0) return false;
  const bool ok = ::write(fd, "3\n", 2) == 2;
  ::close(fd);
  return ok;
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  std::string dir = ".";
  std::int64_t edge = 512;
  int repeat = 3, threads = 0;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string a = argv[i];
    if (a == "--dir") dir = argv[i + 1];
    else if (a == "--edge") edge = std::atoll(argv[i + 1]);
    else if (a == "--repeat") repeat = std::atoi(argv[i + 1]);
    else if (a == "--threads") threads = std::atoi(argv[i + 1]);
  }
  // Frame: render half-size, tile 2x2x2.
  SynthOptions so;
  so.shape = {edge / 2, edge / 2, edge / 2};
  so.spacing_um = {0.5, 0.5, 0.5};
  so.frames = 1;
  so.radius_um = 4.0;
  const auto t_render = Clock::now();
  const SynthFrame fr = SynthCampaign(so).Render(0, ThreadBudget{threads});
  const auto& half = std::get<Volume<std::uint16_t>>(fr.grey);
  Geometry g;
  g.shape = {edge, edge, edge};
  g.spacing_um = so.spacing_um;
  Volume<std::uint16_t> frame(g);
  const std::int64_t h = edge / 2;
  for (std::int64_t z = 0; z < edge; ++z)
    for (std::int64_t y = 0; y < edge; ++y)
      for (std::int64_t x = 0; x < edge; ++x) frame(z, y, x) = half(z % h, y % h, x % h);
  const double mb = double(frame.size()) * 2 / 1e6;
  std::printf("# frame %lld^3 uint16 (%.1f MB), rendered in %.1f s; %d repeats, median; threads %d\n",
              static_cast<long long>(edge), mb, Seconds(t_render), repeat, ThreadBudget{threads}.Resolve());
  const bool cold = DropCaches();
  std::printf("# reads: %s page cache\n", cold ? "cold (dropped before each read)" : "warm (cannot drop caches here)");

  // Raw reference.
  const std::string raw = dir + "/op4d_bench_raw.bin";
  std::vector<double> wr, rd, rd_reused;
  Volume<std::uint16_t> reused(g);  // a buffer kept across reads (streaming)
  for (int r = 0; r < repeat; ++r) {
    const auto t = Clock::now();
    const int fd = ::open(raw.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    const char* p = reinterpret_cast<const char*>(frame.data());
    const std::size_t n = std::size_t(frame.size()) * 2, bs = 1 << 20;
    for (std::size_t off = 0; off < n; off += bs)
      if (::write(fd, p + off, std::min(bs, n - off)) < 0) return 1;
    ::fsync(fd);
    ::close(fd);
    wr.push_back(mb / Seconds(t));
    // Raw reads into a fresh volume (timed with its allocation, as ReadFrame) and into a reused one.
    auto read_raw = [&](char* into) {
      const int fd2 = ::open(raw.c_str(), O_RDONLY);
      for (std::size_t off = 0; off < n;) {
        const ssize_t got = ::read(fd2, into + off, std::min(bs, n - off));
        if (got <= 0) std::exit(1);
        off += std::size_t(got);
      }
      ::close(fd2);
    };
    if (cold) DropCaches();
    const auto t2 = Clock::now();
    {
      Volume<std::uint16_t> fresh(g);
      read_raw(reinterpret_cast<char*>(fresh.data()));
      rd.push_back(mb / Seconds(t2));
    }
    if (cold) DropCaches();
    const auto t3 = Clock::now();
    read_raw(reinterpret_cast<char*>(reused.data()));
    rd_reused.push_back(mb / Seconds(t3));
  }
  ::unlink(raw.c_str());
  const double raw_w = Median(wr), raw_r = Median(rd), raw_rr = Median(rd_reused);
  std::printf("\n| codec | ratio | write MB/s | write / raw write | read MB/s (new volume) | read / raw read | read MB/s (reused buffer) | read / raw read |\n");
  std::printf("|---|---|---|---|---|---|---|---|\n");
  std::printf("| raw file (dd-style) | 1.00 | %.0f | 1.00 | %.0f | 1.00 | %.0f | 1.00 |\n", raw_w, raw_r, raw_rr);
  for (Codec c : {Codec::kNone, Codec::kGzip, Codec::kBloscZstd, Codec::kBloscLz4}) {
    const std::string path = dir + "/op4d_bench_" + ToString(c) + ".h5";
    std::vector<double> w, rr, rr_reused;
    AnyVolume into = Volume<std::uint16_t>(g);
    double ratio = 0;
    for (int r = 0; r < repeat; ++r) {
      const auto t = Clock::now();
      {
        FrameStore s = FrameStore::Create(path, true);
        StoreOptions opt;
        opt.codec = c;
        opt.threads = ThreadBudget{threads};
        s.AppendFrame(frame, {{"time_s", 0.0}}, {"bench"}, opt);
      }
      FsyncPath(path);
      w.push_back(mb / Seconds(t));
      struct stat st;
      ::stat(path.c_str(), &st);
      ratio = mb * 1e6 / double(st.st_size);
      if (cold) DropCaches();
      const auto t2 = Clock::now();
      const FrameStore s = FrameStore::OpenRead(path);
      const AnyVolume v = s.ReadFrame(0, ThreadBudget{threads});
      rr.push_back(mb / Seconds(t2));
      if (std::memcmp(RawData(v), frame.data(), std::size_t(frame.size()) * 2) != 0) {
        std::fprintf(stderr, "read-back differs for %s\n", ToString(c));
        return 1;
      }
      if (cold) DropCaches();
      const auto t3 = Clock::now();
      s.ReadRegionInto(0, Box{{0, 0, 0}, g.shape}, into, ThreadBudget{threads});
      rr_reused.push_back(mb / Seconds(t3));
    }
    ::unlink(path.c_str());
    const double cw = Median(w), cr = Median(rr), crr = Median(rr_reused);
    std::printf("| %s | %.2f | %.0f | %.2f | %.0f | %.2f | %.0f | %.2f |\n", ToString(c), ratio, cw, cw / raw_w, cr,
                cr / raw_r, crr, crr / raw_rr);
  }
  return 0;
}
