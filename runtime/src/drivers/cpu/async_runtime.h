//===- async_runtime.h - the task pool behind compiled models --*- C++ -*-===//
//
// What the rest of the runtime needs of async_runtime.cpp, the thread pool
// that runs the tasks of compiled models' parallel loops.
//
//===----------------------------------------------------------------------===//

#ifndef SEQC_RUNTIME_DRIVERS_CPU_ASYNC_RUNTIME_H
#define SEQC_RUNTIME_DRIVERS_CPU_ASYNC_RUNTIME_H

namespace seqc::cpu {

/// Waits until the tasks the pool's threads are running now have returned
/// (called before a model library is unloaded: its last tasks may still be
/// executing their final instructions in it after signalling completion).
void waitForRunningTasks();

} // namespace seqc::cpu

#endif // SEQC_RUNTIME_DRIVERS_CPU_ASYNC_RUNTIME_H
