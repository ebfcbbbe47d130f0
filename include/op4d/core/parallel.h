// One threading runtime: TBB, with the thread budget passed in, never global (STYLE.md §9).
#pragma once

#include <tbb/task_arena.h>

#include <utility>

namespace op4d {

// Number of worker threads a kernel may use. 0 means "all cores of this machine".
struct ThreadBudget {
  int threads = 0;
  int Resolve() const {
    return threads > 0 ? threads : tbb::this_task_arena::max_concurrency();
  }
};

// Runs f inside a task arena limited to the budget; TBB algorithms called from f stay in it.
template <class F>
decltype(auto) RunInArena(ThreadBudget budget, F&& f) {
  tbb::task_arena arena(budget.Resolve());
  return arena.execute(std::forward<F>(f));
}

}  // namespace op4d
