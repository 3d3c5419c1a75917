// Compares two arrays and one HDF5 dump with itself through the installed library and
// prints what it found: the consumer test checks the output.
#include <cstdio>
#include <vector>

#include "tensordiff/tensordiff.hpp"

int main(int argc, char** argv) {
  std::vector<float> a(1000, 1.0f), b(1000, 1.0f);
  b[7] = 2.0f;
  tensordiff::CompareOptions o;
  const tensordiff::Report r = tensordiff::compare_arrays(
      {{"x", tensordiff::DType::kF32, {1000}, a.data(), ""}},
      {{"x", tensordiff::DType::kF32, {1000}, b.data(), ""}}, o);
  std::printf("arrays: %s, %llu mismatches\n", r.summary.first_divergence.value_or("none").c_str(),
              static_cast<unsigned long long>(r.tensors.at(0).diff->mismatches));
  if (argc > 1) {  // a dump: read through the installed HDF5 helper
    const tensordiff::Report d = tensordiff::compare(argv[1], argv[1], o);
    std::printf("dump: %llu matched\n", static_cast<unsigned long long>(d.summary.matched));
  }
  return 0;
}
