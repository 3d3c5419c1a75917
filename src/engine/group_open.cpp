#include "engine/group_open.hpp"

#include <future>

#include "engine/group.hpp"
#include "io/formats.hpp"
#include "io/listing_book.hpp"
#include "io/wire.hpp"
#include "tensordiff/error.hpp"
#include "tensordiff/tensordiff.hpp"

namespace tensordiff {

namespace {

// Both inputs at once (each HDF5 file's listing comes from its own helper process).
std::vector<std::unique_ptr<Source>> open_all(const std::vector<std::string>& paths, const EngineOptions& o) {
  std::vector<std::unique_ptr<Source>> out(paths.size());
  if (paths.size() == 2) {
    auto b_future = std::async(std::launch::async, [&] { return open_source(paths[1], o); });
    try {
      out[0] = open_source(paths[0], o);
    } catch (...) {
      try { b_future.get(); } catch (...) {}  // A's error is the one reported
      throw;
    }
    out[1] = b_future.get();
    return out;
  }
  for (size_t i = 0; i < paths.size(); ++i) out[i] = open_source(paths[i], o);
  return out;
}

}  // namespace

std::vector<std::unique_ptr<Source>> open_inputs(const std::vector<std::string>& paths, const EngineOptions& o) {
  Group& g = process_group();
  if (g.size() == 1) return open_all(paths, o);
  // 1. Rank r lists input r (A on rank 0, B on rank 1 when there are two ranks), recording
  //    each HDF5 file's listing: the inputs are walked once each, side by side.
  std::optional<std::string> failed;
  std::vector<uint8_t> mine;
  if (static_cast<size_t>(g.rank()) < paths.size()) {
    EngineOptions rec = o;
    rec.listing_book = std::make_shared<ListingBook>();
    rec.listing_book->record = true;
    try {
      open_source(paths[g.rank()], rec);
      mine = rec.listing_book->encode();
    } catch (const Error& e) {
      failed = e.what();
    }
  }
  // A's error first (rank 0 lists A), worded as one process words it: it is about the input.
  if (auto e = g.agree(failed, false)) throw Error(ErrorCode::kIo, *e);
  // 2. Rank 0 binds the listings into one book, which every rank receives.
  const std::vector<std::vector<uint8_t>> shares = g.gather(mine);
  std::vector<uint8_t> bytes;
  if (g.rank() == 0) {
    ListingBook all;
    for (const auto& share : shares) {
      if (share.empty()) continue;
      auto part = ListingBook::decode(share.data(), share.size());  // made by this build: only a bug throws
      for (auto& [path, f] : part->files) all.files.emplace(path, std::move(f));
    }
    bytes = all.encode();
  }
  bytes = g.broadcast(bytes);
  // 3. Every rank opens the inputs from the book: no helper process, no walk of the metadata.
  std::vector<std::unique_ptr<Source>> out;
  try {
    EngineOptions given = o;
    try {
      given.listing_book = ListingBook::decode(bytes.data(), bytes.size());
    } catch (const wire::WireError& e) {
      throw Error(ErrorCode::kInternal, "the listings rank 0 sent cannot be read (" + std::string(e.what()) + ")");
    }
    if (o.log)
      o.log("rank " + std::to_string(g.rank()) + ": " + std::to_string(given.listing_book->files.size()) +
            " HDF5 listings shared by the group (" + std::to_string(bytes.size()) + " bytes)");
    out = open_all(paths, given);
  } catch (const Error& e) {
    failed = e.what();
  }
  if (auto e = g.agree(failed)) throw Error(ErrorCode::kIo, *e);
  return out;
}

}  // namespace tensordiff
