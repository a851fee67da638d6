// WorkflowClient: posts one Teams message to a Power Automate workflow
// ("When a Teams webhook request is received") and says how it went.
//
// A send is one POST with Content-Type: application/json; any 2xx is
// success (Power Automate answers 202 Accepted). A 5xx, a 429 or a network
// error is retried once, after a short pause, when the time budget leaves
// room for it; a timeout uses the budget up and is not retried. Other 4xx
// are final (the workflow refuses this message; sending it again cannot
// help).
//
// The URL carries the workflow's signature: no reason this client gives
// contains it (common/redacted_url.h).
//
// Thread-safety: HttpWorkflowClient may be used from several threads at
// once; each Post makes its own connection.

#ifndef PROMEWMA_NOTIFY_WORKFLOW_CLIENT_H_
#define PROMEWMA_NOTIFY_WORKFLOW_CLIENT_H_

#include <chrono>
#include <string>

namespace promewma::notify {

struct DeliveryResult {
  enum class Outcome {
    kAccepted,      // 2xx
    kRejected,      // a non-2xx answer (the last attempt's)
    kTimeout,       // no answer within the budget
    kNetworkError,  // connection refused, reset, TLS failure...
  };
  Outcome outcome = Outcome::kNetworkError;
  int http_status = 0;  // the last answer's status; 0 without one
  int attempts = 0;
  std::string reason;  // one line, for the HTTP error body and the log

  bool ok() const { return outcome == Outcome::kAccepted; }
};

// The seam the relay sends through; tests substitute a fake.
class WorkflowClient {
 public:
  virtual ~WorkflowClient() = default;
  // Posts `json` to `url`, giving up after `budget` in all (retry
  // included). REQUIRES: `url` passed config::ResolveTeamsChannel.
  virtual DeliveryResult Post(const std::string& url, const std::string& json,
                              std::chrono::milliseconds budget) = 0;
};

class HttpWorkflowClient final : public WorkflowClient {
 public:
  DeliveryResult Post(const std::string& url, const std::string& json,
                      std::chrono::milliseconds budget) override;
};

}  // namespace promewma::notify

#endif  // PROMEWMA_NOTIFY_WORKFLOW_CLIENT_H_
