#include "io/flat_range.hpp"

namespace tensordiff {

std::vector<Box> flat_range_boxes(const std::vector<uint64_t>& shape, uint64_t first, uint64_t n) {
  std::vector<Box> boxes;
  const size_t rank = shape.size();
  if (n == 0) return boxes;
  if (rank == 0) {
    boxes.push_back({{}, {}});
    return boxes;
  }
  // stride[k] = number of elements in one step of dimension k.
  std::vector<uint64_t> stride(rank, 1);
  for (size_t k = rank - 1; k-- > 0;) stride[k] = stride[k + 1] * shape[k + 1];
  uint64_t pos = first;
  const uint64_t end = first + n;
  while (pos < end) {
    // The outermost dimension k at which pos is aligned to whole sub-blocks of stride[k] that
    // still fit before `end`: take as many as the current row of dimension k allows.
    size_t k = rank - 1;
    while (k > 0 && pos % stride[k - 1] == 0 && pos + stride[k - 1] <= end) --k;
    const uint64_t idx_k = (pos / stride[k]) % shape[k];
    uint64_t take = (end - pos) / stride[k];
    if (take > shape[k] - idx_k) take = shape[k] - idx_k;
    Box box;
    box.start.assign(rank, 0);
    box.count.assign(rank, 1);
    uint64_t rem = pos;
    for (size_t d = 0; d < rank; ++d) {
      box.start[d] = rem / stride[d];
      rem %= stride[d];
    }
    box.count[k] = take;
    for (size_t d = k + 1; d < rank; ++d) box.count[d] = shape[d];
    boxes.push_back(std::move(box));
    pos += take * stride[k];
  }
  return boxes;
}

}  // namespace tensordiff
