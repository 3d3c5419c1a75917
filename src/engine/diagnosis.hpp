// Where the error is introduced (docs/design.md §4 Diagnosis): per pair `growth` (its relative L2
// error over what it inherited), `scale` = l2(b)/l2(a) and `shift` = (mean(b) − mean(a)) /
// rms(a); the first jump is the first pair in A's order whose error those earlier do not
// explain. The rules and their thresholds were chosen by measurement (python/tests/
// scenarios.py: transformer, encoder and CNN runs in bf16, fp16 and a float32 port, clean and
// with typical slips); see the README for what they find and what they cannot.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "tensordiff/report.hpp"

namespace tensordiff {

struct JumpRules {
  // A growth jump: relative L2 error at least this many times the largest one before it (or
  // of the module's recorded inputs), and than the run's unit roundoff. Clean runs measured
  // at most 1.3 (bf16, fp16) and 3.2 (float32 port); slips from 5.5 to 10^6.
  double growth = 8;
  // A systematic jump: most of the error (at least this fraction of rel L2) is a rescaling
  // or a shift of the whole tensor ...
  double systematic_fraction = 0.5;
  // ... at least this many times any earlier pair's (or its inputs') ...
  double systematic_over_before = 2;
  // ... above this fraction of the unit roundoff ...
  double systematic_floor = 0.05;
  // ... and this many standard deviations beyond what random error of that size over that
  // many elements gives (|scale − 1|, |shift| ~ rel L2 / sqrt(n), or rel L2² for the bias of
  // the squared norm).
  double systematic_z = 8;
  // A peer jump: a systematic part at least this many times that of every earlier tensor of
  // the same name but for its layer numbers (whole numeric path components) and of the same
  // class where the record names one (layers.2.norm1 against layers.0.norm1, layers.1.norm1),
  // with the floor and z above but not the fraction of rel L2. LayerNorm outputs keep their
  // norm to 1e-8 in clean bf16 runs while attention outputs shift by 4e-4, so a LayerNorm eps
  // slip (4.7e-4) hides among the latter but stands 3e4-9e4 times above its peers. Clean runs
  // of the scenario suite measured at most 24 (3 seeds x 3 models x bf16/fp16/fp32 port).
  double peer_ratio = 1000;
  // Not a systematic jump: a systematic part under one unit roundoff of the pair's own
  // precision that its peers in the other layers share (median at least half of it; the whole
  // report known). Measured: BERT's LayerNorms on bf16 weights rescale by 1.002-1.004 in every
  // layer; 1 of 12 clean runs named the first (python/tests/transformers_slips.py).
};

// Fills growth, scale, shift and jump of every pair with a diff, and summary.first_jump.
// Pairs named `X.input` / `X.input.K` are module X's recorded inputs (the capture package's
// hook_module(inputs=True)): X's growth is then over them, its own amplification, and an
// input pair itself is never named as the jump when X is in the report.
void diagnose(Report& rep, double unit_roundoff, const JumpRules& rules = {});

// The same rules one pair at a time, for a run that checks itself as it goes (the reference
// session): add(r) fills r's growth, scale, shift, jump and gap_after from the pairs added
// before it, and the summary's jumps. A whole report gives the same as diagnose() when every
// name is known up front (know_names); pair by pair, an input named "X.input..." with several
// ".input" components is read with the output names seen so far.
class JumpFinder {
 public:
  explicit JumpFinder(const JumpRules& rules = {});
  ~JumpFinder();
  void know_names(const std::vector<PairReport>& pairs);
  void add(PairReport& r, Summary& summary, double unit_roundoff);
  // One line when pairs were judged against their format's subnormal step (they lie under its
  // normal range: float16 gradients without loss scaling), else "".
  std::string underflow_note() const;

 private:
  void find_whole_copies(const std::vector<PairReport>& pairs);
  bool shared_by_peers(const std::string& key, const std::string& name, double sys) const;
  struct State;
  std::unique_ptr<State> s_;
};

}  // namespace tensordiff
