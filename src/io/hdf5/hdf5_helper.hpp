// The HDF5 helper process (issue 11): libhdf5 1.10 is not hardened against hostile files
// (crashes, invalid frees, endless loops on corrupt metadata), so it never runs in the engine's
// process. A forked helper opens the file, reports the listing (hdf5_listing.hpp) and then
// serves the few reads that need libhdf5 itself; a crash or a hang of the helper becomes one
// clear error line. The engine reads everything else with pread.
#pragma once
#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <mutex>
#include <string>

#include "io/hdf5/hdf5_listing.hpp"

namespace tensordiff {

struct HelperOptions {
  bool verbose = false;       // the helper prints HDF5's own error stack to stderr
  bool follow_links = false;  // list soft and external links' targets (else: note them)
  bool hdf5_only = false;     // every read by H5Dread in the helper (the reference path)
  double timeout_s = 120;     // listing, and each read, must answer within this
};

// $TENSORDIFF_HDF5_TIMEOUT (seconds) or 120.
double default_helper_timeout();

class Hdf5Helper {
 public:
  // Forks the helper and waits for the listing. Throws Error naming `path` when the file is not
  // HDF5, cannot be opened, or the helper crashes or times out.
  Hdf5Helper(const std::string& path, const HelperOptions& options);
  // A listing made elsewhere (rank 0's, io/listing_book.hpp): no process is started until a
  // read needs one.
  struct Deferred {};
  Hdf5Helper(const std::string& path, const HelperOptions& options, Deferred);
  ~Hdf5Helper();
  Hdf5Helper(const Hdf5Helper&) = delete;
  Hdf5Helper& operator=(const Hdf5Helper&) = delete;

  // The listing as the helper encoded it (hdf5_listing.hpp's encode), for an MPI group's book.
  std::vector<uint8_t> listing_bytes() const {
    return listing_.empty() ? listing_ : std::vector<uint8_t>(listing_.begin() + 1, listing_.end());
  }
  // Decodes the listing dataset by dataset (decode_listing's callbacks) and frees its bytes.
  // Throws Error naming the file when the helper's bytes are not a listing.
  void take_listing(const std::function<void(uint64_t)>& count, const std::function<void(ListedDataset&)>& each,
                    std::vector<ListedLink>& links);

  // Ends the helper process now; a later read() starts a new one. A source whose data is all
  // read with pread keeps no process (a folder of 24,000 files must not hold 24,000).
  void release();

  // Elements [first, first + n) of dataset `index` (listing order), n * elem_size bytes, read
  // by the helper with H5Dread. Serialised. A helper that crashed is restarted for the next
  // read. Throws Error naming the tensor.
  void read(size_t index, const std::string& tensor, uint64_t first, uint64_t n, size_t elem_size,
            uint8_t* dst);

 private:
  void spawn(bool list);
  void stop();
  // The next message from the helper, or an Error saying why there is none.
  std::vector<uint8_t> receive(const std::string& what);
  [[noreturn]] void fail(const std::string& what, int code);

  std::string path_;
  HelperOptions options_;
  pid_t pid_ = -1;
  int fd_ = -1;
  std::vector<uint8_t> listing_;  // the helper's message until taken: 'L', the encoded listing
  std::mutex m_;
};

}  // namespace tensordiff
