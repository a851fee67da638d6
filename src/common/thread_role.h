// Thread roles: a name for each of promewma's threads, and a lower
// scheduling class for the ones no write request waits on.
//
// On two cores shared with the peers, the slowest percent of writes was
// made of a request's thread being preempted, mid-handler, by a thread
// that had just woken: a write-back sender whose batch deadline had come,
// a pool thread picking up a remote read. Linux's fair scheduler lets a
// waking thread preempt the running one unless the waking thread is
// SCHED_BATCH (or SCHED_IDLE): a batch thread gets the same share of the
// CPU as any other, it only waits for the next tick, or for a core that
// is idle, rather than taking one from a request. So the threads whose
// work is measured in hundreds of milliseconds, or is not waited on at all
// (write-back senders, remote reads, checkpoints, heap trims), run
// SCHED_BATCH, and the event loops that answer writes stay SCHED_OTHER.
//
// The name is what `top -H`, `perf` and /proc/<pid>/task/*/comm show: at
// most 15 characters (longer names are cut).

#ifndef PROMEWMA_COMMON_THREAD_ROLE_H_
#define PROMEWMA_COMMON_THREAD_ROLE_H_

#include <string>

namespace promewma {

enum class ThreadRole {
  kRequest,     // answers requests as they come: keeps the default class
  kBackground,  // SCHED_BATCH: never preempts a running thread on waking
};

// Names the calling thread and puts it in `role`'s scheduling class.
// Best effort: a failure (a seccomp profile that forbids
// sched_setscheduler) leaves the thread as it was, and is not an error.
void SetThisThreadRole(const std::string& name, ThreadRole role);

// The calling thread's scheduling policy (SCHED_OTHER, SCHED_BATCH, ...)
// and name, for tests.
int ThisThreadPolicy();
std::string ThisThreadName();

}  // namespace promewma

#endif  // PROMEWMA_COMMON_THREAD_ROLE_H_
