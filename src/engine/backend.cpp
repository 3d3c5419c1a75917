#include "engine/backend.hpp"

#include "tensordiff/error.hpp"

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

std::unique_ptr<ComputeBackend> make_backend(Backend requested, const LogFn& log) {
  if (requested == Backend::kCuda)
    throw Error(ErrorCode::kNoBackend,
                "--backend cuda: this build of tensordiff has no CUDA backend yet; use "
                "--backend cpu or auto");
  auto b = std::make_unique<CpuBackend>();
  if (log) log("backend: " + b->name());
  return b;
}

}  // namespace tensordiff
