// Summary dumps (stats --json documents and JSON-lines summaries) compare like dumps.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>

#include "fixtures/h5_writer.hpp"
#include "io/summary/summary_source.hpp"
#include "tensordiff/tensordiff.hpp"

namespace tdtest {
namespace {

using namespace tensordiff;

void write_dumps(const std::string& dir) {
  H5Writer wa(dir + "/a.h5", true), wb(dir + "/b.h5", true);
  DatasetSpec s;
  s.shape = {4};
  wa.write("first", s, to_bytes(std::vector<float>{1, 2, 3, 4}));
  wb.write("first", s, to_bytes(std::vector<float>{1, 2, 3, std::nextafter(4.0f, 5.0f)}));  // 1 ulp
  wa.write("second", s, to_bytes(std::vector<float>{0, 1, 0, 1}));
  wb.write("second", s, to_bytes(std::vector<float>{0, 1, 0, 2}));
  wa.write("third", s, to_bytes(std::vector<float>{5, 5, 5, 5}));
  wb.write("third", s, to_bytes(std::vector<float>{5, 5, 5, 5}));
}

void write_stats(const std::string& dump, const std::string& out) {
  std::ofstream(out) << to_json(stats(dump, EngineOptions{}));
}

TEST(SummaryCompare, StatsDocumentsCompareLikeDumps) {
  const std::string dir = temp_dir();
  write_dumps(dir);
  write_stats(dir + "/a.h5", dir + "/a.json");
  write_stats(dir + "/b.h5", dir + "/b.json");
  ASSERT_TRUE(is_summary_file(dir + "/a.json"));
  ASSERT_FALSE(is_summary_file(dir + "/a.h5"));
  const Report r = compare(dir + "/a.json", dir + "/b.json", CompareOptions{});
  ASSERT_EQ(r.tensors.size(), 3u);
  // Stats close but checksums differ: consistent, never match (elements may differ).
  EXPECT_EQ(r.tensors[0].status, Status::kConsistent);
  EXPECT_FALSE(r.tensors[0].summary_diff->checksum_equal);
  EXPECT_EQ(r.tensors[1].status, Status::kMismatch);
  EXPECT_NE(r.tensors[1].reason.find("max 1 vs 2"), std::string::npos) << r.tensors[1].reason;
  EXPECT_TRUE(r.tensors[2].summary_diff->checksum_equal);
  EXPECT_EQ(r.tensors[2].status, Status::kMatch);  // identical bytes
  EXPECT_EQ(r.summary.consistent, 1u);
  EXPECT_EQ(r.summary.matched, 1u);
  EXPECT_EQ(*r.summary.first_divergence, "second");
  // A dump against a summary: the dump is summarised on the fly, its first nonzeros held for
  // the comparison also where the command line streams its report's details (a streamed
  // summary compared an empty list: "first nonzero values differ").
  EXPECT_EQ(compare(dir + "/a.h5", dir + "/a.json", CompareOptions{}).summary.mismatched, 0u);
  CompareOptions streaming;
  streaming.engine.details_dir = dir;
  const Report ab = compare(dir + "/a.h5", dir + "/b.json", streaming);
  EXPECT_EQ(ab.summary.mismatched, 1u);  // "second" only
  EXPECT_EQ(ab.tensors[0].status, Status::kConsistent) << ab.tensors[0].reason;
  const auto j = nlohmann::json::parse(to_json(r));
  EXPECT_TRUE(j["tensors"][1]["diff"].is_null());
  EXPECT_EQ(j["tensors"][1]["summary_diff"]["d_max"], 1.0);
}

TEST(SummaryCompare, JsonLinesWithHeaderAndOrder) {
  const std::string dir = temp_dir();
  write_dumps(dir);
  const auto doc = nlohmann::json::parse(to_json(stats(dir + "/a.h5", EngineOptions{})));
  {
    std::ofstream out(dir + "/a.jsonl");
    out << R"({"schema":1,"kind":"summary"})" << "\n";
    // Written out of order: the `order` field decides.
    for (int i = 2; i >= 0; --i) out << doc["tensors"][i].dump() << "\n";
  }
  const SummaryDump d = load_summary(dir + "/a.jsonl");
  ASSERT_EQ(d.tensors.size(), 3u);
  EXPECT_EQ(d.tensors[0].name, "first");
  EXPECT_EQ(d.stats[1].checksum, std::stoull(doc["tensors"][1]["checksum"].get<std::string>(), nullptr, 16));
  EXPECT_EQ(compare(dir + "/a.jsonl", dir + "/a.h5", CompareOptions{}).summary.mismatched, 0u);
}

TEST(SummaryCompare, BadSummaryNamesFileAndLine) {
  const std::string dir = temp_dir();
  std::ofstream(dir + "/bad.jsonl") << "{\"kind\":\"summary\"}\n{\"name\": \"x\"}\n";
  try {
    load_summary(dir + "/bad.jsonl");
    ADD_FAILURE();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kCorrupt);
    EXPECT_NE(std::string(e.what()).find("bad.jsonl:2: not a tensordiff summary"), std::string::npos)
        << e.what();
  }
}

}  // namespace
}  // namespace tdtest
