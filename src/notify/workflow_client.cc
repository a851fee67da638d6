#include "notify/workflow_client.h"

#include <httplib.h>

#include <thread>

#include "common/one_line.h"
#include "common/redacted_url.h"
#include "remote/url.h"

namespace promewma::notify {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

// Between a failed attempt and the retry: a 429 or a workflow that just
// restarted gets a moment. Short, since Alertmanager waits for the answer.
constexpr milliseconds kRetryPause{250};
// The retry only runs when this much of the budget is left after the
// pause; less would turn most retries into timeouts.
constexpr milliseconds kMinRetryBudget{1000};
// How much of a refusing answer's body goes into the reason.
constexpr size_t kMaxReasonBody = 200;

std::string NetworkReason(httplib::Error error) {
  switch (error) {
    case httplib::Error::Connection:
      return "could not connect";
    case httplib::Error::Read:
      return "the connection failed while reading the answer";
    case httplib::Error::Write:
      return "the connection failed while sending";
    case httplib::Error::SSLConnection:
      return "TLS handshake failed";
    case httplib::Error::SSLServerVerification:
      return "the server's TLS certificate did not verify";
    default:
      break;
  }
  return "network error (" + httplib::to_string(error) + ")";
}

bool Retryable(const DeliveryResult& r) {
  return r.outcome == DeliveryResult::Outcome::kNetworkError ||
         (r.outcome == DeliveryResult::Outcome::kRejected &&
          (r.http_status == 429 || r.http_status >= 500));
}

DeliveryResult PostOnce(const remote::ParsedUrl& url, const std::string& shown,
                        const std::string& json, milliseconds budget) {
  DeliveryResult result;
  httplib::Client client(url.origin);
#ifdef CPPHTTPLIB_OPENSSL_SUPPORT
  // The system CA store (OpenSSL's default paths), as a browser would.
  if (url.https) client.enable_server_certificate_verification(true);
#endif
  const auto sec = static_cast<time_t>(budget.count() / 1000);
  const auto usec = static_cast<time_t>((budget.count() % 1000) * 1000);
  client.set_connection_timeout(sec, usec);
  client.set_read_timeout(sec, usec);
  client.set_write_timeout(sec, usec);
  client.set_keep_alive(false);
  const Clock::time_point start = Clock::now();
  httplib::Result res =
      client.Post(url.target.c_str(), json, "application/json");
  if (!res) {
    const httplib::Error error = res.error();
    // httplib reports a read timeout as a read error; the clock tells.
    const bool timed_out = error == httplib::Error::ConnectionTimeout ||
                           Clock::now() - start >= budget - milliseconds(20);
    result.outcome = timed_out ? DeliveryResult::Outcome::kTimeout
                               : DeliveryResult::Outcome::kNetworkError;
    result.reason = timed_out
                        ? "no answer from the workflow at " + shown +
                              " within " + std::to_string(budget.count()) + "ms"
                        : NetworkReason(error) + " to the workflow at " + shown;
    return result;
  }
  result.http_status = res->status;
  if (res->status >= 200 && res->status < 300) {
    result.outcome = DeliveryResult::Outcome::kAccepted;
    return result;
  }
  result.outcome = DeliveryResult::Outcome::kRejected;
  std::string body = res->body.substr(0, kMaxReasonBody);
  if (res->body.size() > kMaxReasonBody) body += "…";
  result.reason = "the workflow at " + shown + " answered " +
                  std::to_string(res->status) +
                  (body.empty() ? "" : ": " + EscapeToOneLine(body));
  return result;
}

}  // namespace

DeliveryResult HttpWorkflowClient::Post(const std::string& url,
                                        const std::string& json,
                                        milliseconds budget) {
  const std::string shown = RedactedUrl(url);
  Result<remote::ParsedUrl> parsed = remote::ParseUrl(url);
  if (!parsed.ok()) {
    DeliveryResult r;
    r.outcome = DeliveryResult::Outcome::kNetworkError;
    // Not the parser's message, which may quote the URL.
    r.reason = "webhook URL " + shown + " is not a valid http(s) URL";
    return r;
  }
  const Clock::time_point deadline = Clock::now() + budget;
  DeliveryResult result = PostOnce(*parsed, shown, json, budget);
  result.attempts = 1;
  if (!Retryable(result)) return result;
  const auto left = std::chrono::duration_cast<milliseconds>(
      deadline - Clock::now() - kRetryPause);
  if (left < kMinRetryBudget) return result;
  std::this_thread::sleep_for(kRetryPause);
  DeliveryResult retry = PostOnce(*parsed, shown, json, left);
  retry.attempts = 2;
  if (!retry.ok()) retry.reason += " (after a retry)";
  return retry;
}

}  // namespace promewma::notify
