// libFuzzer target: option values that users type (and scripts generate): --tol rules,
// name globs, --map regexes. Bad ones give Error(kUsage); none may crash or take more than
// linear time (globs are matched without backtracking, --map uses RE2).
#include <cstdint>
#include <cstdlib>
#include <sstream>
#include <string>
#include <vector>

#include "engine/matcher.hpp"
#include "engine/tolerance.hpp"
#include "tensordiff/error.hpp"

using namespace tensordiff;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // Fields separated by newlines: tol rule, glob, name, map regex, map replacement, names...
  std::vector<std::string> f;
  std::stringstream ss(std::string(reinterpret_cast<const char*>(data), size));
  for (std::string line; std::getline(ss, line) && f.size() < 16;) f.push_back(line);
  f.resize(std::max<size_t>(f.size(), 6));
  try {
    parse_tolerance_rule(f[0]);
  } catch (const Error& e) {
    if (e.code() != ErrorCode::kUsage) std::abort();
  }
  glob_match(f[1], f[2]);
  std::vector<TensorInfo> a, b;
  for (size_t i = 5; i < f.size(); ++i) {
    TensorInfo t;
    t.name = f[i];
    t.order = a.size();
    a.push_back(t);
    b.push_back(t);
  }
  CompareOptions o;
  o.maps.emplace_back(f[3], f[4]);
  o.include.push_back(f[1]);
  try {
    match_tensors(a, b, o);
  } catch (const Error& e) {
    if (e.code() != ErrorCode::kUsage) std::abort();
  }
  return 0;
}
