// Progress reporting for long operations: a bar with ETA on a terminal, plain lines in logs/CI.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <iosfwd>
#include <mutex>
#include <string>

namespace op4d {

enum class ProgressStyle {
  kAuto,   // bar if the stream is a terminal (and CI is unset), lines otherwise
  kBar,    // one line redrawn in place, with rate and ETA
  kLines,  // a plain line at every 10 % (and at the end), for logs
  kOff,
};

// Thread-safe: Advance() may be called from TBB workers. Output is throttled.
class Progress {
 public:
  Progress(std::string label, std::int64_t total, ProgressStyle style = ProgressStyle::kAuto,
           std::ostream* out = nullptr /* std::cerr */);
  ~Progress();  // calls Finish()
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;

  void Advance(std::int64_t n = 1);
  void Finish();
  std::int64_t done() const { return done_.load(); }

  // Text of the status line for `done` of `total` after `elapsed_s` (exposed for tests).
  static std::string FormatLine(const std::string& label, std::int64_t done, std::int64_t total,
                                double elapsed_s, bool bar);

 private:
  void Print(bool final);
  std::string label_;
  std::int64_t total_;
  ProgressStyle style_;
  std::ostream* out_;
  std::atomic<std::int64_t> done_{0};
  std::mutex mutex_;
  std::chrono::steady_clock::time_point start_;
  std::chrono::steady_clock::time_point last_print_;
  int last_decile_ = 0;
  int exceptions_at_start_ = 0;  // no final line when the operation is abandoned by an exception
  bool finished_ = false;
};

}  // namespace op4d
