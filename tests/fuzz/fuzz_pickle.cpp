// libFuzzer target: data.pkl of a PyTorch checkpoint is user input; the restricted unpickler
// must build the object tree or throw one Error, never crash, hang or run anything.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "io/torch/pickle.hpp"
#include "tensordiff/error.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::vector<uint8_t> bytes(data, data + size);
  try {
    const tensordiff::Pickle p = tensordiff::unpickle_state_dict(bytes, "fuzz.pt");
    if (p.root == nullptr) std::abort();
  } catch (const tensordiff::Error& e) {
    if (std::string(e.what()).find('\n') != std::string::npos) std::abort();
  }
  return 0;
}
