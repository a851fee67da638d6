#include "ewma/estimator_params.h"

namespace promewma::ewma {

std::string_view OutputSuffix(Output output) {
  switch (output) {
    case Output::kEwma:
      return ":ewma";
    case Output::kUpperThreshold:
      return ":upper_threshold";
    case Output::kLowerThreshold:
      return ":lower_threshold";
    case Output::kStddev:
      return ":stddev";
    case Output::kAnomalyScore:
      return ":anomaly_score";
  }
  return "";
}

std::string_view OutputName(Output output) {
  return OutputSuffix(output).substr(1);
}

}  // namespace promewma::ewma
