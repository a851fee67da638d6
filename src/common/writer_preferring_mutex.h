// A reader-writer mutex that lets a waiting writer in before new readers.
//
// std::shared_mutex on glibc is a pthread rwlock of the default kind, which
// prefers readers: a new reader gets the lock while a writer waits. One
// remote read takes the database's lock shared once per series it reads,
// back to back, so the lock was almost never free and a write request
// waited for most of a read (tens of milliseconds in tools/soak.sh). With
// this kind, a reader arriving while a writer waits queues behind it.
//
// Not recursive for readers: a thread holding it shared must not take it
// shared again (it would wait for a writer that waits for it).
//
// Meets the SharedMutex requirements, for std::unique_lock and
// std::shared_lock.

#ifndef PROMEWMA_COMMON_WRITER_PREFERRING_MUTEX_H_
#define PROMEWMA_COMMON_WRITER_PREFERRING_MUTEX_H_

#include <pthread.h>

#include <cstdlib>

namespace promewma {

class WriterPreferringMutex {
 public:
  WriterPreferringMutex() {
    pthread_rwlockattr_t attr;
    pthread_rwlockattr_init(&attr);
    pthread_rwlockattr_setkind_np(&attr,
                                  PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
    if (pthread_rwlock_init(&lock_, &attr) != 0) std::abort();
    pthread_rwlockattr_destroy(&attr);
  }
  ~WriterPreferringMutex() { pthread_rwlock_destroy(&lock_); }
  WriterPreferringMutex(const WriterPreferringMutex&) = delete;
  WriterPreferringMutex& operator=(const WriterPreferringMutex&) = delete;

  // Failures here are misuse (unlocking what is not held, a deadlock the
  // implementation detects), never a condition to handle.
  void lock() {
    if (pthread_rwlock_wrlock(&lock_) != 0) std::abort();
  }
  bool try_lock() { return pthread_rwlock_trywrlock(&lock_) == 0; }
  void unlock() { pthread_rwlock_unlock(&lock_); }

  void lock_shared() {
    if (pthread_rwlock_rdlock(&lock_) != 0) std::abort();
  }
  bool try_lock_shared() { return pthread_rwlock_tryrdlock(&lock_) == 0; }
  void unlock_shared() { pthread_rwlock_unlock(&lock_); }

 private:
  pthread_rwlock_t lock_;
};

}  // namespace promewma

#endif  // PROMEWMA_COMMON_WRITER_PREFERRING_MUTEX_H_
