#pragma once
#include <string>

namespace tensordiff {
// "Natural" order: runs of digits compare as numbers, so layer2 < layer10 and
// encoder.layers.2 < encoder.layers.10. Ties on numeric value fall back to plain order.
bool natural_less(const std::string& a, const std::string& b);
}  // namespace tensordiff
