#include "op4d/core/parallel.h"

#include <tbb/parallel_for.h>
#include <tbb/task_arena.h>

#include "test_util.h"

using namespace op4d;

TEST_CASE("the thread budget limits the arena", "[core]") {
  const int seen = RunInArena(ThreadBudget{1}, [] { return tbb::this_task_arena::max_concurrency(); });
  REQUIRE(seen == 1);
  REQUIRE(ThreadBudget{3}.Resolve() == 3);
  REQUIRE(ThreadBudget{0}.Resolve() >= 1);
}
