#include "csv2rw/input_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace promewma::csv2rw {

namespace {

std::string Errno(const char* what) {
  return std::string(what) + ": " + std::strerror(errno);
}

}  // namespace

Result<std::unique_ptr<InputFile>> InputFile::Open(const std::string& path) {
  std::unique_ptr<InputFile> file(new InputFile());
  const bool is_stdin = path == "-";
  const int fd = is_stdin ? 0 : open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return errno == ENOENT ? Status::NotFound(Errno("cannot open"))
                           : Status::InvalidArgument(Errno("cannot open"));
  }
  struct stat st;
  if (fstat(fd, &st) != 0) {
    const std::string message = Errno("cannot stat");
    if (!is_stdin) close(fd);
    return Status::InvalidArgument(message);
  }
  if (S_ISDIR(st.st_mode)) {
    close(fd);
    return Status::InvalidArgument("is a directory");
  }
  if (S_ISREG(st.st_mode) && st.st_size > 0) {
    void* map = mmap(nullptr, static_cast<size_t>(st.st_size), PROT_READ,
                     MAP_PRIVATE, fd, 0);
    if (map != MAP_FAILED) {
      // One forward pass: let the kernel read ahead aggressively.
      madvise(map, static_cast<size_t>(st.st_size), MADV_SEQUENTIAL);
      file->map_ = map;
      file->map_size_ = static_cast<size_t>(st.st_size);
      if (!is_stdin) close(fd);
      return file;
    }
  }
  // Pipes, stdin, special files, or a failed mapping: read it all.
  char buf[1 << 16];
  while (true) {
    const ssize_t n = read(fd, buf, sizeof(buf));
    if (n == 0) break;
    if (n < 0) {
      if (errno == EINTR) continue;
      const std::string message = Errno("cannot read");
      if (!is_stdin) close(fd);
      return Status::InvalidArgument(message);
    }
    file->buffer_.append(buf, static_cast<size_t>(n));
  }
  if (!is_stdin) close(fd);
  return file;
}

InputFile::~InputFile() {
  if (map_ != nullptr) munmap(map_, map_size_);
}

}  // namespace promewma::csv2rw
