#include "db/disk_space_guard.h"

#include <sys/statvfs.h>

#include <cerrno>
#include <cstring>

#include "common/log.h"

namespace promewma::db {

namespace {

std::string MiB(uint64_t bytes) {
  // One decimal: a filesystem tens of MiB large reads right.
  char text[32];
  std::snprintf(text, sizeof text, "%.1f MiB",
                static_cast<double>(bytes) / (1 << 20));
  return text;
}

}  // namespace

std::string_view DiskWriteName(DiskWrite what) {
  switch (what) {
    case DiskWrite::kRequest:
      return "write";
    case DiskWrite::kCheckpoint:
      return "checkpoint";
    case DiskWrite::kMaintenance:
      return "maintenance";
    case DiskWrite::kCount:
      break;
  }
  return "unknown";
}

DiskSpaceGuard::DiskSpaceGuard(std::string dir, uint64_t min_free_bytes,
                               FreeSpaceProbe probe)
    : dir_(std::move(dir)), min_free_(min_free_bytes), probe_(std::move(probe)) {}

Result<uint64_t> DiskSpaceGuard::FreeSpaceOf(const std::string& dir) {
  struct statvfs fs;
  if (statvfs(dir.c_str(), &fs) != 0) {
    return Status::Unavailable("statvfs " + dir + ": " + std::strerror(errno));
  }
  return static_cast<uint64_t>(fs.f_bavail) * fs.f_frsize;
}

Result<uint64_t> DiskSpaceGuard::FreeBytes() {
  Result<uint64_t> free = probe_(dir_);
  if (free.ok()) last_free_.store(*free, std::memory_order_relaxed);
  return free;
}

Status DiskSpaceGuard::Check(DiskWrite what) {
  Result<uint64_t> free = FreeBytes();
  if (!free.ok()) return Status::Ok();
  // Checkpoints (which then truncate the request log) and retention give
  // space back: they may use half of the reserve that requests leave.
  const uint64_t needed =
      what == DiskWrite::kRequest ? min_free_ : min_free_ / 2;
  if (*free >= needed) {
    if (what == DiskWrite::kRequest &&
        refusing_.exchange(false, std::memory_order_relaxed)) {
      log::Info("store", "free disk space is back; writes resume",
                {{"data_dir", dir_},
                 {"free_bytes", *free},
                 {"min_free_bytes", min_free_}});
    }
    return Status::Ok();
  }
  refusals_[static_cast<int>(what)].fetch_add(1, std::memory_order_relaxed);
  if (what == DiskWrite::kRequest && !refusing_.exchange(true, std::memory_order_relaxed)) {
    log::Error("store", "free disk space under the reserve; writes refused",
               {{"data_dir", dir_},
                {"free_bytes", *free},
                {"min_free_bytes", min_free_}});
  }
  return Status::Unavailable(
      "no space left under " + dir_ + ": " + MiB(*free) + " free, " +
      std::string(DiskWriteName(what)) + " needs " + MiB(needed) +
      " (limits.min_free_disk_bytes " + MiB(min_free_) +
      "); nothing written, retry once space is freed");
}

}  // namespace promewma::db
