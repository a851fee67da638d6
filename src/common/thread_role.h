// Thread roles: a name for each of promewma's threads, and a lower
// scheduling class for the ones no write request waits on.
//
// On two cores shared with the peers, the slowest percent of writes was
// made of a request's thread being preempted, mid-handler, by a thread
// that had just woken (a write-back sender whose batch deadline had come,
// a pool thread picking up a remote read), or of a request's thread woken
// onto a core busy with a remote read while the other core was idle.
//
// Linux's fair scheduler lets a waking thread preempt the running one
// unless the waking thread is SCHED_BATCH or SCHED_IDLE. A batch thread
// gets the same share of the CPU as any other; it only waits for the next
// tick, or for a core that is idle, rather than taking one from a request.
// An idle-class thread gives way to every other: a request's thread waking
// preempts it at once, and the kernel counts a core that runs only such
// threads as idle when it places a woken thread.
//
// Remote reads and /federate (tens to hundreds of milliseconds of a core)
// and the write-back senders (a batch encoded and sent every deadline) run
// SCHED_IDLE: in the soak, the senders in the batch class put the write
// p99 at 4.0-4.9 ms, in the idle class at 3.1-3.4. Their locks that a
// write also takes (the database's, to copy one series' unstored chunks;
// a shard queue's, to take a batch; the acknowledgement map's) are held
// for microseconds. The price is that under a saturated CPU they get what
// the writes leave: reads slow down, and the write-back backlog grows
// until admission makes the writes wait for it.
//
// The threads that can hold a lock a write waits on for long run
// SCHED_BATCH: the checkpoint holds the ingest lock while it drops idle
// series, and the heap trimmer holds malloc's arena locks while it trims.
// Starving them would starve the writes behind them.
//
// A class decides who gets a core when threads wake, not who keeps one:
// long work in the lower classes (a read's series, a checkpoint's
// records, a sender's batch, snappy fragments) calls YieldIfDue between
// its steps, so that a request's thread queued behind it waits a step,
// not a tick.
//
// The name is what `top -H`, `perf` and /proc/<pid>/task/*/comm show: at
// most 15 characters (longer names are cut).

#ifndef PROMEWMA_COMMON_THREAD_ROLE_H_
#define PROMEWMA_COMMON_THREAD_ROLE_H_

#include <chrono>
#include <cstdint>
#include <string>

namespace promewma {

enum class ThreadRole {
  kRequest,     // answers requests as they come: keeps the default class
  kBackground,  // SCHED_BATCH: never preempts a running thread on waking
  kIdle,        // SCHED_IDLE: gives way to every other thread
};

// Names the calling thread and puts it in `role`'s scheduling class.
// Best effort: a failure (a seccomp profile that forbids
// sched_setscheduler) leaves the thread as it was, and is not an error.
void SetThisThreadRole(const std::string& name, ThreadRole role);

// The calling thread's scheduling policy (SCHED_OTHER, SCHED_BATCH, ...)
// and name, for tests.
int ThisThreadPolicy();
std::string ThisThreadName();

// Gives the calling thread's core to a thread waiting for it, if the
// caller is a kBackground or kIdle thread that has not done so for the
// yield interval (kYieldInterval unless set); a no-op on a kRequest
// thread, so that code shared with requests can call it. Long work in the
// lower classes calls it between short steps (a series, a 64 KiB
// fragment), never while holding a lock a request takes.
//
// Why: Linux preempts a running thread at a tick (4 ms at HZ=250, the
// kernel measured), not when a thread on the same core's queue becomes
// due, and a thread of a lower class that the scheduler has picked keeps
// its core until then, idle class included (the idle class only loses its
// core to a thread *waking* on it). A request's thread waiting in that
// queue, or preempted to it, lost up to a tick: in soak traces the query
// pool, the senders and the checkpoint made about half of what the
// slowest percent's event loop waited for. A yield with nobody waiting
// costs 1.3 us there: under 1% of the interval.
void YieldIfDue();
inline constexpr std::chrono::microseconds kYieldInterval{200};

// For tests: the yield interval (0: every call yields), and how many times
// lower-class threads have yielded in this process.
void SetYieldInterval(std::chrono::microseconds interval);
uint64_t BackgroundYields();

}  // namespace promewma

#endif  // PROMEWMA_COMMON_THREAD_ROLE_H_
