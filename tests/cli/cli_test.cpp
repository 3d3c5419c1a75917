// The real binary: exit codes, stdout and stderr for good and bad input (docs/design.md §7).
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "fixtures/h5_writer.hpp"

namespace tdtest {
namespace {

using namespace tensordiff;

struct CliRun {
  int code;
  std::string out, err;
};

std::string slurp(const std::string& p) {
  std::ifstream in(p);
  return std::string((std::istreambuf_iterator<char>(in)), {});
}

// `env`: assignments put before the command ("TENSORDIFF_SIMD=avx2").
CliRun run(const std::string& args, const std::string& env = "") {
  const std::string err_path = (std::filesystem::temp_directory_path() /
                               ("tensordiff_cli_stderr_" + std::to_string(::getpid()))).string();
  const std::string cmd = env + " " + TENSORDIFF_BIN + " " + args + " 2>" + err_path;
  FILE* p = ::popen(cmd.c_str(), "r");
  std::string out;
  std::array<char, 4096> buf;
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) out.append(buf.data(), n);
  const int st = ::pclose(p);
  CliRun r{WIFEXITED(st) ? WEXITSTATUS(st) : -1, out, slurp(err_path)};
  std::filesystem::remove(err_path);
  return r;
}

int lines(const std::string& s) { return static_cast<int>(std::count(s.begin(), s.end(), '\n')); }

class Cli : public ::testing::Test {
 protected:
  void SetUp() override {
    dir = temp_dir();
    a = dir + "/a.h5";
    b = dir + "/b.h5";
    const std::string gen = std::string(TENSORDIFF_GEN_BIN) + " --out-a " + a + " --out-b " + b +
                            " --tensors 20 --elems 5000 --diverge-at 7";
    ASSERT_EQ(std::system(gen.c_str()), 0);
  }
  std::string dir, a, b;
};

TEST_F(Cli, FindsTheDivergence) {
  const CliRun r = run(a + " " + b);
  EXPECT_EQ(r.code, 1) << r.err;
  EXPECT_NE(r.out.find("first divergence: encoder.layers.3 (order 7)"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find(">*"), std::string::npos);  // first divergence and first jump
  EXPECT_NE(r.out.find("first jump: encoder.layers.3 (order 7)"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("\033["), std::string::npos);  // not a TTY: no colour
  EXPECT_EQ(r.err, "");
}

TEST_F(Cli, IdenticalDumpsExitZero) {
  const CliRun r = run(a + " " + a);
  EXPECT_EQ(r.code, 0);
  EXPECT_NE(r.out.find("no divergence"), std::string::npos);
}

TEST_F(Cli, QuietPrintsNothing) {
  const CliRun r = run("-q " + a + " " + b);
  EXPECT_EQ(r.code, 1);
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(r.err, "");
}

TEST_F(Cli, JsonReportIsWrittenAndParses) {
  const CliRun r = run(a + " " + b + " -q --json " + dir + "/r.json");
  EXPECT_EQ(r.code, 1);
  const auto j = nlohmann::json::parse(slurp(dir + "/r.json"));
  EXPECT_EQ(j["summary"]["first_divergence"], "encoder.layers.3");
  EXPECT_EQ(j["tensors"].size(), 20u);
}

TEST_F(Cli, TensorArgumentsSelect) {
  const CliRun r = run(a + " " + b + " --json " + dir + "/r.json 'encoder.layers.1*' embed");
  EXPECT_EQ(r.code, 0);
  const auto j = nlohmann::json::parse(slurp(dir + "/r.json"));
  EXPECT_EQ(j["summary"]["compared"], 3);
}

TEST_F(Cli, StatsJson) {
  const CliRun r = run("stats " + a + " --json " + dir + "/s.json");
  EXPECT_EQ(r.code, 0) << r.err;
  const auto j = nlohmann::json::parse(slurp(dir + "/s.json"));
  EXPECT_EQ(j["tensors"].size(), 20u);
  EXPECT_EQ(j["tensors"][0]["name"], "embed");
  EXPECT_EQ(j["tensors"][0]["first_nonzero"].size(), 5u);
  EXPECT_NE(r.out.find("checksum"), std::string::npos);
}

TEST_F(Cli, MissingFile) {
  const CliRun r = run(a + " " + dir + "/nope.h5");
  EXPECT_EQ(r.code, 2);
  EXPECT_EQ(lines(r.err), 1) << r.err;
  EXPECT_NE(r.err.find(dir + "/nope.h5: cannot open: No such file or directory"), std::string::npos) << r.err;
}

TEST_F(Cli, TextFileNamedH5) {
  std::ofstream(dir + "/text.h5") << "name,value\nx,1\n";
  const CliRun r = run(dir + "/text.h5 " + b);
  EXPECT_EQ(r.code, 2);
  EXPECT_EQ(lines(r.err), 1) << r.err;
  EXPECT_NE(r.err.find("text.h5: not a dump tensordiff reads (HDF5, safetensors"), std::string::npos) << r.err;
}

TEST_F(Cli, TruncatedFile) {
  std::filesystem::copy_file(b, dir + "/trunc.h5");
  std::filesystem::resize_file(dir + "/trunc.h5", std::filesystem::file_size(b) / 3);
  const CliRun r = run(a + " " + dir + "/trunc.h5");
  EXPECT_EQ(r.code, 2);
  EXPECT_EQ(lines(r.err), 1) << r.err;
  EXPECT_NE(r.err.find("trunc.h5"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("truncated or corrupt"), std::string::npos) << r.err;
}

TEST_F(Cli, VerboseShowsHdf5sOwnErrorStack) {
  std::filesystem::copy_file(b, dir + "/trunc.h5");
  std::filesystem::resize_file(dir + "/trunc.h5", std::filesystem::file_size(b) / 3);
  const CliRun quiet = run(a + " " + dir + "/trunc.h5");
  EXPECT_EQ(quiet.err.find("HDF5-DIAG"), std::string::npos) << quiet.err;
  const CliRun loud = run("--verbose " + a + " " + dir + "/trunc.h5");
  EXPECT_EQ(loud.code, 2);
  EXPECT_NE(loud.err.find("HDF5-DIAG"), std::string::npos) << loud.err;
}

TEST_F(Cli, TruncatedDataIsNamedWithTheTensor) {
  // Metadata intact (HDF5 writes it at the start here) but the last tensor's bytes cut off:
  // the error names the tensor. Superblock EOF checks may also catch it: either is clear.
  std::filesystem::copy_file(b, dir + "/cut.h5");
  std::filesystem::resize_file(dir + "/cut.h5", std::filesystem::file_size(b) - 100);
  const CliRun r = run(a + " " + dir + "/cut.h5");
  EXPECT_EQ(r.code, 2);
  EXPECT_EQ(lines(r.err), 1) << r.err;
  EXPECT_NE(r.err.find("cut.h5"), std::string::npos) << r.err;
}

TEST_F(Cli, CorruptCompressedChunkNamesTheTensor) {
  const std::string ca = dir + "/ca.h5", cb = dir + "/cb.h5";
  const std::string gen = std::string(TENSORDIFF_GEN_BIN) + " --out-a " + ca + " --out-b " + cb +
                          " --tensors 1 --elems 50000 --preset plain --chunk-elems 10000 --gzip 4";
  ASSERT_EQ(std::system(gen.c_str()), 0);
  // Overwrite bytes in the middle of the file: chunk data, past the metadata at the start.
  const auto size = std::filesystem::file_size(cb);
  {
    std::fstream f(cb, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(static_cast<std::streamoff>(size * 2 / 5));
    const std::string junk(size / 20, '\xab');
    f.write(junk.data(), static_cast<std::streamsize>(junk.size()));
  }
  const CliRun r = run(ca + " " + cb);
  EXPECT_EQ(r.code, 2);
  EXPECT_EQ(lines(r.err), 1) << r.err;
  EXPECT_NE(r.err.find("cb.h5: tensor 't000': chunk at ("), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("corrupt deflate data"), std::string::npos) << r.err;
}

TEST_F(Cli, CompoundDatasetIsNamedAndNotCompared) {
  {
    H5Writer w(dir + "/c1.h5"), w2(dir + "/c2.h5");
    DatasetSpec s;
    s.shape = {4};
    w.write("ok", s, to_bytes(std::vector<float>{1, 2, 3, 4}));
    w2.write("ok", s, to_bytes(std::vector<float>{1, 2, 3, 4}));
    w.write_compound("cplx", 4);
    w2.write_compound("cplx", 4);
  }
  const CliRun r = run(dir + "/c1.h5 " + dir + "/c2.h5 --json " + dir + "/r.json");
  EXPECT_EQ(r.code, 2);
  EXPECT_EQ(lines(r.err), 1) << r.err;
  EXPECT_NE(r.err.find("c1.h5: tensor 'cplx': complex numbers (compound {r: float64, i: float64})"), std::string::npos) << r.err;
  const auto j = nlohmann::json::parse(slurp(dir + "/r.json"));
  EXPECT_EQ(j["summary"]["incompatible"], 1);
  EXPECT_EQ(j["summary"]["matched"], 1);
  // Excluding it makes the comparison clean.
  EXPECT_EQ(run(dir + "/c1.h5 " + dir + "/c2.h5 --exclude cplx").code, 0);
}

TEST_F(Cli, MismatchedShapes) {
  {
    H5Writer w(dir + "/s1.h5"), w2(dir + "/s2.h5");
    DatasetSpec s;
    s.shape = {2, 3};
    w.write("w", s, to_bytes(std::vector<float>{1, 2, 3, 4, 5, 6}));
    s.shape = {3, 2};
    w2.write("w", s, to_bytes(std::vector<float>{1, 2, 3, 4, 5, 6}));
  }
  CliRun r = run(dir + "/s1.h5 " + dir + "/s2.h5");
  EXPECT_EQ(r.code, 1);
  EXPECT_EQ(lines(r.err), 1) << r.err;
  EXPECT_NE(r.err.find("tensor 'w': shape (2, 3) vs (3, 2)"), std::string::npos) << r.err;
  r = run(dir + "/s1.h5 " + dir + "/s2.h5 --allow-reshape");
  EXPECT_EQ(r.code, 0) << r.out << r.err;
}

TEST_F(Cli, UnknownOption) {
  const CliRun r = run("--bogus " + a + " " + b);
  EXPECT_EQ(r.code, 2);
  EXPECT_EQ(lines(r.err), 1) << r.err;
  EXPECT_NE(r.err.find("bogus"), std::string::npos) << r.err;
  EXPECT_EQ(r.out, "");
}

TEST_F(Cli, BadOptionValues) {
  for (const char* bad : {"--rtol -1", "--tol 'x:rtol=q'", "--backend gpu", "--chunk-mib 0",
                          "--map '([=x'", "--color sometimes"}) {
    const CliRun r = run(std::string(bad) + " " + a + " " + b);
    EXPECT_EQ(r.code, 2) << bad;
    EXPECT_EQ(lines(r.err), 1) << bad << ": " << r.err;
  }
}

TEST_F(Cli, UnwritableJsonPathFailsBeforeWorkAndKeepsOldFile) {
  CliRun r = run(a + " " + b + " --json " + dir + "/no/such/dir/r.json");
  EXPECT_EQ(r.code, 2);
  EXPECT_EQ(lines(r.err), 1) << r.err;
  EXPECT_NE(r.err.find("cannot write report"), std::string::npos) << r.err;
  EXPECT_EQ(r.out, "");
  // A directory in the way of the report.
  std::filesystem::create_directory(dir + "/taken");
  r = run(a + " " + b + " --json " + dir + "/taken");
  EXPECT_EQ(r.code, 2);
  // A failing comparison leaves an existing report untouched.
  std::ofstream(dir + "/old.json") << "old report";
  r = run(a + " " + dir + "/missing.h5 --json " + dir + "/old.json");
  EXPECT_EQ(r.code, 2);
  EXPECT_EQ(slurp(dir + "/old.json"), "old report");
}

TEST_F(Cli, CudaBackendAbsentIsAnError) {
  const CliRun r = run("--backend cuda " + a + " " + b);
  EXPECT_EQ(r.code, 2);
  EXPECT_EQ(lines(r.err), 1) << r.err;
  EXPECT_NE(r.err.find("--backend cuda"), std::string::npos) << r.err;
}

// --simd and TENSORDIFF_SIMD force the CPU backend's SIMD target (issue 8): shown by
// --verbose and in the JSON's backend; a target this CPU cannot run is a usage error.
TEST_F(Cli, SimdTargetIsChosenShownAndChecked) {
  CliRun r = run("--verbose --simd ssse3 --json " + dir + "/r.json " + a + " " + b);
  EXPECT_EQ(r.code, 1) << r.err;
  EXPECT_NE(r.err.find("backend: cpu (SSSE3)"), std::string::npos) << r.err;
  auto j = nlohmann::json::parse(slurp(dir + "/r.json"));
  EXPECT_EQ(j["backend"], "cpu (SSSE3)");
  EXPECT_EQ(j["options"]["simd"], "ssse3");
  r = run("-q --json " + dir + "/r2.json " + a + " " + b);
  j = nlohmann::json::parse(slurp(dir + "/r2.json"));
  EXPECT_NE(j["backend"], "cpu (SSSE3)");  // without the option: the best target again
  EXPECT_TRUE(j["options"]["simd"].is_null());
  // The environment variable, and the option over it.
  r = run("-q --json " + dir + "/r3.json " + a + " " + b, "TENSORDIFF_SIMD=SSE4");
  EXPECT_EQ(nlohmann::json::parse(slurp(dir + "/r3.json"))["backend"], "cpu (SSE4)");
  r = run("-q --simd ssse3 --json " + dir + "/r4.json " + a + " " + b, "TENSORDIFF_SIMD=SSE4");
  EXPECT_EQ(nlohmann::json::parse(slurp(dir + "/r4.json"))["backend"], "cpu (SSSE3)");
  // Unknown names: exit 2, one line naming what this machine runs.
  r = run("--simd neon " + a + " " + b);
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("--simd 'neon': this CPU and build run "), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("SSSE3"), std::string::npos) << r.err;
  EXPECT_EQ(lines(r.err), 1) << r.err;
  r = run(a + " " + b, "TENSORDIFF_SIMD=avx9");
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("TENSORDIFF_SIMD 'avx9'"), std::string::npos) << r.err;
}

// Issue 9: one pair in detail.
TEST_F(Cli, ShowPrintsOnePairInDetail) {
  CliRun r = run("show " + a + " " + b + " encoder.layers.3 --worst-k 3");
  EXPECT_EQ(r.code, 1) << r.err;
  for (const char* part : {"encoder.layers.3  [mismatch]", "dtype", "first nonzeros", "max |d|",
                           "rel L2", "cosine", "bits differ", "worst 3 (largest |b - a|",
                           "|a| by binary exponent", "|b - a| by binary exponent", "#"})
    EXPECT_NE(r.out.find(part), std::string::npos) << part << "\n" << r.out;
  r = run("show " + a + " " + b + " embed");
  EXPECT_EQ(r.code, 0) << r.err;
  r = run("show " + a + " " + b + " no.such.tensor");
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("tensor 'no.such.tensor' is in neither"), std::string::npos) << r.err;
  r = run("show " + a + " " + b);
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("show needs two dumps and one tensor"), std::string::npos) << r.err;
}

// Issue 9: the run's precision, the criterion, worst elements and growth in the JSON report.
TEST_F(Cli, PrecisionCriterionAndDiagnosisInJson) {
  CliRun r = run("-q --json " + dir + "/r.json " + a + " " + b);
  auto j = nlohmann::json::parse(slurp(dir + "/r.json"));
  EXPECT_EQ(j["summary"]["precision"], "fp32");
  EXPECT_EQ(j["summary"]["first_jump"], "encoder.layers.3");
  const auto t7 = j["tensors"][7];  // a copy: j is reused below
  EXPECT_TRUE(t7["jump"].get<bool>());
  EXPECT_GT(t7["growth"].get<double>(), 1000.0);
  EXPECT_NEAR(t7["scale"].get<double>(), 1.0, 1e-3);
  EXPECT_EQ(t7["diff"]["worst"].size(), 5u);
  EXPECT_GE(t7["diff"]["worst"][0]["abs_diff"].get<double>(), t7["diff"]["worst"][4]["abs_diff"].get<double>());
  EXPECT_EQ(t7["diff"]["worst"][0]["abs_diff"], t7["diff"]["max_abs"]);
  // Judged as a bf16 run: bf16's tolerances (fewer elements out of them), and the step at
  // layer 3 (1e-3 relative) is below bf16's noise floor (3.9e-3): no jump.
  r = run("-q --precision bf16 --json " + dir + "/r2.json " + a + " " + b);
  j = nlohmann::json::parse(slurp(dir + "/r2.json"));
  EXPECT_EQ(j["summary"]["precision"], "bf16");
  EXPECT_EQ(j["options"]["precision"], "bf16");
  EXPECT_EQ(j["tensors"][7]["tolerance"]["rtol"], 1.6e-2);
  EXPECT_LT(j["tensors"][7]["diff"]["mismatches"].get<uint64_t>(), t7["diff"]["mismatches"].get<uint64_t>());
  EXPECT_TRUE(j["summary"]["first_jump"].is_null());
  // Judged on rel L2 against fp32's rtol (1.3e-6), 1e-3 fails; cosine 0.9999995 < 1 - 1.3e-6.
  r = run("-q --criterion rel-l2 --json " + dir + "/r3.json " + a + " " + b);
  EXPECT_EQ(r.code, 1);
  j = nlohmann::json::parse(slurp(dir + "/r3.json"));
  EXPECT_NE(j["tensors"][7]["reason"].get<std::string>().find("--criterion rel-l2"), std::string::npos);
  EXPECT_EQ(j["tensors"][6]["status"], "match");
  r = run("-q --criterion cosine --rtol 1e-3 " + a + " " + b);
  EXPECT_EQ(r.code, 0) << r.err;  // 1 - cos <= 8.5e-5 everywhere
  r = run("-q --criterion cosine --rtol 1e-5 " + a + " " + b);
  EXPECT_EQ(r.code, 1) << r.err;
  for (const char* bad : {"--precision fp12", "--criterion l2", "--align random", "--worst-k -1"}) {
    r = run(std::string(bad) + " " + a + " " + b);
    EXPECT_EQ(r.code, 2) << bad;
    EXPECT_EQ(lines(r.err), 1) << bad << ": " << r.err;
  }
}

// Issue 9: summaries that agree are consistent (exit 3), never a proven match.
TEST_F(Cli, AgreeingSummariesAreConsistentNotMatch) {
  ASSERT_EQ(run("stats -q " + a + " --json " + dir + "/sa.json").code, 0);
  // B's summary against A's: the first 7 tensors have close statistics but other bytes.
  ASSERT_EQ(run("stats -q " + b + " --json " + dir + "/sb.json").code, 0);
  CliRun r = run(dir + "/sa.json " + dir + "/sb.json embed");
  EXPECT_EQ(r.code, 3) << r.out << r.err;
  EXPECT_NE(r.out.find("consistent"), std::string::npos) << r.out;
  r = run(dir + "/sa.json " + a);  // identical bytes: checksums equal, a match
  EXPECT_EQ(r.code, 0) << r.out;
  r = run(dir + "/sa.json " + dir + "/sb.json");  // something differs: 1
  EXPECT_EQ(r.code, 1);
}

TEST_F(Cli, InputsAreNotModified) {
  const auto before = std::filesystem::last_write_time(a);
  const std::string bytes = slurp(a);
  run(a + " " + b + " --json " + dir + "/r.json");
  EXPECT_EQ(std::filesystem::last_write_time(a), before);
  EXPECT_EQ(slurp(a), bytes);
}

TEST_F(Cli, HelpAndVersion) {
  CliRun r = run("--help");
  EXPECT_EQ(r.code, 0);
  EXPECT_NE(r.out.find("--stop-at-first"), std::string::npos);
  r = run("--version");
  EXPECT_EQ(r.code, 0);
  EXPECT_EQ(r.out.rfind("tensordiff ", 0), 0u);
  EXPECT_NE(r.out.find("\nsimd: "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("SSSE3"), std::string::npos) << r.out;  // every x86-64 CPU we run on
  r = run("--version --simd ssse3");
  EXPECT_NE(r.out.find("simd: SSSE3 (this CPU runs"), std::string::npos) << r.out;
  r = run("--version", "TENSORDIFF_SIMD=nope");
  EXPECT_EQ(r.code, 2);
}

}  // namespace
}  // namespace tdtest
