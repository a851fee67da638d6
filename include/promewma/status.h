// Status and Result<T>: how every promewma module reports failure.
//
// A Status is either OK or a code plus a one-line message meant for a human
// (it ends up verbatim in HTTP error bodies and log lines, so it names what
// was wrong and where). Modules never throw across their boundaries; they
// return a Status or a Result<T>, and the HTTP layer maps codes to status
// codes in one place (src/http/status_mapping.h).
//
// Thread-safety: values; safe to copy between threads.

#ifndef PROMEWMA_STATUS_H_
#define PROMEWMA_STATUS_H_

#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace promewma {

enum class StatusCode {
  kOk = 0,
  kInvalidArgument,       // bad input; retrying the same input cannot help
  kTooLarge,              // input over a configured size limit
  kUnsupportedMediaType,  // wrong Content-Type or Content-Encoding
  kNotFound,
  kResourceExhausted,  // a limit is full now; retry later may succeed
  kUnavailable,        // transient; retry later
  kCorruption,         // stored data failed a check
  kInternal,
};

class [[nodiscard]] Status {
 public:
  Status() = default;  // OK

  static Status Ok() { return Status(); }
  static Status InvalidArgument(std::string msg) {
    return Status(StatusCode::kInvalidArgument, std::move(msg));
  }
  static Status TooLarge(std::string msg) {
    return Status(StatusCode::kTooLarge, std::move(msg));
  }
  static Status UnsupportedMediaType(std::string msg) {
    return Status(StatusCode::kUnsupportedMediaType, std::move(msg));
  }
  static Status NotFound(std::string msg) {
    return Status(StatusCode::kNotFound, std::move(msg));
  }
  static Status ResourceExhausted(std::string msg) {
    return Status(StatusCode::kResourceExhausted, std::move(msg));
  }
  static Status Unavailable(std::string msg) {
    return Status(StatusCode::kUnavailable, std::move(msg));
  }
  static Status Corruption(std::string msg) {
    return Status(StatusCode::kCorruption, std::move(msg));
  }
  static Status Internal(std::string msg) {
    return Status(StatusCode::kInternal, std::move(msg));
  }

  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }

  // "INVALID_ARGUMENT: message" style rendering, for logs and tests.
  std::string ToString() const;

 private:
  Status(StatusCode code, std::string msg)
      : code_(code), message_(std::move(msg)) {}

  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

// Either a value or a non-OK Status.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : data_(std::move(value)) {}  // NOLINT: implicit by design
  Result(Status status) : data_(std::move(status)) {}  // NOLINT
  // REQUIRES: !status.ok() for the Status constructor.

  bool ok() const { return std::holds_alternative<T>(data_); }
  const Status& status() const {
    static const Status kOk;
    return ok() ? kOk : std::get<Status>(data_);
  }
  // REQUIRES: ok()
  T& value() & { return std::get<T>(data_); }
  const T& value() const& { return std::get<T>(data_); }
  T&& value() && { return std::get<T>(std::move(data_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

 private:
  std::variant<T, Status> data_;
};

std::string_view StatusCodeName(StatusCode code);

}  // namespace promewma

#endif  // PROMEWMA_STATUS_H_
