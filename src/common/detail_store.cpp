#include "common/detail_store.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "tensordiff/error.hpp"

namespace tensordiff {

namespace {

// Records are flushed to the file in pieces of this size (one write each).
constexpr size_t kFlushBytes = size_t(1) << 20;
// And read back in windows of this size.
constexpr uint64_t kWindowBytes = uint64_t(1) << 18;

// An unlinked file in dir, read-write, or -1.
int unlinked_file(const std::string& dir) {
#ifdef O_TMPFILE
  const int fd = ::open(dir.c_str(), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
  if (fd >= 0) return fd;
#endif
  // Filesystems without O_TMPFILE: a named file, unlinked at once.
  std::string tmpl = dir + "/.tensordiff-details-XXXXXX";
  const int named = ::mkostemp(tmpl.data(), O_CLOEXEC);
  if (named < 0) return -1;
  ::unlink(tmpl.c_str());
  return named;
}

template <class T>
void put_raw(std::string& out, const T& v) {
  out.append(reinterpret_cast<const char*>(&v), sizeof v);
}

void put_count(std::string& out, size_t n) {
  if (n > UINT32_MAX) throw Error(ErrorCode::kInternal, "details of a pair: more than 2^32 entries");
  put_raw(out, static_cast<uint32_t>(n));
}

// Entries are written field by field: no padding bytes (a histogram bin's pair has seven).
void put_hist(std::string& out, const SparseHistogram& h) {
  put_count(out, h.bins.size());
  for (const auto& [bin, count] : h.bins) {
    put_raw(out, bin);
    put_raw(out, count);
  }
}

void put_nonzeros(std::string& out, const CompactVector<NonzeroEntry>& v) {
  put_count(out, v.size());
  for (const auto& e : v) {
    put_raw(out, e.flat_index);
    put_raw(out, e.value);
  }
}

void put_extremes(std::string& out, const CompactVector<ExtremeAt>& v) {
  put_count(out, v.size());
  for (const auto& e : v) {
    put_raw(out, e.value);
    put_raw(out, e.flat_index);
    put_raw(out, e.a);
    put_raw(out, e.b);
  }
}

// Reads a record back; every count is checked against the bytes left.
class Reader {
 public:
  Reader(const char* p, size_t n) : p_(p), left_(n) {}
  template <class T>
  T raw() {
    T v;
    need(sizeof v);
    std::memcpy(&v, p_, sizeof v);
    p_ += sizeof v;
    left_ -= sizeof v;
    return v;
  }
  uint32_t count(size_t entry_bytes) {
    const uint32_t n = raw<uint32_t>();
    need(uint64_t(n) * entry_bytes);
    return n;
  }
  bool done() const { return left_ == 0; }

 private:
  void need(uint64_t n) const {
    if (n > left_) throw Error(ErrorCode::kInternal, "details store: a record ends early");
  }
  const char* p_;
  size_t left_;
};

void get_hist(Reader& in, SparseHistogram& h) {
  const uint32_t n = in.count(9);
  std::vector<std::pair<uint8_t, uint64_t>> bins(n);
  for (auto& [bin, count] : bins) {
    bin = in.raw<uint8_t>();
    count = in.raw<uint64_t>();
  }
  h.bins = std::move(bins);
}

void get_nonzeros(Reader& in, CompactVector<NonzeroEntry>& v) {
  const uint32_t n = in.count(16);
  std::vector<NonzeroEntry> out(n);
  for (auto& e : out) {
    e.flat_index = in.raw<uint64_t>();
    e.value = in.raw<double>();
  }
  v = std::move(out);
}

void get_extremes(Reader& in, CompactVector<ExtremeAt>& v) {
  const uint32_t n = in.count(32);
  std::vector<ExtremeAt> out(n);
  for (auto& e : out) {
    e.value = in.raw<double>();
    e.flat_index = in.raw<uint64_t>();
    e.a = in.raw<double>();
    e.b = in.raw<double>();
  }
  v = std::move(out);
}

// The sides' and the diff's details in a fixed order; an absent side or diff writes empty ones.
template <class Side, class Diff>
void each_part(Side&& side, Diff&& diff, PairReport& r) {
  static const SideStats no_side;
  static const DiffStats no_diff;
  side(r.a ? *r.a : no_side);
  side(r.b ? *r.b : no_side);
  diff(r.diff ? *r.diff : no_diff);
}

}  // namespace

std::shared_ptr<DetailStore> DetailStore::open(const std::string& dir, size_t expected) {
  const int fd = unlinked_file(dir);
  if (fd < 0) return nullptr;
  try {
    return std::shared_ptr<DetailStore>(new DetailStore(fd, dir, expected));
  } catch (...) {
    ::close(fd);
    throw;
  }
}

DetailStore::DetailStore(int fd, std::string dir, size_t expected) : fd_(fd), dir_(std::move(dir)) {
  offsets_.reserve(expected);
}

DetailStore::~DetailStore() { ::close(fd_); }

void DetailStore::put(PairReport& r) {
  std::string rec(4, '\0');  // the record's length, filled in by append
  each_part(
      [&](const SideStats& s) {
        put_nonzeros(rec, s.first_nonzero);
        put_hist(rec, s.mag_hist);
      },
      [&](const DiffStats& d) {
        put_hist(rec, d.err_hist);
        put_extremes(rec, d.worst);
        put_extremes(rec, d.nonfinite);
      },
      r);
  r.detail_record = append(rec);
  if (r.a) r.a->first_nonzero = {}, r.a->mag_hist = {};
  if (r.b) r.b->first_nonzero = {}, r.b->mag_hist = {};
  if (r.diff) r.diff->err_hist = {}, r.diff->worst = {}, r.diff->nonfinite = {};
}

void DetailStore::put(StatsEntry& e) {
  if (!e.stats) return;
  std::string rec(4, '\0');
  put_nonzeros(rec, e.stats->first_nonzero);
  put_hist(rec, e.stats->mag_hist);
  e.detail_record = append(rec);
  e.stats->first_nonzero = {};
  e.stats->mag_hist = {};
}

uint32_t DetailStore::append(const std::string& rec) {
  const uint32_t len = static_cast<uint32_t>(rec.size());
  std::lock_guard<std::mutex> lock(mu_);
  if (offsets_.size() >= UINT32_MAX - 1) throw Error(ErrorCode::kInternal, "details store: more than 2^32 records");
  offsets_.push_back(end_);
  pending_ += rec;
  std::memcpy(pending_.data() + pending_.size() - rec.size(), &len, 4);
  end_ += rec.size();
  const uint32_t record = static_cast<uint32_t>(offsets_.size());
  if (pending_.size() >= kFlushBytes) flush_locked();
  return record;
}

void DetailStore::flush_locked() const {
  size_t done = 0;
  while (done < pending_.size()) {
    const ssize_t w = ::pwrite(fd_, pending_.data() + done, pending_.size() - done, static_cast<off_t>(flushed_ + done));
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0)
      throw Error(ErrorCode::kIo, dir_ + ": cannot write the report's details to a temporary file there: " +
                                      std::strerror(w < 0 ? errno : ENOSPC));
    done += static_cast<size_t>(w);
  }
  flushed_ += pending_.size();
  pending_.clear();
}

std::pair<const char*, uint32_t> DetailStore::find(uint32_t record) const {
  if (record == 0 || record > offsets_.size())
    throw Error(ErrorCode::kInternal, "details store: no record " + std::to_string(record));
  const uint64_t at = offsets_[record - 1];
  uint32_t len;
  if (at >= flushed_) {  // still in memory
    const char* p = pending_.data() + (at - flushed_);
    std::memcpy(&len, p, 4);
    return {p, len};
  }
  // Writers read the records in about the order they were written: one read fills a window of
  // many (a record longer than the window, a large --worst-k, gets one of its own).
  auto window = [&](uint64_t from, uint64_t want) {
    buf_.resize(want);
    size_t got = 0;
    while (got < want) {
      const ssize_t n = ::pread(fd_, buf_.data() + got, want - got, static_cast<off_t>(from + got));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0)
        throw Error(ErrorCode::kIo, dir_ + ": cannot read the report's details back from a temporary file there: " +
                                        std::strerror(n < 0 ? errno : EIO));
      got += static_cast<size_t>(n);
    }
    buf_at_ = from;
  };
  auto held = [&](uint64_t n) { return at >= buf_at_ && at + n <= buf_at_ + buf_.size(); };
  if (!held(4)) window(at, std::min<uint64_t>(kWindowBytes, flushed_ - at));
  if (!held(4)) throw Error(ErrorCode::kInternal, "details store: a record ends early");
  std::memcpy(&len, buf_.data() + (at - buf_at_), 4);
  if (!held(len)) window(at, std::min<uint64_t>(std::max<uint64_t>(len, kWindowBytes), flushed_ - at));
  if (!held(len)) throw Error(ErrorCode::kInternal, "details store: a record ends early");
  return {buf_.data() + (at - buf_at_), len};
}

void DetailStore::get(uint32_t record, PairReport& r) const {
  std::lock_guard<std::mutex> lock(mu_);
  const auto [p, len] = find(record);
  if (len < 4) throw Error(ErrorCode::kInternal, "details store: a record ends early");
  Reader in(p + 4, len - 4);
  SideStats* sides[2] = {r.a ? &*r.a : nullptr, r.b ? &*r.b : nullptr};
  int side = 0;
  SideStats scratch_side;
  DiffStats scratch_diff;
  each_part(
      [&](const SideStats&) {
        SideStats& s = sides[side] ? *sides[side] : scratch_side;
        ++side;
        get_nonzeros(in, s.first_nonzero);
        get_hist(in, s.mag_hist);
      },
      [&](const DiffStats&) {
        DiffStats& d = r.diff ? *r.diff : scratch_diff;
        get_hist(in, d.err_hist);
        get_extremes(in, d.worst);
        get_extremes(in, d.nonfinite);
      },
      r);
  if (!in.done()) throw Error(ErrorCode::kInternal, "details store: a record runs past its fields");
}

void DetailStore::get(uint32_t record, StatsEntry& e) const {
  std::lock_guard<std::mutex> lock(mu_);
  const auto [p, len] = find(record);
  if (len < 4 || !e.stats) throw Error(ErrorCode::kInternal, "details store: a record ends early");
  Reader in(p + 4, len - 4);
  get_nonzeros(in, e.stats->first_nonzero);
  get_hist(in, e.stats->mag_hist);
  if (!in.done()) throw Error(ErrorCode::kInternal, "details store: a record runs past its fields");
}

const PairReport& Report::detailed(size_t i, PairReport& scratch) const {
  const PairReport& r = tensors[i];
  if (r.detail_record == 0 || !detail_store) return r;
  scratch = r;
  detail_store->get(r.detail_record, scratch);
  return scratch;
}

const StatsEntry& StatsReport::detailed(size_t i, StatsEntry& scratch) const {
  const StatsEntry& e = tensors[i];
  if (e.detail_record == 0 || !detail_store) return e;
  scratch = e;
  detail_store->get(e.detail_record, scratch);
  return scratch;
}

}  // namespace tensordiff
