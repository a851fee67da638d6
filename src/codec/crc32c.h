// CRC-32C (Castagnoli polynomial 0x1EDC6F41, reflected 0x82F63B78), the
// checksum of the remote-read chunked frame format (src/codec/chunked_frame.h)
// and of Go's crc32.MakeTable(crc32.Castagnoli), which Prometheus uses there.
//
// The value is the standard one (RFC 3720 appendix B.4): initial register
// ~0, final xor ~0, so Crc32c("123456789") == 0xE3069283. It is extendable:
//
//   Crc32c(b, Crc32c(a)) == Crc32c(a + b)
//
// which is what leveldb's crc32c::Extend and Go's crc32.Update do.
//
// On x86-64 CPUs with SSE4.2 the CRC32 instruction is used (chosen once, at
// first call, with __builtin_cpu_supports); elsewhere a slicing-by-8 table
// implementation. Both give identical results.
//
// Thread-safety: pure functions; safe from any thread.

#ifndef PROMEWMA_CODEC_CRC32C_H_
#define PROMEWMA_CODEC_CRC32C_H_

#include <cstdint>
#include <string_view>

namespace promewma::codec {

// CRC-32C of `data`, continuing from `crc`, the CRC-32C of everything before
// it (0 for a fresh checksum).
uint32_t Crc32c(std::string_view data, uint32_t crc = 0);

// The two implementations behind Crc32c, exposed so that tests can check one
// against the other. Same contract as Crc32c.
namespace crc32c_internal {

uint32_t Software(std::string_view data, uint32_t crc);
// True when this CPU has SSE4.2 (and so Hardware may be called).
bool HardwareAvailable();
// REQUIRES: HardwareAvailable()
uint32_t Hardware(std::string_view data, uint32_t crc);

}  // namespace crc32c_internal
}  // namespace promewma::codec

#endif  // PROMEWMA_CODEC_CRC32C_H_
