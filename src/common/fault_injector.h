// FaultInjector: a test seam that lets a test make chosen writes of the
// request log or the store fail, as a full disk or a dying process would,
// or a store read wait, as a slow disk would, or step in between the
// steps of long work.
// Production code passes none.

#ifndef PROMEWMA_COMMON_FAULT_INJECTOR_H_
#define PROMEWMA_COMMON_FAULT_INJECTOR_H_

#include <string_view>

#include "promewma/status.h"

namespace promewma {

class FaultInjector {
 public:
  virtual ~FaultInjector() = default;
  // Called before each write; `what` names it ("log", "chunks",
  // "checkpoint", "checkpoint pointer"). A non-OK status fails the write
  // before anything reaches the disk.
  virtual Status BeforeWrite(std::string_view what) = 0;
  // Called before each read of stored chunks (`what`: "chunks"). It cannot
  // fail the read; it may wait, as a slow disk would, to show what the
  // caller holds meanwhile.
  virtual void BeforeRead(std::string_view what) { (void)what; }
  // Called before each step of work done in steps so that requests go on
  // in between (`what`: "drop idle series"), with no lock of the
  // database's held: a test may send a request there.
  virtual void BetweenSteps(std::string_view what) { (void)what; }
};

}  // namespace promewma

#endif  // PROMEWMA_COMMON_FAULT_INJECTOR_H_
