// libFuzzer target: .npy headers (files, .npz members, msprobe dumps) are user input.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "io/numpy/npy.hpp"
#include "tensordiff/error.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    const tensordiff::NpyHeader h = tensordiff::parse_npy_header(data, size, "fuzz.npy");
    if (h.data_offset > size || h.shape.size() > 64) std::abort();
  } catch (const tensordiff::Error& e) {
    if (std::string(e.what()).find('\n') != std::string::npos) std::abort();
  }
  return 0;
}
