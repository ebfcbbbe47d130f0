#include "op4d/core/progress.h"

#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <iostream>

namespace op4d {
namespace {
std::string Duration(double s) {
  char buf[32];
  if (!std::isfinite(s) || s < 0) return "--";
  if (s < 60) std::snprintf(buf, sizeof buf, "%.0fs", s);
  else if (s < 3600) std::snprintf(buf, sizeof buf, "%dm%02ds", int(s) / 60, int(s) % 60);
  else std::snprintf(buf, sizeof buf, "%dh%02dm", int(s) / 3600, (int(s) % 3600) / 60);
  return buf;
}
}  // namespace

Progress::Progress(std::string label, std::int64_t total, ProgressStyle style, std::ostream* out)
    : label_(std::move(label)), total_(total), style_(style), out_(out ? out : &std::cerr) {
  if (style_ == ProgressStyle::kAuto) {
    const bool tty = out_ == &std::cerr && isatty(STDERR_FILENO) && std::getenv("CI") == nullptr;
    style_ = tty ? ProgressStyle::kBar : ProgressStyle::kLines;
  }
  start_ = last_print_ = std::chrono::steady_clock::now();
  exceptions_at_start_ = std::uncaught_exceptions();
}

Progress::~Progress() {
  if (std::uncaught_exceptions() > exceptions_at_start_) return;  // failed: the error says why
  try {
    Finish();
  } catch (...) {
  }
}

std::string Progress::FormatLine(const std::string& label, std::int64_t done, std::int64_t total,
                                 double elapsed_s, bool bar) {
  const double frac = total > 0 ? std::min(1.0, double(done) / double(total)) : 1.0;
  const double eta = frac > 0 ? elapsed_s * (1.0 - frac) / frac : NAN;
  char buf[256];
  std::string b;
  if (bar) {
    const int width = 24, filled = int(std::lround(frac * width));
    b = "[" + std::string(filled, '#') + std::string(width - filled, '.') + "] ";
  }
  std::snprintf(buf, sizeof buf, "%s: %s%3.0f%% (%lld/%lld) elapsed %s, ETA %s", label.c_str(), b.c_str(),
                100.0 * frac, static_cast<long long>(done), static_cast<long long>(total),
                Duration(elapsed_s).c_str(), done >= total ? "0s" : Duration(eta).c_str());
  return buf;
}

void Progress::Advance(std::int64_t n) {
  const std::int64_t d = done_.fetch_add(n) + n;
  if (style_ == ProgressStyle::kOff) return;
  std::unique_lock<std::mutex> lock(mutex_, std::try_to_lock);
  if (!lock.owns_lock() || finished_) return;
  const auto now = std::chrono::steady_clock::now();
  if (style_ == ProgressStyle::kBar) {
    if (now - last_print_ < std::chrono::milliseconds(100) && d < total_) return;
  } else {
    const int decile = total_ > 0 ? int(10 * d / total_) : 10;
    if (decile == last_decile_ || d >= total_) return;  // the final line comes from Finish()
    last_decile_ = decile;
  }
  last_print_ = now;
  Print(false);
}

void Progress::Print(bool final) {
  const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  const std::string line = FormatLine(label_, done_.load(), total_, elapsed, style_ == ProgressStyle::kBar);
  if (style_ == ProgressStyle::kBar) *out_ << '\r' << line << "\x1b[K" << (final ? "\n" : "") << std::flush;
  else *out_ << line << '\n' << std::flush;
}

void Progress::Finish() {
  std::lock_guard<std::mutex> lock(mutex_);
  if (finished_) return;
  finished_ = true;
  if (style_ != ProgressStyle::kOff) Print(true);
}

}  // namespace op4d
