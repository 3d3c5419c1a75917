// docs/design.md §7: what each exit status promises.
#include "tensordiff/command_line.hpp"

namespace tensordiff {

int exit_status(const Report& rep) {
  const Summary& s = rep.summary;
  if (s.unsupported > 0 || s.errors > 0) return kExitError;
  const bool none_differ = s.mismatched == 0 && s.only_in_a == 0 && s.only_in_b == 0 &&
                           s.incompatible == 0 && s.skipped == 0;
  return !none_differ ? kExitDiffer : s.consistent > 0 ? kExitConsistent : kExitMatch;
}

int exit_status(const StatsReport& rep) {
  return rep.unsupported > 0 || rep.errors > 0 ? kExitError : kExitMatch;
}

int exit_status(const PairReport& p) {
  const bool unsupported = p.status == Status::kIncompatible && p.info_a && p.info_b &&
                           (!p.info_a->unsupported.empty() || !p.info_b->unsupported.empty());
  return p.status == Status::kMatch        ? kExitMatch
         : p.status == Status::kError      ? kExitError
         : p.status == Status::kConsistent ? kExitConsistent
         : unsupported                     ? kExitError
                                           : kExitDiffer;
}

}  // namespace tensordiff
