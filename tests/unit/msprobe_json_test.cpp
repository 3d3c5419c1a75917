// msprobe's dump.json read as a stream (issue 26): the words Python writes for non-finite numbers
// are read wherever the 1 MiB blocks cut them, never inside strings, and the entries keep the
// order and values a parsed document gives.
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>

#include "fixtures/h5_writer.hpp"
#include "io/msprobe/msprobe.hpp"
#include "tensordiff/error.hpp"
#include "tensordiff/tensordiff.hpp"

namespace tdtest {
namespace {

using namespace tensordiff;

// A dump folder holding `text` as its dump.json: the test's scratch folder (emptied by each call
// of temp_dir), or a folder `sub` inside `base`.
std::string write_dump(const std::string& text, const std::string& base = "", const std::string& sub = "") {
  const std::string dir = base.empty() ? temp_dir() : base + "/" + sub;
  std::filesystem::create_directories(dir);
  std::ofstream(dir + "/dump.json") << text;
  return dir;
}

std::string tensor(const std::string& stats) {
  return R"({"type": "torch.Tensor", "dtype": "torch.float32", "shape": [2], )" + stats + "}";
}

TEST(MsprobeJson, NonFiniteWordsAcrossEveryBlockBoundary) {
  const std::string head = R"({"task": "statistics", "pad": ")";
  const std::string mid = R"(", "data": {"E.forward": {"output": [)";
  const std::string body = tensor(R"("Max": -Infinity, "Min": NaN, "Mean": Infinity, "Norm": 1)");
  const std::string tail = "]}}}";
  const size_t block = size_t(1) << 20;
  // Each word in turn starts 0..9 bytes before the first block ends.
  for (const std::string word : {"-Infinity", "NaN", "Infinity\""}) {
    const size_t in_body = body.find(word == "Infinity\"" ? ": Infinity" : word) + (word == "Infinity\"" ? 2 : 0);
    for (size_t before = 0; before <= 9; ++before) {
      const size_t pad = block - before - head.size() - mid.size() - in_body;
      const std::string dir = write_dump(head + std::string(pad, 'x') + mid + body + tail);
      const MsprobeDump d = read_msprobe(dir);
      ASSERT_EQ(d.tensors.size(), 1u) << word << " " << before;
      const MsprobeTensor& t = d.tensors[0];
      EXPECT_EQ(t.name, "E.forward.output.0");
      ASSERT_TRUE(t.max && t.min && t.mean) << word << " " << before;
      EXPECT_TRUE(std::isinf(*t.max) && *t.max < 0) << word << " " << before;
      EXPECT_TRUE(std::isnan(*t.min)) << word << " " << before;
      EXPECT_TRUE(std::isinf(*t.mean) && *t.mean > 0) << word << " " << before;
      EXPECT_EQ(d.task, "statistics");
    }
  }
}

TEST(MsprobeJson, WordsInsideStringsStayAsWritten) {
  const std::string dir = write_dump(
      R"({"data": {"F.forward": {"input_args": [{"type": "str", "value": "NaN \" Infinity -Infinity \\"}], )"
      R"("output": [)" + tensor(R"("Max": 1, "Min": 0, "Mean": 0.5, "Norm": 1)") + "]}}}");
  const MsprobeDump d = read_msprobe(dir);
  ASSERT_EQ(d.tensors.size(), 2u);
  ASSERT_TRUE(d.tensors[0].value);
  EXPECT_EQ(*d.tensors[0].value, R"(str "NaN \" Infinity -Infinity \\")");
  EXPECT_EQ(*d.tensors[1].max, 1.0);
}

TEST(MsprobeJson, EntriesInOrderATwiceGivenKeyKeepsItsFirstPlaceAndLastValue) {
  const std::string t = tensor(R"("Max": 1, "Min": 0, "Mean": 0.5, "Norm": 1)");
  const std::string dir = write_dump(R"({"data": {"A.forward": {"output": [)" + t + R"(]}, "B.forward": {"output": [)" +
                                     t + R"(]}, "C.forward": null, "A.forward": {"output": [)" + t + "," + t +
                                     R"(]}, "D.forward": [1, 2]}, "framework": "pytorch"})");
  const MsprobeDump d = read_msprobe(dir);
  std::vector<std::string> names;
  for (const auto& x : d.tensors) names.push_back(x.name);
  EXPECT_EQ(names, (std::vector<std::string>{"A.forward.output.0", "A.forward.output.1", "B.forward.output.0"}));
  EXPECT_EQ(d.framework, "pytorch");
  // "data" given twice: the last one, whole.
  const MsprobeDump twice = read_msprobe(write_dump(R"({"data": {"A.forward": {"output": [)" + t +
                                                    R"(]}}, "data": {"B.forward": {"output": [)" + t + "]}}}"));
  ASSERT_EQ(twice.tensors.size(), 1u);
  EXPECT_EQ(twice.tensors[0].name, "B.forward.output.0");
}

TEST(MsprobeJson, NoDataObjectIsAnError) {
  for (const char* text : {R"({"task": "x"})", R"({"data": [1]})", R"({"data": 3})", "[1, 2]", R"({"data": {"A": )",
                           R"({"data": {}, "data": 1})", R"({"data": {"A.forward": {}}, "data": [1]})"}) {
    const std::string dir = write_dump(text);
    try {
      read_msprobe(dir);
      ADD_FAILURE() << text << ": no error";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("not an msprobe dump.json"), std::string::npos) << text << ": " << e.what();
    }
  }
  // A data object, even an empty one, is a dump (of nothing).
  EXPECT_TRUE(read_msprobe(write_dump(R"({"data": {}})")).tensors.empty());
}

// Entries that are not objects are dropped as they are read too: 50,000 of them left in one
// document (its ordered map inserts by a linear scan) took ~11 s; read as a stream, ~0.1 s.
TEST(MsprobeJson, ManyEntriesThatAreNotObjectsReadInLinearTime) {
  std::string text = R"({"data": {)";
  for (int i = 0; i < 50000; ++i) text += (i ? ", " : "") + std::string("\"E.") + std::to_string(i) + R"(.forward": null)";
  text += R"(, "Last.forward": {"output": [)" + tensor(R"("Max": 1, "Min": 0, "Mean": 0.5, "Norm": 1)") + "]}}}";
  const std::string dir = write_dump(text);
  const auto t0 = std::chrono::steady_clock::now();
  const MsprobeDump d = read_msprobe(dir);
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  ASSERT_EQ(d.tensors.size(), 1u);
  EXPECT_EQ(d.tensors[0].name, "Last.forward.output.0");
  EXPECT_LT(s, 5.0);
}

// A statistic msprobe records as NaN or inf (a tensor holding a NaN, an overflow) is compared as
// recorded: a NaN that appears in one run is a difference, never a field "not recorded".
TEST(MsprobeJson, NonFiniteStatisticsAreCompared) {
  const std::string base = temp_dir();
  auto dump = [&](const std::string& max, const std::string& sub) {
    return write_dump(R"({"task": "statistics", "data": {"G.forward": {"output": [)" +
                          tensor(R"("Max": )" + max + R"(, "Min": -1, "Mean": 0.25, "Norm": 2)") + "]}}}",
                      base, sub);
  };
  const std::string finite = dump("1.5", "finite"), nan = dump("NaN", "nan"), nan2 = dump("NaN", "nan2"),
                    inf = dump("Infinity", "inf"), inf2 = dump("Infinity", "inf2");
  auto status = [](const std::string& a, const std::string& b) {
    const Report r = compare(a, b, CompareOptions{});
    EXPECT_EQ(r.tensors.size(), 1u);
    return r.tensors.empty() ? std::string("none") : std::string(status_name(r.tensors[0].status)) + ": " + r.tensors[0].reason;
  };
  EXPECT_EQ(status(finite, nan), "mismatch: max 1.5 vs nan");
  EXPECT_EQ(status(nan, finite), "mismatch: max nan vs 1.5");
  EXPECT_EQ(status(finite, inf), "mismatch: max 1.5 vs inf");
  EXPECT_EQ(status(nan, nan2), "consistent: ");
  EXPECT_EQ(status(inf, inf2), "consistent: ");
  // An overflowed (inf) Norm is no scale for the means: 0.25 against 2.5 still differs.
  auto pair = [&](const std::string& g, const std::string& h, const std::string& sub) {
    return write_dump(R"({"data": {"G.forward": {"output": [)" + tensor(g) + R"(]}, "H.forward": {"output": [)" +
                          tensor(h) + "]}}}",
                      base, sub);
  };
  const std::string ok = R"("Max": 1, "Min": 0, "Mean": 0.5, "Norm": 1)", slip = R"("Max": 2, "Min": 0, "Mean": 0.5, "Norm": 1)";
  const Report big = compare(pair(R"("Max": 1, "Min": 0, "Mean": 0.25, "Norm": Infinity)", ok, "big_a"),
                             pair(R"("Max": 1, "Min": 0, "Mean": 2.5, "Norm": Infinity)", ok, "big_b"), CompareOptions{});
  EXPECT_EQ(big.tensors[0].status, Status::kMismatch) << big.tensors[0].reason;
  // The same NaN on both sides is the same number: the slip after it is the first jump.
  const std::string with_nan = R"("Max": NaN, "Min": 0, "Mean": NaN, "Norm": NaN)";
  const Report r = compare(pair(with_nan, ok, "jump_a"), pair(with_nan, slip, "jump_b"), CompareOptions{});
  EXPECT_EQ(r.tensors[0].status, Status::kConsistent) << r.tensors[0].reason;
  ASSERT_TRUE(r.summary.first_jump);
  EXPECT_EQ(*r.summary.first_jump, "H.forward.output.0");
}

}  // namespace
}  // namespace tdtest
