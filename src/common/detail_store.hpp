// A run's per-pair details (histograms, worst elements, first nonzeros) streamed to a file as
// each pair finishes, so that a report of 10^6 pairs holds their scalars only (issue 26): ~1.1 KB
// a pair of tiny tensors, 2 GB at 10^6, that the JSON and HTML writers read back one pair at a
// time (Report::detailed). The file is unlinked from the moment it exists: nothing is left
// behind by a run that dies.
#pragma once
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "tensordiff/report.hpp"

namespace tensordiff {

class DetailStore {
 public:
  // A store in `dir` (an unlinked file); null where no file can be made there (the caller keeps
  // the details in memory). `expected` records reserve their offsets exactly.
  static std::shared_ptr<DetailStore> open(const std::string& dir, size_t expected);
  ~DetailStore();
  DetailStore(const DetailStore&) = delete;
  DetailStore& operator=(const DetailStore&) = delete;

  // Moves r's details into the store (r keeps empty ones) and sets r.detail_record. Safe from
  // any thread. Throws Error (kIo) when the file cannot be written (a full disk).
  void put(PairReport& r);
  // Reads record `record`'s details back into r (whose own are empty). Throws Error (kIo/
  // kInternal) on a failed read or a record that does not parse.
  void get(uint32_t record, PairReport& r) const;
  // The same for a stats entry's one side.
  void put(StatsEntry& e);
  void get(uint32_t record, StatsEntry& e) const;
  size_t records() const { return offsets_.size(); }
  uint64_t bytes() const { return end_; }

 private:
  DetailStore(int fd, std::string dir, size_t expected);
  uint32_t append(const std::string& rec);         // a record's number
  std::pair<const char*, uint32_t> find(uint32_t record) const;  // its bytes, under mu_
  void flush_locked() const;

  int fd_;
  std::string dir_;
  mutable std::mutex mu_;
  mutable std::string pending_;      // written records not yet in the file
  mutable uint64_t flushed_ = 0;     // the file's length
  uint64_t end_ = 0;                 // flushed_ + pending_.size()
  std::vector<uint64_t> offsets_;    // record k - 1 starts there
  mutable std::string buf_;          // get()'s window of the file: its bytes from buf_at_
  mutable uint64_t buf_at_ = 0;
};

}  // namespace tensordiff
