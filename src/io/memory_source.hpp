// Tensors held in the caller's memory (Python arrays, a training loop's tensors): a Source
// whose reads are copies into the engine's bounded chunk buffers, never of the whole tensor.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "io/source.hpp"
#include "tensordiff/tensordiff.hpp"

namespace tensordiff {

// `label` names the set in error messages ("array a"). Throws Error(kUsage) for a duplicate
// name, a null pointer with elements, or an element count that overflows.
std::unique_ptr<Source> memory_source(const std::vector<ArrayView>& arrays, const std::string& label);

}  // namespace tensordiff
