// Every value of every narrow dtype through the CPU kernel, on every SIMD target, against the
// core's rules (docs/design.md §4): the kernel keeps vector versions of them where they are
// faster (the float32/bfloat16 loaders, the bins of block_fast-inl.h and block_general-inl.h,
// the ULP loop's finite mask), and this holds each to the one definition in src/core/
// (element.hpp's decoders, bins.hpp's magnitude_bin, ulp.hpp's distance).
//
// Each value goes through both passes: the fast one (a whole block of it) and the general one
// (a block with a non-finite neighbour); on one side (stats), and in pairs with its neighbour
// (last bit flipped) and with its negation (the ULP across zero).
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "core/bins.hpp"
#include "core/element.hpp"
#include "core/ulp.hpp"
#include "cpu/chunk_kernel.hpp"
#include "cpu/per_target.hpp"

namespace tdtest {
namespace {

using namespace tensordiff;

struct Narrow {
  DType t;
  uint64_t sign;      // the sign bit (0 for unsigned types)
  uint64_t nonfinite;  // +inf where the type has it, else NaN
};
const Narrow kNarrow[] = {
    {DType::kF16, 0x8000, 0x7c00},  {DType::kBF16, 0x8000, 0x7f80}, {DType::kF8E4M3, 0x80, 0x7f},
    {DType::kF8E5M2, 0x80, 0x7c},   {DType::kI8, 0x80, 0},           {DType::kU8, 0, 0},
};

std::vector<uint8_t> bytes_of(DType t, const std::vector<uint64_t>& raw) {
  const size_t es = dtype_size(t);
  std::vector<uint8_t> out(raw.size() * es);
  for (size_t i = 0; i < raw.size(); ++i)  // little-endian host: the low bytes
    for (size_t k = 0; k < es; ++k) out[i * es + k] = static_cast<uint8_t>(raw[i] >> (8 * k));
  return out;
}

// The core's value of every raw value of a dtype (each is looked up thousands of times).
struct Core {
  DType t;
  std::vector<double> value;
  explicit Core(DType type) : t(type), value(size_t(1) << (8 * dtype_size(type))) {
    for (size_t r = 0; r < value.size(); ++r) value[r] = decode::decode_raw(t, r);
  }

  // What the core's rules say of one side's elements.
  SideExact side(const std::vector<uint64_t>& raw, size_t first_k) const {
    SideExact e;
    e.count = raw.size();
    for (size_t i = 0; i < raw.size(); ++i) {
      const double v = value[raw[i]];
      if (v != 0 || std::isnan(v)) {
        ++e.nonzero;
        if (e.first_nonzero.size() < first_k) e.first_nonzero.push_back({i, v});
      }
      if (std::isnan(v)) ++e.nan;
      else if (v == INFINITY) ++e.pos_inf;
      else if (v == -INFINITY) ++e.neg_inf;
      if (!std::isfinite(v)) continue;
      ++e.finite;
      ++e.mag_hist.counts[magnitude_bin(v)];
      e.min = min_signed(e.min, v);
      e.max = max_signed(e.max, v);
    }
    return e;
  }

  DiffExact diff(const std::vector<uint64_t>& ra, const std::vector<uint64_t>& rb) const {
    DiffExact d;
    const int es = static_cast<int>(dtype_size(t));
    for (size_t i = 0; i < ra.size(); ++i) {
      d.bits_differ += ra[i] != rb[i];
      const double a = value[ra[i]], b = value[rb[i]];
      if (!std::isfinite(a) || !std::isfinite(b)) continue;
      ++d.finite_pairs;
      ++d.err_hist.counts[magnitude_bin(std::fabs(b - a))];
      d.max_ulp = std::max(d.max_ulp, ulp_distance(t, ra[i], rb[i], es));
    }
    return d;
  }
};

bool same_value(double x, double y) { return bits_of(x) == bits_of(y) || (std::isnan(x) && std::isnan(y)); }
std::string str(double x) { return std::to_string(x); }

// The first difference between the kernel's side and the core's, or "".
std::string side_differs(const SideExact& got, const SideExact& want) {
  if (got.nonzero != want.nonzero) return "nonzero";
  if (got.nan != want.nan || got.pos_inf != want.pos_inf || got.neg_inf != want.neg_inf) return "nan/inf counts";
  if (got.finite != want.finite) return "finite";
  if (want.finite && !(same_value(got.min, want.min) && same_value(got.max, want.max)))
    return "min/max " + str(got.min) + " " + str(got.max) + " want " + str(want.min) + " " + str(want.max);
  if (got.mag_hist.counts != want.mag_hist.counts) return "mag_hist";
  if (got.first_nonzero.size() != want.first_nonzero.size()) return "first_nonzero count";
  for (size_t i = 0; i < want.first_nonzero.size(); ++i)
    if (got.first_nonzero[i].flat_index != want.first_nonzero[i].flat_index ||
        !same_value(got.first_nonzero[i].value, want.first_nonzero[i].value))
      return "decoded " + str(got.first_nonzero[i].value) + " want " + str(want.first_nonzero[i].value);
  return "";
}

std::string side_check(const Core& core, const std::vector<uint64_t>& raw) {
  const std::vector<uint8_t> bytes = bytes_of(core.t, raw);
  Partial out;
  cpu_side_chunk(core.t, static_cast<int>(raw.size()), bytes.data(), 0, raw.size(), out);
  return side_differs(out.a, core.side(raw, raw.size()));
}

std::string pair_check(const Core& core, const std::vector<uint64_t>& ra, const std::vector<uint64_t>& rb) {
  const std::vector<uint8_t> a = bytes_of(core.t, ra), b = bytes_of(core.t, rb);
  PairParams p;
  p.type_a = p.type_b = core.t;  // first_k 5: side_check has seen every decoded value
  Partial out;
  cpu_pair_chunk(p, a.data(), b.data(), 0, ra.size(), out);
  std::string why = side_differs(out.a, core.side(ra, p.first_k));
  if (why.empty()) why = side_differs(out.b, core.side(rb, p.first_k));
  if (!why.empty()) return why;
  const DiffExact want = core.diff(ra, rb);
  if (out.d.finite_pairs != want.finite_pairs) return "finite_pairs";
  if (out.d.bits_differ != want.bits_differ) return "bits_differ";
  if (out.d.max_ulp != want.max_ulp)
    return "max_ulp " + std::to_string(out.d.max_ulp) + " want " + std::to_string(want.max_ulp);
  if (out.d.err_hist.counts != want.err_hist.counts) return "err_hist";
  return "";
}

// One value's blocks of a pair: a whole block against its neighbour (the fast pass), or a
// block against its negation with a non-finite element on each side, facing the value (the
// general pass; neither pair may count towards max_ulp).
void append_pair(const Narrow& k, uint64_t r, bool general, std::vector<uint64_t>& ra, std::vector<uint64_t>& rb) {
  ra.insert(ra.end(), kBlockElems, r);
  rb.insert(rb.end(), kBlockElems, general ? r ^ k.sign : r ^ 1);
  if (!general) return;
  ra[ra.size() - 2] = k.nonfinite;
  rb.back() = k.nonfinite;
}

class NarrowValues : public PerTarget {};

TEST_P(NarrowValues, EveryValueDecodesBinsAndMeasuresAsTheCoreSays) {
  // Pairs go kBatch values (blocks) to a chunk: the 56 KB joint histogram each call clears
  // would otherwise take most of the time. A batch that differs is retried value by value.
  constexpr uint64_t kBatch = 256;
  for (const Narrow& k : kNarrow) {
    const Core core(k.t);
    const uint64_t count = core.value.size();
    for (uint64_t r = 0; r < count; ++r) {  // one side, each value in a chunk of its own
      std::string why = side_check(core, std::vector<uint64_t>(kBlockElems, r));
      if (why.empty()) why = side_check(core, {r, r, r, k.nonfinite});
      ASSERT_EQ(why, "") << dtype_name(k.t) << " raw 0x" << std::hex << r;
    }
    for (bool general : {false, true})
      for (uint64_t first = 0; first < count; first += kBatch) {
        std::vector<uint64_t> ra, rb;
        for (uint64_t r = first; r < first + kBatch && r < count; ++r) append_pair(k, r, general, ra, rb);
        const std::string why = pair_check(core, ra, rb);
        if (why.empty()) continue;
        for (uint64_t r = first; r < first + kBatch && r < count; ++r) {
          ra.clear();
          rb.clear();
          append_pair(k, r, general, ra, rb);
          ASSERT_EQ(pair_check(core, ra, rb), "") << dtype_name(k.t) << " raw 0x" << std::hex << r;
        }
        FAIL() << dtype_name(k.t) << " values from 0x" << std::hex << first << ": " << why;
      }
  }
}

TD_PER_TARGET(NarrowValues);

}  // namespace
}  // namespace tdtest
