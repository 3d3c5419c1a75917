// Tensors never written (every element the fill value): computed in O(log n), not by reading
// n copies of one value. A 1.5 KB file can declare a dataset of 2^48 elements; its statistics
// follow from one element, its sums from the canonical tree of identical leaves. The checksum
// needs every word: it is computed up to kUniformChecksumBytes and left unknown beyond.
#pragma once
#include <cstdint>
#include <vector>

#include "core/backend.hpp"

namespace tensordiff {

constexpr uint64_t kUniformChecksumBytes = uint64_t(1) << 30;

// `va`/`vb`: one element of each side, little-endian. side_only: `vb` unused (stats).
// Returns the partial of the whole tensor, as the pipeline would have merged it.
Partial uniform_partial(ComputeBackend& backend, const PairParams& p, const std::vector<uint8_t>& va,
                        const std::vector<uint8_t>& vb, uint64_t count, bool side_only);

}  // namespace tensordiff
