// libFuzzer target: summary files (JSON and JSON lines) are user input; parse_summary must
// turn any bytes into a SummaryDump or one tensordiff::Error line, never crash or hang.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "io/summary/summary_source.hpp"
#include "tensordiff/error.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  try {
    const tensordiff::SummaryDump d = tensordiff::parse_summary(text, "fuzz.json");
    if (d.tensors.size() != d.stats.size()) std::abort();
    for (size_t i = 0; i < d.tensors.size(); ++i)
      if (d.tensors[i].order != i) std::abort();
  } catch (const tensordiff::Error& e) {
    // The CLI prints the message as the one error line: it must be one line.
    if (std::string(e.what()).find('\n') != std::string::npos) std::abort();
  }
  return 0;
}
