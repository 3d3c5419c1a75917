#include "engine/tolerance.hpp"

#include <gtest/gtest.h>

#include <chrono>

#include "tensordiff/error.hpp"

namespace tensordiff {
namespace {

TEST(Tolerance, DefaultsFollowTheLessPreciseDtype) {
  EXPECT_DOUBLE_EQ(default_tolerance(DType::kF32, DType::kF32).rtol, 1.3e-6);
  EXPECT_DOUBLE_EQ(default_tolerance(DType::kF32, DType::kBF16).rtol, 1.6e-2);
  EXPECT_DOUBLE_EQ(default_tolerance(DType::kF16, DType::kF64).rtol, 1e-3);
  EXPECT_DOUBLE_EQ(default_tolerance(DType::kF64, DType::kF64).atol, 1e-7);
  EXPECT_DOUBLE_EQ(default_tolerance(DType::kI64, DType::kF32).rtol, 1.3e-6);
  EXPECT_EQ(default_tolerance(DType::kI32, DType::kI32).rtol, 0);
  EXPECT_EQ(default_tolerance(DType::kBool, DType::kBool).atol, 0);
}

TEST(Tolerance, RulesLastMatchWins) {
  CompareOptions o;
  o.rtol = 0.5;
  o.tol_rules.push_back(parse_tolerance_rule("enc*:rtol=0.1,atol=0.2"));
  o.tol_rules.push_back(parse_tolerance_rule("enc*.act:atol=0.3"));
  auto t = resolve_tolerance("encoder.layers.1.act", DType::kF32, DType::kF32, Precision::kAuto, o);
  EXPECT_DOUBLE_EQ(t.rtol, 0.1);
  EXPECT_DOUBLE_EQ(t.atol, 0.3);
  t = resolve_tolerance("head", DType::kF32, DType::kF32, Precision::kAuto, o);
  EXPECT_DOUBLE_EQ(t.rtol, 0.5);
  EXPECT_DOUBLE_EQ(t.atol, 1e-5);
  o.exact = true;
  t = resolve_tolerance("encoder.x", DType::kF32, DType::kF32, Precision::kAuto, o);
  EXPECT_EQ(t.rtol, 0);
  EXPECT_EQ(t.atol, 0);
}

TEST(Tolerance, BadRulesAreUsageErrors) {
  for (const char* bad : {"noglob", ":rtol=1", "x:rtol=", "x:rtol=-1", "x:foo=1", "x:rtol=abc"}) {
    try {
      parse_tolerance_rule(bad);
      ADD_FAILURE() << bad;
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::kUsage) << bad;
    }
  }
}

TEST(Tolerance, GlobMatchesAcrossSlashes) {
  EXPECT_TRUE(glob_match("model/*", "model/layers/0/w"));
  EXPECT_TRUE(glob_match("*.act", "encoder.layers.1.act"));
  EXPECT_FALSE(glob_match("*.act", "encoder.layers.1"));
}

}  // namespace
}  // namespace tensordiff

namespace tensordiff {
namespace {

TEST(Glob, MatchesLikeTheShellWithStarsCrossingSlashes) {
  EXPECT_TRUE(glob_match("encoder/*", "encoder/layers.2/act"));
  EXPECT_TRUE(glob_match("*.act", "encoder/layers.2.act"));
  EXPECT_TRUE(glob_match("layer?", "layer7"));
  EXPECT_FALSE(glob_match("layer?", "layer17"));
  EXPECT_TRUE(glob_match("l[0-3]x", "l2x"));
  EXPECT_FALSE(glob_match("l[!0-3]x", "l2x"));
  EXPECT_TRUE(glob_match("a\\*b", "a*b"));
  EXPECT_FALSE(glob_match("a\\*b", "axb"));
  EXPECT_TRUE(glob_match("[", "["));  // an unterminated class is a literal
  EXPECT_TRUE(glob_match("", ""));
  EXPECT_FALSE(glob_match("", "x"));
}

TEST(Glob, PathologicalPatternsStayLinear) {
  // fnmatch backtracks exponentially here; the greedy matcher is O(pattern x name).
  const std::string name(20000, 'a');
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_FALSE(glob_match("*a*a*a*a*a*a*a*a*a*a*a*a*b", name));
  EXPECT_TRUE(glob_match("*a*a*a*a*a*a*a*a*a*a*a*a", name));
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(), 2.0);
}

}  // namespace
}  // namespace tensordiff
