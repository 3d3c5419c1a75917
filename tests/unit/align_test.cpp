// --align order: tensors whose names differ between frameworks paired by execution order,
// shape and dtype class when that is unambiguous, and the --map rules that name them.
#include <gtest/gtest.h>

#include "engine/align.hpp"
#include "engine/matcher.hpp"

namespace tensordiff {
namespace {

TensorInfo t(const std::string& name, std::vector<uint64_t> shape, DType dt, uint64_t order) {
  TensorInfo i;
  i.name = name;
  i.shape = std::move(shape);
  i.dtype = dt;
  i.count = 1;
  for (auto d : i.shape) i.count *= d;
  i.order = order;
  return i;
}

std::vector<TensorInfo> torch_names() {
  return {t("embed", {4, 8}, DType::kF32, 0), t("blocks.0.attn", {4, 8}, DType::kF32, 1),
          t("blocks.0.mlp", {4, 8}, DType::kF32, 2), t("blocks.1.attn", {4, 8}, DType::kF32, 3),
          t("blocks.1.mlp", {4, 8}, DType::kF32, 4), t("head", {4, 3}, DType::kF32, 5)};
}

std::vector<TensorInfo> mindspore_names() {
  return {t("embed", {4, 8}, DType::kBF16, 0), t("layers.0.attention", {4, 8}, DType::kBF16, 1),
          t("layers.0.ffn", {4, 8}, DType::kBF16, 2), t("layers.1.attention", {4, 8}, DType::kBF16, 3),
          t("layers.1.ffn", {4, 8}, DType::kBF16, 4), t("head", {4, 3}, DType::kBF16, 5)};
}

TEST(Align, PairsRenamedLayersByOrderAndSuggestsMaps) {
  CompareOptions o;
  auto m = match_tensors(torch_names(), mindspore_names(), o);
  EXPECT_EQ(m.alignable, 4u);
  // Without --align order nothing changes but the suggestion.
  EXPECT_EQ(m.pairs[1].status, Status::kOnlyInA);
  ASSERT_EQ(m.suggested_maps.size(), 2u);
  EXPECT_EQ(m.suggested_maps[0], "^layers\\.(\\d+)\\.attention$=blocks.$1.attn");
  EXPECT_EQ(m.suggested_maps[1], "^layers\\.(\\d+)\\.ffn$=blocks.$1.mlp");
  o.align = Align::kOrder;
  m = match_tensors(torch_names(), mindspore_names(), o);
  ASSERT_EQ(m.pairs.size(), 6u);  // no B-only entries left
  EXPECT_EQ(m.pairs[3].name, "blocks.1.attn");
  EXPECT_EQ(m.pairs[3].name_b, "layers.1.attention");
  EXPECT_TRUE(m.pairs[3].by_order);
  EXPECT_EQ(m.pairs[3].status, Status::kMatch);
  EXPECT_FALSE(m.pairs[0].by_order);  // "embed" matched by name
  // The suggested rules really pair them by name.
  CompareOptions mapped;
  for (const auto& rule : m.suggested_maps) {
    const auto eq = rule.find("$=");
    mapped.maps.emplace_back(rule.substr(0, eq + 1), rule.substr(eq + 2));
  }
  const auto by_name = match_tensors(torch_names(), mindspore_names(), mapped);
  for (const auto& p : by_name.pairs) EXPECT_EQ(p.status, Status::kMatch) << p.name;
}

TEST(Align, AmbiguousOrMismatchedStaysUnpaired) {
  // B has one extra tensor of the repeated shape: which A tensor it skips is ambiguous.
  auto b = mindspore_names();
  b.insert(b.begin() + 2, t("layers.0.extra", {4, 8}, DType::kBF16, 2));
  for (size_t i = 0; i < b.size(); ++i) b[i].order = i;
  CompareOptions o;
  o.align = Align::kOrder;
  auto m = match_tensors(torch_names(), b, o);
  EXPECT_EQ(m.alignable, 0u);
  // An extra tensor of another shape is skipped unambiguously.
  b = mindspore_names();
  b.insert(b.begin() + 2, t("layers.0.mask", {48}, DType::kBool, 2));
  for (size_t i = 0; i < b.size(); ++i) b[i].order = i;
  m = match_tensors(torch_names(), b, o);
  EXPECT_EQ(m.alignable, 4u);
  // A dtype class that differs (integer vs float) is not paired: here the head, whose shape
  // is unique, would otherwise pair with a renamed B head.
  auto a = torch_names();
  a[5].name = "lm_head";
  b = mindspore_names();
  m = match_tensors(a, b, o);
  EXPECT_EQ(m.alignable, 5u);
  b[5].dtype = DType::kI64;
  m = match_tensors(a, b, o);
  EXPECT_EQ(m.alignable, 4u);
  // And one float tensor of a repeated shape turned integer makes the rest ambiguous.
  b = mindspore_names();
  b[1].dtype = DType::kI64;
  m = match_tensors(torch_names(), b, o);
  EXPECT_EQ(m.alignable, 0u);
}

}  // namespace
}  // namespace tensordiff

namespace tensordiff {
namespace {

TEST(Align, PairsWhatEveryAlignmentAgreesOnAndSaysWhatItCannot) {
  // Issue 22: one side calls a function where the other has a module (MindSpore's GELU cell
  // recorded, torch's F.gelu not): B has one more (4, 8) tensor in block 0. Which A tensor it
  // sits beside is ambiguous, but block 1, after a tensor of a unique shape, is not.
  auto a = torch_names();
  a.insert(a.begin() + 3, t("blocks.0.pool", {4, 2}, DType::kF32, 3));
  auto b = mindspore_names();
  b.insert(b.begin() + 2, t("layers.0.gelu", {4, 8}, DType::kBF16, 2));
  b.insert(b.begin() + 4, t("layers.0.pooled", {4, 2}, DType::kBF16, 4));
  for (size_t i = 0; i < a.size(); ++i) a[i].order = i;
  for (size_t i = 0; i < b.size(); ++i) b[i].order = i;
  CompareOptions o;
  o.align = Align::kOrder;
  auto m = match_tensors(a, b, o);
  // pool and block 1's two pair; block 0's attn/mlp stay unpaired against attention/gelu/ffn.
  EXPECT_EQ(m.alignable, 3u);
  ASSERT_EQ(m.notes.size(), 1u);
  EXPECT_NE(m.notes[0].find("2 of A and 3 of B stay unpaired"), std::string::npos) << m.notes[0];
  EXPECT_NE(m.notes[0].find("more than one pairing"), std::string::npos) << m.notes[0];
  // The selection applies first: with block 0 excluded, nothing is ambiguous.
  o.exclude = {"blocks.0.attn", "blocks.0.mlp", "layers.0.*"};
  m = match_tensors(a, b, o);
  EXPECT_EQ(m.alignable, 2u);  // block 1 (pool: layers.0.pooled is excluded on B's side)
  for (const auto& p : m.pairs) EXPECT_NE(p.name_b, "layers.0.attention") << "an excluded tensor was paired";
  // Without --align order nothing is said.
  o.align = Align::kName;
  EXPECT_TRUE(match_tensors(a, b, o).notes.empty());
}

}  // namespace
}  // namespace tensordiff
