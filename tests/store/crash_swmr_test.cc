// Crash safety (a writer killed with SIGKILL mid-append) and live follow (SWMR reader).
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <random>
#include <string>
#include <thread>

#include "frame_pattern.h"
#include "op4d/store/frame_store.h"
#include "test_util.h"

using namespace op4d;

namespace {

struct Child {
  pid_t pid = -1;
  FILE* out = nullptr;
};

Child Spawn(const std::vector<std::string>& args) {
  int fds[2];
  REQUIRE(pipe(fds) == 0);
  Child c;
  c.pid = fork();
  REQUIRE(c.pid >= 0);
  if (c.pid == 0) {
    dup2(fds[1], STDOUT_FILENO);
    close(fds[0]);
    close(fds[1]);
    std::vector<char*> argv;
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    execv(argv[0], argv.data());
    _exit(127);
  }
  close(fds[1]);
  c.out = fdopen(fds[0], "r");
  return c;
}

int Wait(Child& c) {
  int status = 0;
  waitpid(c.pid, &status, 0);
  if (c.out) fclose(c.out);
  c.out = nullptr;
  return status;
}

void RequireIntact(const FrameStore& store, std::int64_t n) {
  const TimeTable tt = store.ReadTimeTable();
  REQUIRE(tt.rows() == n);
  for (std::int64_t k = 0; k < n; ++k) {
    const auto v = std::get<Volume<std::uint16_t>>(store.ReadFrame(k));
    REQUIRE(v.values() == test::PatternFrame(k).values());
    REQUIRE(tt.values[0][std::size_t(k)] == test::PatternTime(k));
  }
}

}  // namespace

TEST_CASE("a writer killed during append leaves every completed frame intact", "[store][crash]") {
  test::TempDir dir;
  const std::string path = dir / "crash.h5";
  std::mt19937 rng(12345);
  for (int trial = 0; trial < 16; ++trial) {
    Child c = Spawn({OP4D_STORE_WRITER_HELPER, path, "0", "100000", "0", "create"});
    const int wait_for = 1 + int(rng() % 8);
    int seen = -1;
    char line[128];
    while (seen + 1 < wait_for && std::fgets(line, sizeof line, c.out)) std::sscanf(line, "committed %d", &seen);
    // Kill somewhere inside a later append (each takes about a millisecond).
    std::this_thread::sleep_for(std::chrono::microseconds(rng() % 3000));
    kill(c.pid, SIGKILL);
    Wait(c);
    INFO("trial " << trial << ": last frame reported committed " << seen);
    REQUIRE(seen >= 0);
    std::int64_t n = 0;
    {
      FrameStore r = FrameStore::OpenRead(path);
      n = r.frame_count();
      REQUIRE(n >= seen + 1);
      RequireIntact(r, n);
    }
    // A new writer recovers (drops any partial frame) and appends after the last complete one.
    {
      FrameStore w = FrameStore::OpenReadWrite(path);
      REQUIRE(w.frame_count() == n);
      StoreOptions opt;
      opt.chunk = {16, 16, 16};
      w.AppendFrame(test::PatternFrame(n), {{"time_s", test::PatternTime(n)}}, {"test"}, opt);
      REQUIRE(w.frame_count() == n + 1);
    }
    FrameStore r = FrameStore::OpenRead(path);
    RequireIntact(r, n + 1);
  }
}

TEST_CASE("a SWMR reader sees frames appended after it opened", "[store][swmr]") {
  test::TempDir dir;
  const std::string path = dir / "live.h5";
  Child first = Spawn({OP4D_STORE_WRITER_HELPER, path, "0", "1", "0", "create"});
  REQUIRE(Wait(first) == 0);
  FrameStore reader = FrameStore::OpenRead(path);
  REQUIRE(reader.frame_count() == 1);
  Child writer = Spawn({OP4D_STORE_WRITER_HELPER, path, "1", "5", "150"});
  std::int64_t seen = 1;
  bool saw_partial = false;  // the reader observed the campaign mid-acquisition
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (seen < 6 && std::chrono::steady_clock::now() < deadline) {
    const std::int64_t n = reader.Refresh();
    for (std::int64_t k = seen; k < n; ++k) {
      const auto v = std::get<Volume<std::uint16_t>>(reader.ReadFrame(k));
      REQUIRE(v.values() == test::PatternFrame(k).values());
    }
    if (n > 1 && n < 6) saw_partial = true;
    seen = n;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  REQUIRE(WEXITSTATUS(Wait(writer)) == 0);
  REQUIRE(seen == 6);
  REQUIRE(saw_partial);
  RequireIntact(reader, 6);
}
