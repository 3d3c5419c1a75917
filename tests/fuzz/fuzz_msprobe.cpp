// libFuzzer target: msprobe's dump.json is user input, now read as a stream (issue 26: 1 MiB
// blocks, NaN/Infinity quoted on the way, entries built from the parser's events); read_msprobe
// and msprobe_summary must turn any bytes into a dump or one tensordiff::Error line, never crash,
// hang or throw anything else.
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <string>
#include <unordered_set>

#include "io/msprobe/msprobe.hpp"
#include "tensordiff/error.hpp"

namespace {

// One folder for the process; each input overwrites its dump.json.
const std::string& folder() {
  static const std::string dir = [] {
    char tmpl[] = "/tmp/tensordiff_fuzz_msprobe_XXXXXX";
    if (!::mkdtemp(tmpl)) std::abort();
    return std::string(tmpl);
  }();
  return dir;
}

void one_line(const tensordiff::Error& e) {
  // The CLI prints the message as the one error line: it must be one line.
  if (std::string(e.what()).find('\n') != std::string::npos) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  {
    std::ofstream out(folder() + "/dump.json", std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  }
  try {
    const tensordiff::MsprobeDump d = tensordiff::read_msprobe(folder());
    std::unordered_set<std::string> names;
    for (const auto& t : d.tensors)
      if (!names.insert(t.name).second) std::abort();  // names are unique or it threw
  } catch (const tensordiff::Error& e) {
    one_line(e);
  }
  try {
    const tensordiff::SummaryDump s = tensordiff::msprobe_summary(folder());
    if (s.tensors.size() != s.stats.size()) std::abort();
  } catch (const tensordiff::Error& e) {
    one_line(e);
  }
  return 0;
}
