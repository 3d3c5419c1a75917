#include <gtest/gtest.h>

#include <set>

#include "report/table_layout.hpp"

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "fixtures/h5_writer.hpp"
#include "tensordiff/tensordiff.hpp"

namespace tdtest {
namespace {

using namespace tensordiff;

Report nan_report(const std::string& dir) {
  {
    H5Writer wa(dir + "/a.h5"), wb(dir + "/b.h5");
    DatasetSpec s;
    s.shape = {2, 2};
    const float nan = std::numeric_limits<float>::quiet_NaN();
    wa.write("g/x", s, to_bytes(std::vector<float>{0, 1, nan, 3}));
    wb.write("g/x", s, to_bytes(std::vector<float>{0, 1, 2, INFINITY}));
    wa.write("only_a", s, to_bytes(std::vector<float>{1, 1, 1, 1}));
  }
  return compare(dir + "/a.h5", dir + "/b.h5", CompareOptions{});
}

TEST(JsonReport, FieldNamesOfTheContract) {
  const auto j = nlohmann::json::parse(to_json(nan_report(temp_dir())));
  for (const char* k : {"schema", "version", "inputs", "options", "backend", "summary", "tensors"})
    EXPECT_TRUE(j.contains(k)) << k;
  for (const char* k : {"compared", "matched", "mismatched", "only_in_a", "only_in_b",
                        "incompatible", "first_divergence", "bytes", "seconds", "gb_per_s"})
    EXPECT_TRUE(j["summary"].contains(k)) << k;
  const auto& t = j["tensors"][0];
  for (const char* k : {"name", "name_b", "order", "status", "reason", "dtype_a", "dtype_b",
                        "shape_a", "shape_b", "tolerance", "a", "b", "diff"})
    EXPECT_TRUE(t.contains(k)) << k;
  for (const char* k : {"count", "nonzero", "nan", "pos_inf", "neg_inf", "min", "max", "mean",
                        "std", "l2", "first_nonzero", "mag_hist", "checksum"})
    EXPECT_TRUE(t["a"].contains(k)) << k;
  for (const char* k : {"max_abs", "max_rel", "mean_abs", "rmse", "rel_l2", "cosine", "mismatches",
                        "mismatch_fraction", "nan_mismatch", "inf_mismatch", "bits_differ",
                        "max_ulp", "err_hist"})
    EXPECT_TRUE(t["diff"].contains(k)) << k;
  EXPECT_EQ(t["status"], "mismatch");
  EXPECT_EQ(t["diff"]["nan_mismatch"], 1);
  EXPECT_EQ(t["diff"]["inf_mismatch"], 1);
  EXPECT_EQ(t["a"]["first_nonzero"][0]["index"], nlohmann::json::array({0, 1}));
  EXPECT_EQ(t["a"]["first_nonzero"][1]["value"], "NaN");  // non-finite as a string
  EXPECT_EQ(t["b"]["max"], 2.0);                          // over finite values only
  EXPECT_EQ(t["a"]["checksum"].get<std::string>().size(), 16u);
  EXPECT_EQ(j["tensors"][1]["status"], "only_in_a");
  EXPECT_EQ(j["summary"]["first_divergence"], "g/x");
}

TEST(AtomicFile, FailureLeavesTheOldFileUntouched) {
  const std::string dir = temp_dir();
  const std::string path = dir + "/report.json";
  std::ofstream(path) << "old";
  {
    AtomicFile f(path);
    // Destroyed without commit: as if the comparison had failed.
  }
  std::ifstream in(path);
  std::string s((std::istreambuf_iterator<char>(in)), {});
  EXPECT_EQ(s, "old");
  for (const auto& e : std::filesystem::directory_iterator(dir))
    EXPECT_EQ(e.path().filename(), "report.json");  // no temporary left behind
  {
    AtomicFile f(path);
    f.commit("new");
  }
  std::ifstream in2(path);
  std::string s2((std::istreambuf_iterator<char>(in2)), {});
  EXPECT_EQ(s2, "new");
  EXPECT_THROW(AtomicFile(dir + "/no/such/dir/r.json"), Error);
}

TEST(TableReport, MarksTheFirstDivergenceAndShortensNames) {
  Report r = nan_report(temp_dir());
  r.tensors[0].name = std::string(100, 'x') + "tail";
  r.summary.first_divergence = r.tensors[0].name;
  const std::string t = format_table(r, {false, 30});
  EXPECT_NE(t.find("> "), std::string::npos);
  // One component: head and tail kept, the middle elided: 30 columns in all.
  EXPECT_NE(t.find(" " + std::string(14, 'x') + "\u2026" + std::string(11, 'x') + "tail "), std::string::npos) << t;
  EXPECT_EQ(t.find("\033["), std::string::npos);  // no colour unless asked
  EXPECT_NE(format_table(r, {true, 30}).find("\033["), std::string::npos);
}

TEST(TableLayout, ShortNamesKeepTheirNumbersAndLastParts) {
  const std::string base = "module.language_model.encoder.layers.";
  std::set<std::string> seen;
  for (int i : {7, 15, 23})
    for (const char* p : {".mlp.dense_4h_to_h.bias.main_grad", ".self_attention.query_key_value.weight.main_grad"}) {
      const std::string s = shorten_name(base + std::to_string(i) + p, 28);
      EXPECT_LE(display_width(s), 28u) << s;
      EXPECT_NE(s.find("layers." + std::to_string(i) + "."), std::string::npos) << s;
      EXPECT_NE(s.find(".main_grad"), std::string::npos) << s;
      EXPECT_TRUE(seen.insert(s).second) << "two names shorten to " << s;
    }
  EXPECT_EQ(shorten_name("short.name", 28), "short.name");
}

TEST(TableLayout, ColumnsDropInPriorityOrder) {
  const std::vector<Column> cols = {{"#", 5, true, 0}, {"name", 0, false, 0}, {"a", 10, true, 2},
                                    {"b", 10, true, 1}, {"status", 6, false, 0}};
  Layout l = fit_columns(cols, 1, 40, 12, 0, 2);
  EXPECT_EQ(l.shown, std::vector<bool>({true, true, true, true, true}));
  // Width = 2 + (5+2) + (name+2) + (10+2) + (10+2) + (6+2) = 43 + name. The name shrinks to 28
  // first, then columns drop (b, then a), then the name shrinks further.
  l = fit_columns(cols, 1, 40, 12, 72, 2);
  EXPECT_TRUE(l.shown[2] && l.shown[3]);
  EXPECT_EQ(l.name_width, 29u);
  l = fit_columns(cols, 1, 40, 12, 70, 2);
  EXPECT_FALSE(l.shown[3]);
  EXPECT_TRUE(l.shown[2]);
  EXPECT_EQ(l.name_width, 28u);
  l = fit_columns(cols, 1, 40, 12, 50, 2);
  EXPECT_FALSE(l.shown[2] || l.shown[3]);
  EXPECT_EQ(l.name_width, 28u);
  l = fit_columns(cols, 1, 40, 12, 35, 2);
  EXPECT_EQ(l.name_width, 16u);
  EXPECT_TRUE(l.shown[0] && l.shown[1] && l.shown[4]);
  EXPECT_EQ(wrap("aaa bbb ccc", 7, 2), "aaa bbb\n  ccc");
}

}  // namespace
}  // namespace tdtest
