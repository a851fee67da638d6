// Remote read of every sample of one metric, decoded with libprotobuf, for
// tests whose translation unit includes prometheus-cpp: its `prometheus`
// namespace clashes with the Prometheus protobuf messages', so the two meet
// only in remote_read_all.cc.

#ifndef PROMEWMA_TESTS_HTTP_REMOTE_READ_ALL_H_
#define PROMEWMA_TESTS_HTTP_REMOTE_READ_ALL_H_

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "http/read_handler.h"

namespace promewma::http {

// `label` value -> the samples of each series named `name`, as a SAMPLES
// remote read of all time through `reader` returns them. Fails the test on
// an error response.
std::map<std::string, std::vector<std::pair<int64_t, double>>> RemoteReadAll(
    const RemoteReadHandler& reader, const std::string& name,
    const std::string& label);

}  // namespace promewma::http

#endif  // PROMEWMA_TESTS_HTTP_REMOTE_READ_ALL_H_
