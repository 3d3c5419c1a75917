#pragma once
#include <string>

#include "tensordiff/dtype.hpp"
#include "tensordiff/options.hpp"

namespace tensordiff {

// torch.testing's defaults for the less precise of the two dtypes; exact for integers and bool.
Tolerance default_tolerance(DType a, DType b);

// Defaults, then --rtol/--atol, then the last matching --tol rule, then --exact (all zero).
// The defaults of a floating pair follow the run's precision (the looser of its tolerance and
// the pair's own dtypes'); integer and bool pairs are exact.
Tolerance resolve_tolerance(const std::string& name, DType a, DType b, Precision run,
                            const CompareOptions& o);

// Shell-style glob (fnmatch, '*' also matches '/').
bool glob_match(const std::string& pattern, const std::string& name);

// Parses 'GLOB:rtol=X,atol=Y' (either field may be left out). Throws Error(kUsage).
ToleranceRule parse_tolerance_rule(const std::string& spec);

}  // namespace tensordiff
