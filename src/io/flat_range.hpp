#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

namespace tensordiff {

// A row-major box of a tensor: start and count per dimension.
struct Box {
  std::vector<uint64_t> start, count;
};

// The fewest boxes (at most 2*rank - 1) whose union, in row-major order, is the flat element
// range [first, first + n) of a tensor of `shape`. Lets a reader stream any slice of the
// flattened tensor through a bounded buffer, whatever its shape.
std::vector<Box> flat_range_boxes(const std::vector<uint64_t>& shape, uint64_t first, uint64_t n);

}  // namespace tensordiff
