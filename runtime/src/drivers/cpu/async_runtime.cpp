//===- async_runtime.cpp - the task ABI compiled models call --------------===//
//
// `seq-cpu-pipeline` spreads matrix products over threads with MLIR's
// async-parallel-for, whose lowering calls a small C ABI (tokens, groups,
// "execute this coroutine on a worker"). The runtime provides that ABI here,
// over one process-wide thread pool, so model libraries need no MLIR
// library. Semantics follow MLIR's reference implementation: tokens start
// with two references (the producer's is dropped when the token is
// emplaced), groups with one; awaiters run when the state becomes final.
//
//===----------------------------------------------------------------------===//

#include "async_runtime.h"
#include "seqc/runtime.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include <sched.h>

namespace {

struct RefCounted {
  explicit RefCounted(int64_t refs) : refs(refs) {}
  virtual ~RefCounted() = default;
  void addRef(int64_t n = 1) { refs.fetch_add(n); }
  void dropRef(int64_t n = 1) {
    if (refs.fetch_sub(n) == n)
      delete this;
  }
  std::atomic<int64_t> refs;
};

struct Token : RefCounted {
  Token() : RefCounted(2) {}
  std::mutex mu;
  std::condition_variable cv;
  bool ready = false, error = false;
  std::vector<std::function<void()>> awaiters;
};

struct Group : RefCounted {
  explicit Group(int64_t size) : RefCounted(1), pending(size) {}
  std::mutex mu;
  std::condition_variable cv;
  std::atomic<int64_t> pending, rank{0}, errors{0};
  std::vector<std::function<void()>> awaiters;
};

/// Workers that spin briefly before sleeping (a model step dispatches many
/// short tasks back to back, and waking a sleeping thread costs more than
/// the task), plus the calling thread, which runs queued tasks while it
/// waits for a group.
class ThreadPool {
public:
  explicit ThreadPool(unsigned n) {
    for (unsigned i = 0; i < n; ++i)
      workers.emplace_back([this] { loop(); });
  }
  ~ThreadPool() {
    {
      std::lock_guard<std::mutex> lock(mu);
      stop = true;
    }
    cv.notify_all();
    for (std::thread &t : workers)
      t.join();
  }
  void async(std::function<void()> task) {
    {
      std::lock_guard<std::mutex> lock(mu);
      tasks.push_back(std::move(task));
      queued.fetch_add(1);
    }
    cv.notify_one();
  }
  /// Runs one queued task on the calling thread, if there is one.
  bool tryRunOne() {
    std::function<void()> task;
    {
      std::lock_guard<std::mutex> lock(mu);
      if (tasks.empty())
        return false;
      task = std::move(tasks.front());
      tasks.pop_front();
      queued.fetch_sub(1);
    }
    run(task);
    return true;
  }

  /// Waits until every task that some thread was running when this was
  /// called has returned. A model's last task signals its group or token
  /// before it returns, so the thread that awaited it can go on (and unload
  /// the model) while that task still executes its last instructions in
  /// the model's code; unloading waits here first. Tasks started later
  /// (another model's) are not waited for.
  void waitForRunningTasks() {
    std::vector<std::pair<std::shared_ptr<Slot>, uint64_t>> running;
    {
      std::lock_guard<std::mutex> lock(slotsMu);
      for (const std::shared_ptr<Slot> &slot : slots) {
        uint64_t started = slot->started.load();
        if (slot->finished.load() != started)
          running.emplace_back(slot, started);
      }
    }
    for (auto &[slot, started] : running)
      while (slot->finished.load() < started)
        std::this_thread::yield();
  }
  /// Threads that run tasks: the workers and a waiting caller.
  int64_t size() const { return (int64_t)workers.size() + 1; }

private:
  /// What a thread running tasks has started and finished (counts).
  struct Slot {
    std::atomic<uint64_t> started{0}, finished{0};
  };

  /// This thread's slot, registered on its first task.
  std::shared_ptr<Slot> &slot() {
    thread_local std::shared_ptr<Slot> mine;
    if (!mine) {
      mine = std::make_shared<Slot>();
      std::lock_guard<std::mutex> lock(slotsMu);
      slots.push_back(mine);
    }
    return mine;
  }

  void run(std::function<void()> &task) {
    Slot &s = *slot();
    s.started.fetch_add(1);
    task();
    s.finished.fetch_add(1);
  }

  void loop() {
    while (true) {
      for (int spin = 0; spin < 20000 && queued.load() == 0 && !stopping();
           ++spin)
        std::this_thread::yield();
      std::function<void()> task;
      {
        std::unique_lock<std::mutex> lock(mu);
        cv.wait(lock, [this] { return stop || !tasks.empty(); });
        if (stop && tasks.empty())
          return;
        task = std::move(tasks.front());
        tasks.pop_front();
        queued.fetch_sub(1);
      }
      run(task);
    }
  }
  bool stopping() {
    std::lock_guard<std::mutex> lock(mu);
    return stop;
  }
  std::vector<std::thread> workers;
  std::deque<std::function<void()>> tasks;
  std::atomic<int64_t> queued{0};
  std::mutex mu;
  std::condition_variable cv;
  bool stop = false;
  std::mutex slotsMu;
  std::vector<std::shared_ptr<Slot>> slots;
};

} // namespace

int seqc_thread_count(void) {
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0)
    return CPU_COUNT(&set);
  return (int)std::max(1u, std::thread::hardware_concurrency());
}

namespace {

ThreadPool &pool() {
  // The caller of a parallel loop works too: one worker fewer than cores.
  static ThreadPool p(seqc_thread_count() - 1);
  return p;
}

void setTokenState(Token *token, bool error) {
  {
    std::lock_guard<std::mutex> lock(token->mu);
    token->ready = true;
    token->error = error;
    token->cv.notify_all();
    for (auto &awaiter : token->awaiters)
      awaiter();
    token->awaiters.clear();
  }
  // The producer's reference.
  token->dropRef();
}

} // namespace

void seqc::cpu::waitForRunningTasks() { pool().waitForRunningTasks(); }

#define SEQC_ASYNC_EXPORT extern "C" __attribute__((visibility("default")))

using CoroHandle = void *;
using CoroResume = void (*)(void *);

SEQC_ASYNC_EXPORT void mlirAsyncRuntimeAddRef(void *obj, int64_t n) {
  static_cast<RefCounted *>(obj)->addRef(n);
}

SEQC_ASYNC_EXPORT void mlirAsyncRuntimeDropRef(void *obj, int64_t n) {
  static_cast<RefCounted *>(obj)->dropRef(n);
}

SEQC_ASYNC_EXPORT void *mlirAsyncRuntimeCreateToken() { return new Token; }

SEQC_ASYNC_EXPORT void *mlirAsyncRuntimeCreateGroup(int64_t size) {
  return new Group(size);
}

SEQC_ASYNC_EXPORT int64_t mlirAsyncRuntimeAddTokenToGroup(void *t, void *g) {
  auto *token = static_cast<Token *>(t);
  auto *group = static_cast<Group *>(g);
  std::unique_lock<std::mutex> lockToken(token->mu);
  std::unique_lock<std::mutex> lockGroup(group->mu);
  int64_t rank = group->rank.fetch_add(1);
  auto onReady = [group, token]() {
    if (token->error)
      group->errors.fetch_add(1);
    if (group->pending.fetch_sub(1) == 1) {
      group->cv.notify_all();
      for (auto &awaiter : group->awaiters)
        awaiter();
      group->awaiters.clear();
    }
  };
  if (token->ready) {
    onReady();
  } else {
    // Keep the group alive until the token is ready.
    group->addRef();
    token->awaiters.emplace_back([group, onReady]() {
      {
        std::lock_guard<std::mutex> lock(group->mu);
        onReady();
      }
      group->dropRef();
    });
  }
  return rank;
}

SEQC_ASYNC_EXPORT void mlirAsyncRuntimeEmplaceToken(void *t) {
  setTokenState(static_cast<Token *>(t), false);
}

SEQC_ASYNC_EXPORT void mlirAsyncRuntimeSetTokenError(void *t) {
  setTokenState(static_cast<Token *>(t), true);
}

SEQC_ASYNC_EXPORT bool mlirAsyncRuntimeIsTokenError(void *t) {
  auto *token = static_cast<Token *>(t);
  std::lock_guard<std::mutex> lock(token->mu);
  return token->error;
}

SEQC_ASYNC_EXPORT bool mlirAsyncRuntimeIsGroupError(void *g) {
  return static_cast<Group *>(g)->errors.load() > 0;
}

SEQC_ASYNC_EXPORT void mlirAsyncRuntimeAwaitToken(void *t) {
  auto *token = static_cast<Token *>(t);
  std::unique_lock<std::mutex> lock(token->mu);
  token->cv.wait(lock, [token] { return token->ready; });
}

SEQC_ASYNC_EXPORT void mlirAsyncRuntimeAwaitAllInGroup(void *g) {
  auto *group = static_cast<Group *>(g);
  // Help with the queued tasks (they are this group's, mostly), then wait:
  // spinning first, since the other threads' shares of a product end soon
  // and waking a sleeping caller costs more than that.
  while (group->pending.load() != 0 && pool().tryRunOne()) {
  }
  for (int spin = 0; spin < 20000 && group->pending.load() != 0; ++spin)
    std::this_thread::yield();
  if (group->pending.load() == 0)
    return;
  std::unique_lock<std::mutex> lock(group->mu);
  group->cv.wait(lock, [group] { return group->pending.load() == 0; });
}

SEQC_ASYNC_EXPORT void mlirAsyncRuntimeExecute(CoroHandle handle,
                                               CoroResume resume) {
  pool().async([handle, resume]() { resume(handle); });
}

SEQC_ASYNC_EXPORT void mlirAsyncRuntimeAwaitTokenAndExecute(void *t,
                                                            CoroHandle handle,
                                                            CoroResume resume) {
  auto *token = static_cast<Token *>(t);
  std::unique_lock<std::mutex> lock(token->mu);
  if (token->ready) {
    lock.unlock();
    resume(handle);
    return;
  }
  token->awaiters.emplace_back([handle, resume]() { resume(handle); });
}

SEQC_ASYNC_EXPORT void
mlirAsyncRuntimeAwaitAllInGroupAndExecute(void *g, CoroHandle handle,
                                          CoroResume resume) {
  auto *group = static_cast<Group *>(g);
  std::unique_lock<std::mutex> lock(group->mu);
  if (group->pending.load() == 0) {
    lock.unlock();
    resume(handle);
    return;
  }
  group->awaiters.emplace_back([handle, resume]() { resume(handle); });
}

// MLIR's lowering calls this name (sic).
SEQC_ASYNC_EXPORT int64_t mlirAsyncRuntimGetNumWorkerThreads() {
  return pool().size();
}

SEQC_ASYNC_EXPORT void mlirAsyncRuntimePrintCurrentThreadId() {
  std::printf("thread %zu\n",
              std::hash<std::thread::id>()(std::this_thread::get_id()));
}
