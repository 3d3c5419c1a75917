// Runs a test once per SIMD target compiled into the kernel that this CPU can run, forcing the
// target through the same switch users have (TENSORDIFF_SIMD / --simd): an AVX-512 machine
// then also tests AVX2, SSE4, SSSE3 and the portable EMU128 path, so a bug that lives in one
// target's code (lane count, masks, ops emulated differently) cannot hide behind the best one.
#pragma once
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "cpu/chunk_kernel.hpp"

namespace tdtest {

class PerTarget : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    ASSERT_TRUE(tensordiff::cpu_select_target(GetParam())) << GetParam();
    ASSERT_EQ(std::string(tensordiff::cpu_target_name()), GetParam());
  }
  void TearDown() override { tensordiff::cpu_select_target("best"); }
};

inline std::string target_test_name(const ::testing::TestParamInfo<std::string>& info) {
  return info.param;
}

}  // namespace tdtest

// Instantiates every TEST_P of `Suite` once per target, named Suite.Test/AVX2 and so on.
#define TD_PER_TARGET(Suite)                                                              \
  INSTANTIATE_TEST_SUITE_P(Simd, Suite, ::testing::ValuesIn(tensordiff::cpu_targets()), \
                           ::tdtest::target_test_name)
