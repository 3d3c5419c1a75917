// Opening the inputs, alone or as an MPI group with one listing for the group (issue 26).
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "io/source.hpp"
#include "tensordiff/options.hpp"

namespace tensordiff {

// Opens `paths` (one or two, side by side). In an MPI group rank r lists input r, recording each
// HDF5 file's listing (io/listing_book.hpp); rank 0 binds them into one book that every rank
// receives in one broadcast, and every rank opens the inputs from it, with no helper process
// and no walk of the file's metadata. An error on any rank ends every rank with the lowest
// failing rank's message (Error kIo), with no rank left waiting.
std::vector<std::unique_ptr<Source>> open_inputs(const std::vector<std::string>& paths, const EngineOptions& o);

}  // namespace tensordiff
