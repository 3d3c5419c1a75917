// HDF5 source: the listing comes from the HDF5 helper process (hdf5_helper.hpp), the bytes
// from pread at the addresses it reports: contiguous datasets in parallel outside any lock,
// chunked ones as raw chunks that we unfilter in the calling threads (docs/design.md §6). Every
// size and address from the file is checked against the file's length before it is used.
// Reads that need libhdf5 (other filters, compact storage, conversions) go to the helper.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cerrno>
#include <cstring>
#include <map>

#include "io/chunk_reader.hpp"
#include "io/hdf5/hdf5_helper.hpp"
#include "io/input_file.hpp"
#include "io/listing_book.hpp"
#include "io/source.hpp"
#include "tensordiff/error.hpp"

namespace tensordiff {

namespace {

// What a read needs, kept compact: checkpoints list 10^5 tensors per file.
struct Chunked {
  std::vector<ChunkRecord> chunks;  // written chunks by increasing linear index
  bool unfiltered_edges = false;
  ChunkedLayout layout;
};

// One dataset's read plan where it is not bytes at an offset of the input itself (chunks, an
// external file, a fill value, the helper, an error): 32 bytes, the rarely set parts (a
// never-written dataset's fill value, an error) behind a pointer.
struct Entry {
  struct Rare {
    std::vector<uint8_t> fill;  // kFill
    std::string error;          // non-empty: reading fails with this
  };
  ReadPath path = ReadPath::kHelper;
  int fd = -1;             // the file holding the bytes
  uint64_t file_offset = 0;
  std::unique_ptr<Chunked> chunked;  // kChunks
  std::unique_ptr<Rare> rare;

  const std::string& error() const {
    static const std::string none;
    return rare ? rare->error : none;
  }
  const std::vector<uint8_t>& fill() const {
    static const std::vector<uint8_t> none;
    return rare ? rare->fill : none;
  }
};

class Hdf5Source final : public Source {
 public:
  Hdf5Source(const std::string& path, const LogFn& log, ReadMode mode, bool follow_links, ListingBook* book)
      : path_(path), log_(log) {
    main_ = open_input_file(path);  // a regular file, read-only (FIFOs and devices refused)
    ::posix_fadvise(main_.fd, 0, 0, POSIX_FADV_SEQUENTIAL);
    HelperOptions ho;
    ho.verbose = static_cast<bool>(log);
    ho.hdf5_only = mode == ReadMode::kHdf5Only;
    ho.follow_links = follow_links;
    ho.timeout_s = default_helper_timeout();
    const auto t_list = std::chrono::steady_clock::now();
    // The listing is decoded dataset by dataset into what this source keeps (no decoded copy
    // of it is held: 10^6 datasets, ~500 MB), reserved exactly (no growth slack).
    std::vector<ListedLink> links;
    auto count = [this](uint64_t n) {
      infos_->reserve(n);
      plans_.reserve(n);
    };
    auto each = [this](ListedDataset& d) { add(std::move(d)); };
    auto t_plan = t_list;
    if (book && !book->record && in_book(*book)) {
      helper_ = std::make_unique<Hdf5Helper>(path, ho, Hdf5Helper::Deferred{});  // started by a read that needs it
      take_from(*book, count, each, links);
    } else {
      helper_ = std::make_unique<Hdf5Helper>(path, ho);
      if (book && book->record) record_in(*book, helper_->listing_bytes());
      t_plan = std::chrono::steady_clock::now();
      helper_->take_listing(count, each, links);
    }
    for (const auto& s : links)
      notes_.push_back(path_ + ": '" + s.name + "' is a " + s.kind + " link" +
                       (s.target.empty() ? "" : " to " + s.target) +
                       (s.kind == "dangling" ? "; not compared" : "; not followed (--follow-links)"));
    if (log_) {
      // The helper's walk (libhdf5) and this process's share (decoding, checks, read plans) apart.
      const auto now = std::chrono::steady_clock::now();
      const double walk = std::chrono::duration<double>(t_plan - t_list).count();
      const double here = std::chrono::duration<double>(now - t_plan).count();
      char times[160];
      std::snprintf(times, sizeof times, " (listed in %.3f s; decoded, checked and planned here in %.3f s, %.2f us each)", walk,
                    here, infos_->empty() ? 0.0 : here / infos_->size() * 1e6);
      log_(path_ + ": " + std::to_string(infos_->size()) + " datasets" + times);
    }
    bool needs_helper = false;
    Entry tmp;
    for (size_t i = 0; i < plans_.size(); ++i) {
      const Entry& e = entry(i, tmp);
      needs_helper = needs_helper || (e.error().empty() && (*infos_)[i].unsupported.empty() && e.path == ReadPath::kHelper);
    }
    if (!needs_helper) helper_->release();
  }

  ~Hdf5Source() override {
    for (auto& [name, f] : others_) ::close(f.fd);
    ::close(main_.fd);
  }

  const std::string& path() const override { return path_; }
  const std::vector<TensorInfo>& tensors() const override { return *infos_; }
  std::shared_ptr<const std::vector<TensorInfo>> shared_tensors() const override { return infos_; }
  std::vector<std::string> notes() const override { return notes_; }

  std::optional<std::vector<uint8_t>> uniform_value(size_t index) const override {
    Entry tmp;
    const Entry& e = entry(index, tmp);
    if (!e.error().empty() || !(*infos_)[index].unsupported.empty()) return std::nullopt;
    if (e.path == ReadPath::kFill) return e.fill();
    if (e.path == ReadPath::kChunks && e.chunked->chunks.empty()) return e.chunked->layout.fill;
    return std::nullopt;
  }

  std::optional<std::string> read_error(size_t index) const override {
    Entry tmp;
    const Entry& e = entry(index, tmp);
    if (e.error().empty()) return std::nullopt;
    return what((*infos_)[index]) + ": " + e.error();
  }

  void read(size_t index, uint64_t first, uint64_t n, uint8_t* dst) override {
    Entry tmp;
    const Entry& e = entry(index, tmp);
    const TensorInfo& t = (*infos_)[index];
    if (n == 0) return;
    if (!e.error().empty()) throw Error(ErrorCode::kCorrupt, what(t) + ": " + e.error());
    const size_t es = dtype_size(t.dtype);
    switch (e.path) {
      case ReadPath::kPread: return pread_exact(e, t, e.file_offset + first * es, n * es, dst);
      case ReadPath::kChunks: return read_chunks(e, t, first, n, dst);
      case ReadPath::kFill:
        for (uint64_t i = 0; i < n; ++i) std::memcpy(dst + i * es, e.fill().data(), es);
        return;
      case ReadPath::kHelper: return helper_->read(index, t.name, first, n, es, dst);
    }
  }

 private:
  std::string what(const TensorInfo& t) const { return path_ + ": tensor '" + t.name + "'"; }

  static int64_t mtime_ns(int fd) {
    struct stat st{};
    if (::fstat(fd, &st) != 0) return 0;
    return int64_t(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
  }

  // Rank 0: the listing its helper made, for the other ranks.
  void record_in(ListingBook& book, std::vector<uint8_t> listing) {
    ListingBook::File f{main_.size, mtime_ns(main_.fd), std::move(listing)};
    std::lock_guard<std::mutex> lock(book.m);
    book.files[path_] = std::move(f);
  }

  bool in_book(ListingBook& book) const {
    std::lock_guard<std::mutex> lock(book.m);
    return book.files.count(path_) > 0;
  }

  // The other ranks: rank 0's listing of this file (in_book), when this rank sees the same
  // file (size and modification time); every address in it is still checked against this
  // rank's file (add(), validate_listed) as a helper's would be.
  void take_from(ListingBook& book, const std::function<void(uint64_t)>& count,
                 const std::function<void(ListedDataset&)>& each, std::vector<ListedLink>& links) {
    // The entry is found under the lock and read without it (a book being read is never
    // changed, and a map's entries stay put): A, B and a folder's files decode side by side.
    const ListingBook::File* entry = nullptr;
    {
      std::lock_guard<std::mutex> lock(book.m);
      entry = &book.files.at(path_);
    }
    const ListingBook::File& f = *entry;
    const int64_t mtime = mtime_ns(main_.fd);
    if (f.size != main_.size || f.mtime_ns != mtime)
      throw Error(ErrorCode::kIo, path_ + ": not the file the MPI group listed (" + std::to_string(main_.size) +
                                      " bytes, modified at " + std::to_string(mtime) + " ns; the rank that listed it saw " +
                                      std::to_string(f.size) + " bytes at " + std::to_string(f.mtime_ns) +
                                      " ns): every rank must see the same files");
    try {
      wire::Reader r(f.listing.data(), f.listing.size());
      decode_listing(r, count, each, links);
    } catch (const wire::WireError& e) {
      throw Error(ErrorCode::kInternal, path_ + ": rank 0's listing of it cannot be read (" + e.what() + ")");
    }
    if (log_) log_(path_ + ": listing shared by the MPI group (" + std::to_string(f.listing.size()) + " bytes), no helper process");
  }

  void add(ListedDataset d) {
    Entry e;
    e.fd = main_.fd;
    uint64_t file_size = main_.size;
    if (!d.file.empty() && d.error.empty()) {
      // A followed external link: its bytes are in another file, opened like an input.
      auto it = others_.find(d.file);
      if (it == others_.end()) {
        try {
          it = others_.emplace(d.file, open_input_file(d.file)).first;
        } catch (const Error& err) {
          d.error = err.what();
        }
      }
      if (it != others_.end()) {
        e.fd = it->second.fd;
        file_size = it->second.size;
      }
    }
    if (d.error.empty() && d.info.unsupported.empty()) validate_listed(d, file_size);
    if (log_ && d.path == ReadPath::kHelper && d.info.unsupported.empty() && d.info.storage.rfind("chunked", 0) == 0)
      log_(path_ + ": tensor '" + d.info.name + "' (" + d.info.storage +
           "): filters decoded by HDF5 in its helper process (slower, serial)");
    e.path = d.path;
    e.file_offset = d.file_offset;
    if (!d.error.empty() || d.path == ReadPath::kFill) {
      e.rare = std::make_unique<Entry::Rare>();
      e.rare->error = std::move(d.error);
      if (e.rare->error.empty()) e.rare->fill = d.fill.take();
    }
    if (e.error().empty() && d.path == ReadPath::kChunks) {
      e.chunked = std::make_unique<Chunked>();
      Chunked& c = *e.chunked;
      c.chunks = d.chunks.take();
      c.unfiltered_edges = d.unfiltered_edges;
      c.layout.id = new_layout_id();
      c.layout.shape = d.info.shape;
      c.layout.chunk = d.chunk.take();
      c.layout.elem_size = dtype_size(d.info.dtype);
      c.layout.filters = d.filters.take();
      c.layout.fill = d.fill.take();
    }
    infos_->push_back(std::move(d.info));
    if (e.path == ReadPath::kPread && e.fd == main_.fd && !e.rare && !e.chunked && e.file_offset < kOther) {
      plans_.push_back(e.file_offset);
    } else {
      plans_.push_back(kOther | others_plans_.size());
      others_plans_.push_back(std::move(e));
    }
  }

  // Dataset index's read plan: `tmp` made the plain one, or the one kept aside.
  const Entry& entry(size_t index, Entry& tmp) const {
    const uint64_t v = plans_[index];
    if (v & kOther) return others_plans_[v & ~kOther];
    tmp.path = ReadPath::kPread;
    tmp.fd = main_.fd;
    tmp.file_offset = v;
    return tmp;
  }

  void pread_exact(const Entry& e, const TensorInfo& t, uint64_t off, uint64_t len, uint8_t* dst) const {
    while (len > 0) {
      const ssize_t r = ::pread(e.fd, dst, len, static_cast<off_t>(off));
      if (r < 0 && errno == EINTR) continue;
      if (r <= 0)
        throw Error(ErrorCode::kCorrupt, what(t) + ": cannot read bytes at offset " + std::to_string(off) + ": " +
                                             (r == 0 ? std::string("file is truncated") : std::strerror(errno)));
      dst += r;
      off += static_cast<uint64_t>(r);
      len -= static_cast<uint64_t>(r);
    }
  }

  void read_chunks(const Entry& e, const TensorInfo& t, uint64_t first, uint64_t n, uint8_t* dst) const {
    const Chunked& d = *e.chunked;
    const ChunkedLayout& L = d.layout;
    const size_t rank = L.chunk.size();
    const FetchChunk fetch = [&](const std::vector<uint64_t>& offset, std::vector<uint8_t>& raw, unsigned& mask) {
      uint64_t linear = 0;
      bool partial = false;
      for (size_t k = 0; k < rank; ++k) {
        const uint64_t per = (L.shape[k] + L.chunk[k] - 1) / L.chunk[k];
        linear = linear * per + offset[k] / L.chunk[k];
        partial = partial || offset[k] + L.chunk[k] > L.shape[k];
      }
      const auto it = std::lower_bound(d.chunks.begin(), d.chunks.end(), linear,
                                       [](const ChunkRecord& c, uint64_t l) { return c.linear < l; });
      if (it == d.chunks.end() || it->linear != linear) return false;  // never written: fill
      raw.resize(it->size);
      pread_exact(e, t, it->addr, it->size, raw.data());
      // H5D_CHUNK_DONT_FILTER_PARTIAL_CHUNKS: edge chunks are stored as they are.
      mask = d.unfiltered_edges && partial ? ~0u : it->mask;
      return true;
    };
    read_chunked_range(L, first, n, dst, fetch, what(t));
  }

  std::string path_;
  LogFn log_;
  InputFile main_;
  std::map<std::string, InputFile> others_;
  std::unique_ptr<Hdf5Helper> helper_;
  // A dataset's read plan in 8 bytes (10^6 datasets a file: 8 MB, was 32; issue 26): the
  // offset of its bytes in the input itself, or kOther plus its place in others_plans_.
  static constexpr uint64_t kOther = uint64_t(1) << 63;
  std::vector<uint64_t> plans_;
  std::vector<Entry> others_plans_;
  std::shared_ptr<std::vector<TensorInfo>> infos_ = std::make_shared<std::vector<TensorInfo>>();
  std::vector<std::string> notes_;
};

}  // namespace

std::unique_ptr<Source> open_hdf5(const std::string& path, const LogFn& log, ReadMode mode,
                                  bool follow_links, ListingBook* book) {
  return std::make_unique<Hdf5Source>(path, log, mode, follow_links, book);
}

}  // namespace tensordiff
