// InputFile: the whole contents of the CSV file csv2rw reads, in one piece.
//
// A regular file is mapped read-only (one mmap, no copy, the kernel reads
// ahead); anything else (a pipe, "-" for stdin) is read into memory.
//
// Thread-safety: immutable after Open; contents() may be read from any
// thread.

#ifndef PROMEWMA_TOOLS_CSV2RW_INPUT_FILE_H_
#define PROMEWMA_TOOLS_CSV2RW_INPUT_FILE_H_

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

#include "promewma/status.h"

namespace promewma::csv2rw {

class InputFile {
 public:
  // `path` "-" reads stdin. NotFound / InvalidArgument say what failed
  // ("cannot open: No such file or directory", "is a directory").
  static Result<std::unique_ptr<InputFile>> Open(const std::string& path);
  ~InputFile();

  InputFile(const InputFile&) = delete;
  InputFile& operator=(const InputFile&) = delete;

  std::string_view contents() const {
    return map_ != nullptr
               ? std::string_view(static_cast<const char*>(map_), map_size_)
               : std::string_view(buffer_);
  }

 private:
  InputFile() = default;

  void* map_ = nullptr;  // the mapping, or nullptr when buffer_ holds it
  size_t map_size_ = 0;
  std::string buffer_;
};

}  // namespace promewma::csv2rw

#endif  // PROMEWMA_TOOLS_CSV2RW_INPUT_FILE_H_
