#include "engine/backend.hpp"

#include <cstdlib>

#include "cpu/chunk_kernel.hpp"
#include "kernels/device_chunk.hpp"
#include "tensordiff/error.hpp"
#include "tensordiff/tensordiff.hpp"
#ifdef TENSORDIFF_HAVE_CUDA
#include "kernels/cuda_backend.hpp"
#endif

namespace tensordiff {

namespace {

class CpuBackend final : public ComputeBackend {
 public:
  std::string name() const override { return std::string("cpu (") + cpu_target_name() + ")"; }
  void pair_chunk(const PairParams& p, const uint8_t* a, const uint8_t* b, uint64_t first,
                  uint64_t n, Partial& out) override {
    cpu_pair_chunk(p, a, b, first, n, out);
  }
  void side_chunk(DType type, int first_k, const uint8_t* raw, uint64_t first, uint64_t n,
                  Partial& out) override {
    cpu_side_chunk(type, first_k, raw, first, n, out);
  }
};

}  // namespace

// --simd, else $TENSORDIFF_SIMD, else the best target: set before any worker runs the kernel.
std::string select_simd(const std::string& requested) {
  std::string want = requested;
  const char* env = std::getenv("TENSORDIFF_SIMD");
  const bool from_env = want.empty() && env && *env;
  if (from_env) want = env;
  if (cpu_select_target(want)) return cpu_target_name();
  std::string names;
  for (const auto& t : cpu_targets()) names += (names.empty() ? "" : ", ") + t;
  throw Error(ErrorCode::kUsage, std::string(from_env ? "TENSORDIFF_SIMD" : "--simd") + " '" +
                                     want + "': this CPU and build run " + names + " (or best)");
}

std::string build_info(const std::string& simd) {
  const std::string chosen = select_simd(simd);
  std::string all;
  for (const auto& t : cpu_targets()) all += (all.empty() ? "" : " ") + t;
#ifdef TENSORDIFF_HAVE_CUDA
  const char* cuda = "compiled in";
#else
  const char* cuda = "not built";
#endif
  return std::string("tensordiff ") + version() + "\nsimd: " + chosen + " (this CPU runs " + all +
         ")\ncuda: " + cuda + "\n";
}

std::unique_ptr<ComputeBackend> make_backend(Backend requested, int device, const std::string& simd,
                                             const LogFn& log, std::string* note) {
  select_simd(simd);
  if (requested == Backend::kGpuEmu) {
    auto b = gpu::make_emulator_backend();
    if (log) log("backend: " + b->name());
    return b;
  }
#ifdef TENSORDIFF_HAVE_CUDA
  if (requested == Backend::kCuda) {
    try {
      return make_cuda_backend(device, log);
    } catch (const Error& e) {
      throw Error(ErrorCode::kNoBackend, std::string("--backend cuda: ") + e.what());
    }
  }
  // `auto` stays on the CPU: on an H200 the CUDA backend passes every test (its results equal
  // the emulator's bit for bit) but its kernel reaches 0.05 of the copy bandwidth, and a 2 GiB
  // compare runs 3-6x slower than on the host's 16 cores (bench/results/2026-11-26-gpu-check.md).
  constexpr bool kAutoUsesCuda = false;
  if (requested == Backend::kAuto && kAutoUsesCuda) {
    try {
      return make_cuda_backend(device, log);
    } catch (const Error& e) {
      const std::string why = e.what();
      // No device or no driver is the normal state of a CPU machine, not worth a warning.
      const bool absent = why.find("none found") != std::string::npos ||
                          why.find("no CUDA-capable device") != std::string::npos ||
                          why.find("driver") != std::string::npos;
      if (log) log("backend: CPU (" + why + ")");
      if (note && !absent) *note = "GPU not used, running on the CPU: " + why;
    }
  }
#else
  (void)device;
  (void)note;
  if (requested == Backend::kCuda)
    throw Error(ErrorCode::kNoBackend,
                "--backend cuda: this build of tensordiff has no CUDA backend (nvcc was not "
                "found when it was built); use --backend cpu or auto");
#endif
  auto b = std::make_unique<CpuBackend>();
  if (log) log("backend: " + b->name());
  return b;
}

}  // namespace tensordiff
