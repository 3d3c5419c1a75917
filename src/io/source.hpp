// A dump opened for reading: its tensors in execution order, and element-range reads.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "tensordiff/options.hpp"
#include "tensordiff/tensor_info.hpp"

namespace tensordiff {

class Source {
 public:
  virtual ~Source() = default;
  virtual const std::string& path() const = 0;
  // Every dataset of the dump, sorted by execution order (TensorInfo::order == position).
  virtual const std::vector<TensorInfo>& tensors() const = 0;
  // Makes entry i's name share `same`'s copy when the two are equal: the planning gives B's
  // entries their A partners' copies, one copy of a name a pair instead of two (10^6 pairs:
  // 76 MB). The value is unchanged, so no reader can tell; every source keeps its listing in
  // a vector of its own (not a const object), which makes the write through tensors() sound.
  void share_name(size_t i, const SharedString& same) {
    auto& t = const_cast<TensorInfo&>(tensors()[i]);
    if (t.name == same) t.name = same;
  }
  // The same listing as a shared owner, where the source keeps it in one: reports point into
  // it (PairReport::info_a) rather than copy each pair's entries. Null: copy them.
  virtual std::shared_ptr<const std::vector<TensorInfo>> shared_tensors() const { return nullptr; }
  // Copies elements [first, first + n) of the flattened tensor `index` into dst, as stored
  // (the file's byte order, no conversion). Thread-safe. Throws Error naming file and tensor.
  virtual void read(size_t index, uint64_t first, uint64_t n, uint8_t* dst) = 0;
  // One line each for what the listing left out (e.g. links not followed), for the report.
  virtual std::vector<std::string> notes() const { return {}; }
  // One element, as stored, when the whole tensor was never written (the fill value
  // everywhere): the engine then computes it without reading (engine/uniform.hpp).
  virtual std::optional<std::vector<uint8_t>> uniform_value(size_t index) const {
    (void)index;
    return std::nullopt;
  }
  // The error every read of the tensor gives, when the listing already shows it (a corrupt
  // layout, a truncated file): the engine then reports it without planning any reads, which
  // matters for a tensor that claims 2^50 elements.
  virtual std::optional<std::string> read_error(size_t index) const {
    (void)index;
    return std::nullopt;
  }
  // Whether the tensor's chunks must all be read, in order (a deflated stream: a chunk left
  // unread would hold up the next). The engine then reads every chunk even after a failure.
  virtual bool sequential(size_t index) const {
    (void)index;
    return false;
  }
};


// kDirect: contiguous datasets by pread and chunked ones by raw chunks that we unfilter, both
// in the calling threads (docs/design.md §6); kHdf5Only: every read through H5Dread (the reference
// the direct readers are tested against).
enum class ReadMode { kDirect, kHdf5Only };

// Opens an HDF5 file read-only and lists its datasets. Throws Error (kIo, kNotHdf5, kCorrupt).
// follow_links: soft and external links are listed under their own names (else they are
// notes). libhdf5 runs in a helper process (io/hdf5/hdf5_helper.hpp), never in the caller's.
// book: listings shared in an MPI group (io/listing_book.hpp): recorded there, or taken from it.
struct ListingBook;
std::unique_ptr<Source> open_hdf5(const std::string& path, const LogFn& log,
                                  ReadMode mode = ReadMode::kDirect, bool follow_links = false,
                                  ListingBook* book = nullptr);

}  // namespace tensordiff
