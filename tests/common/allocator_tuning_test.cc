// The allocator settings promewma runs with: buffers of 1 MiB or more are
// mapped on their own and go back to the kernel when freed, smaller ones
// stay in the heap for reuse. mallinfo2's hblkhd counts the mapped bytes.
//
// AddressSanitizer brings its own allocator, where glibc's settings and
// figures mean nothing: tools/check.sh runs this in the release pass.

#include "common/allocator_tuning.h"

#include <malloc.h>

#include <catch2/catch.hpp>
#include <cstdlib>
#include <cstring>

namespace promewma {
namespace {

// malloc and free that the compiler may not pair up and leave out.
void* volatile kept;
size_t Mapped() { return mallinfo2().hblkhd; }

TEST_CASE("a freed buffer of 1 MiB or more goes back to the kernel at once, a smaller one stays in the heap") {
  TuneAllocatorForLargeBuffers();
  const size_t before = Mapped();

  // A decoded write body or a memtable arena block: 2.7 MB.
  constexpr size_t kLarge = 2'700'000;
  kept = std::malloc(kLarge);
  REQUIRE(kept != nullptr);
  std::memset(kept, 1, kLarge);
  CHECK(Mapped() >= before + kLarge);
  std::free(kept);
  CHECK(Mapped() == before);

  // Just under the threshold: from the heap, and kept there when freed.
  constexpr size_t kSmall = (1 << 20) - 4096;
  kept = std::malloc(kSmall);
  REQUIRE(kept != nullptr);
  std::memset(kept, 1, kSmall);
  CHECK(Mapped() == before);
  std::free(kept);

  // glibc raises its threshold to any mapped buffer's size when that is
  // freed, unless the threshold was set: the next one is mapped as well.
  kept = std::malloc(kLarge);
  REQUIRE(kept != nullptr);
  std::memset(kept, 1, kLarge);
  CHECK(Mapped() >= before + kLarge);
  std::free(kept);
}

}  // namespace
}  // namespace promewma
