#include "engine/share_merge.hpp"

#include <cstdint>

#include "engine/partial_wire.hpp"

namespace tensordiff {

OrderedMerge::OrderedMerge(const std::vector<Job>& jobs, const ItemPlan& plan, ItemRange range, const RunPlan& run,
                           const DoneFn& on_done, wire::Writer* share)
    : jobs_(jobs), plan_(plan), range_(range), run_(run), on_done_(on_done), share_(share),
      first_k_(jobs.empty() ? 5 : jobs.front().params.first_k),
      worst_k_(jobs.empty() ? 5 : jobs.front().params.worst_k) {
  if (run_.progress)
    for (const Job& j : jobs) total_bytes_ += side_bytes(j, j.count);
}

void OrderedMerge::progress(const Item& it, uint64_t i) {
  done_bytes_ += side_bytes(jobs_[it.job], it.n);
  const auto now = std::chrono::steady_clock::now();
  if (now - last_report_ > std::chrono::milliseconds(100) || i + 1 == plan_.size()) {
    last_report_ = now;
    run_.progress(done_bytes_, total_bytes_, jobs_[it.job].a->tensors()[jobs_[it.job].ia].name);
  }
}

bool OrderedMerge::add(uint64_t i, Slot& slot) {
  const Item it = plan_.at(i);
  if (run_.progress) progress(it, i);
  const bool start = it.first == 0 || i == range_.lo;  // a job's first chunk, or this rank's
  if (start) {
    job_error_.clear();
    job_failed_ = false;
  }
  if (!slot.error.empty() && job_error_.empty()) job_error_ = slot.error;
  job_failed_ = job_failed_ || slot.skipped || !job_error_.empty();
  if (!job_failed_) {
    if (start) {
      acc_ = std::move(slot.partial);
      // A chunk's tree is built from its own block 0; within the tensor it starts here.
      if (it.first != 0) acc_.tree.rebase(it.first / kBlockElems);
    } else {
      merge_partial(acc_, slot.partial, first_k_, worst_k_);
    }
  }
  if (share_) {
    if (it.last || i + 1 == range_.hi) {  // this rank's share of the job: to rank 0
      share_->u64(it.job);
      share_->u8(job_failed_);
      share_->str(job_error_);
      if (!job_failed_) encode(*share_, acc_);
    }
    return true;
  }
  if (!it.last) return true;
  return on_done_(it.job, acc_, job_error_.empty() ? nullptr : &job_error_);
}

void merge_shares(const std::vector<std::vector<uint8_t>>& shares, int first_k, int worst_k, const DoneFn& on_done) {
  size_t current = SIZE_MAX;
  Partial total;
  std::string error;
  bool job_bad = false, have = false;
  auto finish = [&] {
    if (current == SIZE_MAX) return true;
    if (job_bad && error.empty()) error = "a chunk could not be read";
    return on_done(current, total, job_bad ? &error : nullptr);
  };
  for (const auto& share : shares) {
    wire::Reader r(share.data(), share.size());
    while (r.left() > 0) {
      const size_t j = static_cast<size_t>(r.u64());
      const bool f = r.u8() != 0;
      const std::string msg = r.str();
      if (j != current) {
        if (!finish()) return;
        current = j;
        job_bad = have = false;
        error.clear();
        total = Partial();
      }
      Partial part;
      if (!f) part = decode_partial(r);
      if (f && !job_bad) {
        job_bad = true;
        error = msg;
      } else if (!job_bad) {
        if (!have) total = std::move(part);
        else merge_partial(total, part, first_k, worst_k);
        have = true;
      }
    }
  }
  finish();
}

}  // namespace tensordiff
