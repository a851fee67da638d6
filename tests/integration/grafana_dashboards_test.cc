// The shipped Grafana dashboards (deploy/grafana/dashboards) against a real
// Prometheus 2.42 holding real data: node_exporter scraped, its CPU
// recorded by the shipped rule, remote-written to promewma, the band
// written back; promewma's self-metrics scraped. Grafana itself is not
// packaged for Debian bookworm, so this test sends each query the way
// Grafana would: its variables substituted ($job, $instance regex-escaped
// as Grafana escapes a multi-value variable, $__interval,
// $__rate_interval, $__range), as a range query over the dashboard's
// time range or, for a panel that asks for it, an instant query.
//
// The set-up is the shipped one: deploy/prometheus/prometheus.yml and its
// rules file, deploy/docker/promewma.yml (the config docker-compose.yml
// runs), each with only its addresses and intervals changed for the test.

#include <httplib.h>
#include <stdlib.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <chrono>
#include <cmath>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "testing/peers.h"
#include "testing/teams_sink.h"

namespace promewma {
namespace {

using namespace std::chrono_literals;

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  INFO(path);
  REQUIRE(in.good());
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string Shipped(const std::string& relative) {
  return ReadFile(std::string(PROMEWMA_SOURCE_DIR) + "/" + relative);
}

// `text` with every `from` replaced by `to`; fails the running test unless
// there were exactly `count` of them, so a change to the shipped file
// that this test does not follow is noticed.
std::string ReplaceAll(std::string text, const std::string& from,
                       const std::string& to, int count) {
  int n = 0;
  for (size_t at = text.find(from); at != std::string::npos;
       at = text.find(from, at + to.size())) {
    text.replace(at, from.size(), to);
    ++n;
  }
  INFO("\"" << from << "\" in the shipped file");
  REQUIRE(n == count);
  return text;
}

// One query a dashboard sends to Prometheus.
struct DashboardQuery {
  std::string where;  // "promewma.json: panel 8 (Remote read latency) A"
  std::string expr;   // as in the dashboard, variables not yet substituted
  enum class Kind { kRange, kInstant, kLabelValues } kind = Kind::kRange;
  std::string step = "2s";  // range queries: Grafana's step for the panel
  // A query of ALERTS only has data while an alert fires, which a healthy
  // pipeline does not make happen: it must parse, and may be empty.
  bool may_be_empty = false;
};

std::vector<DashboardQuery> QueriesOf(const std::string& file,
                                      const nlohmann::json& dashboard) {
  std::vector<DashboardQuery> out;
  auto add = [&](const std::string& where, const std::string& expr,
                 DashboardQuery::Kind kind, const std::string& step) {
    DashboardQuery q;
    q.where = file + ": " + where;
    q.expr = expr;
    q.kind = kind;
    q.step = step;
    q.may_be_empty = expr.find("ALERTS") != std::string::npos;
    out.push_back(q);
  };
  for (const auto& panel : dashboard.at("panels")) {
    for (const auto& target : panel.value("targets", nlohmann::json::array())) {
      add("panel " + std::to_string(panel.at("id").get<int>()) + " (" +
              panel.at("title").get<std::string>() + ") " +
              target.at("refId").get<std::string>(),
          target.at("expr"),
          target.value("instant", false) ? DashboardQuery::Kind::kInstant
                                         : DashboardQuery::Kind::kRange,
          "2s");
    }
  }
  for (const auto& a : dashboard.at("annotations").at("list")) {
    if (a.contains("expr")) {
      add("annotation " + a.at("name").get<std::string>(), a.at("expr"),
          DashboardQuery::Kind::kRange, a.value("step", "60s"));
    }
  }
  for (const auto& v : dashboard.at("templating").at("list")) {
    if (v.at("type") == "query") {
      add("variable " + v.at("name").get<std::string>(),
          v.at("query").at("query"), DashboardQuery::Kind::kLabelValues, "");
    }
  }
  return out;
}

// Grafana's regex escaping of a multi-value variable's value inside a
// PromQL string: each regex metacharacter gets a backslash, and the
// backslash itself is doubled for the string literal.
std::string GrafanaRegexEscape(const std::string& value) {
  std::string out;
  for (char c : value) {
    if (std::string("\\^$*+?.()|{}[]").find(c) != std::string::npos) {
      out += "\\\\";
    }
    out += c;
  }
  return out;
}

// expr with the dashboard's and Grafana's variables replaced; fails the
// running test when one is left that this test does not know.
std::string Substitute(std::string expr,
                       const std::map<std::string, std::string>& values) {
  // Longest names first, so $__interval does not eat $__interval_ms.
  std::vector<std::pair<std::string, std::string>> ordered(values.begin(),
                                                           values.end());
  std::sort(ordered.begin(), ordered.end(), [](const auto& a, const auto& b) {
    return a.first.size() > b.first.size();
  });
  for (const auto& [name, value] : ordered) {
    for (const std::string& form : {"${" + name + "}", "$" + name}) {
      for (size_t at = expr.find(form); at != std::string::npos;
           at = expr.find(form, at + value.size())) {
        expr.replace(at, form.size(), value);
      }
    }
  }
  INFO(expr);
  REQUIRE(expr.find('$') == std::string::npos);
  return expr;
}

// What one run of a query found.
struct Outcome {
  bool parsed = false;    // Prometheus answered 200 with status success
  bool has_data = false;  // at least one finite value (or label value)
  std::string detail;     // Prometheus' answer, for the failure message
};

bool AnyFinite(const nlohmann::json& values) {
  for (const auto& pair : values) {
    if (std::isfinite(std::stod(pair.at(1).get<std::string>()))) return true;
  }
  return false;
}

Outcome Run(const testing::Peer& prometheus, const DashboardQuery& q,
            const std::string& expr, int64_t start_s, int64_t end_s,
            const std::string& expected_label_value) {
  httplib::Client c("127.0.0.1", prometheus.port());
  c.set_read_timeout(20, 0);
  static const std::regex kLabelValues(R"(label_values\((.+),\s*(\w+)\)\s*)");
  auto send = [&]() -> httplib::Result {
    std::smatch m;
    if (q.kind == DashboardQuery::Kind::kLabelValues) {
      REQUIRE(std::regex_match(expr, m, kLabelValues));
      return c.Get("/api/v1/label/" + m[2].str() + "/values",
                   httplib::Params{{"match[]", m[1].str()},
                                   {"start", std::to_string(start_s)},
                                   {"end", std::to_string(end_s)}},
                   httplib::Headers{});
    }
    if (q.kind == DashboardQuery::Kind::kInstant) {
      return c.Post("/api/v1/query",
                    httplib::Params{{"query", expr},
                                    {"time", std::to_string(end_s)}});
    }
    return c.Post("/api/v1/query_range",
                  httplib::Params{{"query", expr},
                                  {"start", std::to_string(start_s)},
                                  {"end", std::to_string(end_s)},
                                  {"step", q.step}});
  };
  httplib::Result r = send();
  Outcome out;
  if (!r) {
    out.detail = "no answer: " + httplib::to_string(r.error());
    return out;
  }
  out.detail = std::to_string(r->status) + " " + r->body.substr(0, 600);
  if (r->status != 200) return out;
  const nlohmann::json body = nlohmann::json::parse(r->body);
  out.parsed = body.at("status") == "success";
  const nlohmann::json& data = body.at("data");
  if (q.kind == DashboardQuery::Kind::kLabelValues) {
    for (const auto& v : data) out.has_data |= v == expected_label_value;
  } else if (q.kind == DashboardQuery::Kind::kInstant) {
    for (const auto& s : data.at("result")) {
      out.has_data |= AnyFinite(nlohmann::json::array({s.at("value")}));
    }
  } else {
    for (const auto& s : data.at("result")) {
      out.has_data |= AnyFinite(s.at("values"));
    }
  }
  return out;
}

int64_t NowSeconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

TEST_CASE("every query of the shipped Grafana dashboards parses and returns "
          "data from Prometheus 2.42 fed by node_exporter and promewma's "
          "write-back") {
  const auto started = std::chrono::steady_clock::now();
  auto node = testing::StartNodeExporter(
      {"--collector.disable-defaults", "--collector.cpu"});
  const std::string rules =
      Shipped("deploy/prometheus/rules/promewma.rules.yml");
  auto prometheus = testing::StartPrometheus(
      "global: {scrape_interval: 1m}\n", {"--web.enable-remote-write-receiver"},
      {{"promewma.rules.yml", rules}});

  // deploy/docker/promewma.yml, writing back to this Prometheus. The Teams
  // relay's workflow URLs come from the environment, as docker-compose.yml
  // passes them; the relay's counters exist from the start, so its panel
  // has data without a notification. A checkpoint every 2s gives the
  // checkpoint-age panel one to show within the test.
  testing::TeamsSink sink;
  ::setenv("TEAMS_WORKFLOW_URL", sink.url("/workflows/default").c_str(), 1);
  ::setenv("TEAMS_DATABASE_WORKFLOW_URL",
           sink.url("/workflows/database").c_str(), 1);
  testing::PromewmaOptions options;
  options.config = ReplaceAll(Shipped("deploy/docker/promewma.yml"),
                              "http://127.0.0.1:9090", prometheus->url(), 1) +
                   "checkpoint_interval: 2s\n";
  auto promewma = testing::StartPromewma(options);
  ::unsetenv("TEAMS_WORKFLOW_URL");
  ::unsetenv("TEAMS_DATABASE_WORKFLOW_URL");

  // deploy/prometheus/prometheus.yml with the test's addresses (its header
  // comment names them too), a 1s scrape and evaluation interval, and its
  // rules file beside it. Alertmanager is not started: no alert fires.
  std::string config = Shipped("deploy/prometheus/prometheus.yml");
  config = ReplaceAll(config, "scrape_interval: 15s", "scrape_interval: 1s", 1);
  config = ReplaceAll(config, "evaluation_interval: 15s",
                      "evaluation_interval: 1s", 1);
  config = ReplaceAll(config, "127.0.0.1:9100", node->address(), 2);
  config = ReplaceAll(config, "127.0.0.1:9201", promewma->address(), 4);
  config = ReplaceAll(config, "rules/promewma.rules.yml", "promewma.rules.yml",
                      1);
  prometheus->Stop();
  prometheus->WriteFile("prometheus.yml", config);
  prometheus->Start();

  struct Dashboard {
    std::string file;
    std::string job;
    std::string instance;
  };
  const std::vector<Dashboard> dashboards = {
      {"cpu-anomaly-thresholds.json", "node", node->address()},
      {"promewma.json", "promewma", promewma->address()}};

  struct Pending {
    DashboardQuery query;
    std::string expr;
    std::string expected_label_value;  // label_values: the value to find
    Outcome last;
  };
  // Grafana's time range and intervals for the queries: the last 10
  // minutes (before Prometheus started, so its remote_read asks promewma
  // and the read latency panel has reads to show), a 2s step, and
  // $__rate_interval = max($__interval + scrape interval, 4 x scrape
  // interval) with the test's 1s scrape.
  constexpr int64_t kRangeSeconds = 600;
  std::vector<Pending> pending;
  for (const Dashboard& d : dashboards) {
    const nlohmann::json dashboard = nlohmann::json::parse(
        Shipped("deploy/grafana/dashboards/" + d.file));
    const std::map<std::string, std::string> values = {
        {"job", d.job},
        {"instance", GrafanaRegexEscape(d.instance)},
        {"__interval", "2s"},
        {"__interval_ms", "2000"},
        {"__rate_interval", "4s"},
        {"__range", std::to_string(kRangeSeconds) + "s"},
        {"__range_s", std::to_string(kRangeSeconds)},
        {"__range_ms", std::to_string(kRangeSeconds * 1000)}};
    for (const DashboardQuery& q : QueriesOf(d.file, dashboard)) {
      Pending p;
      p.query = q;
      p.expr = Substitute(q.expr, values);
      if (q.kind == DashboardQuery::Kind::kLabelValues) {
        // label_values(METRIC, job) lists the job; (..., instance) the
        // instance: the values the other queries are run with.
        p.expected_label_value =
            q.expr.find(", job)") != std::string::npos ? d.job : d.instance;
      }
      pending.push_back(p);
    }
  }
  REQUIRE(pending.size() >= 20);

  // Every query runs until it has data, within a bounded wait: the band
  // needs min_samples (10) recorded samples, each remote-written and the
  // derived ones written back, a few seconds each way.
  const auto deadline = started + 58s;
  std::vector<Pending> done;
  while (true) {
    const int64_t now = NowSeconds();
    std::vector<Pending> still;
    for (Pending& p : pending) {
      p.last = Run(*prometheus, p.query, p.expr, now - kRangeSeconds, now,
                   p.expected_label_value);
      if (p.last.parsed && (p.last.has_data || p.query.may_be_empty)) {
        done.push_back(p);
      } else {
        still.push_back(p);
      }
    }
    pending = std::move(still);
    if (pending.empty() || std::chrono::steady_clock::now() > deadline) break;
    std::this_thread::sleep_for(1s);
  }

  for (const Pending& p : done) {
    INFO(p.query.where << ": " << p.expr);
    CHECK(p.last.parsed);
  }
  for (const Pending& p : pending) {
    INFO(p.query.where << ": " << p.expr << "\n  -> " << p.last.detail);
    CHECK(p.last.parsed);
    CHECK(p.last.has_data);
  }
  INFO(promewma->StderrTail());
  CHECK(pending.empty());
  REQUIRE(promewma->Stop() == 0);
}

}  // namespace
}  // namespace promewma
