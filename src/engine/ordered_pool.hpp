#pragma once
#include <cstddef>
#include <functional>

namespace tensordiff {

// Runs compute(i, worker) for i in [0, n) on `threads` workers (the calling thread is one) and
// merge(i) strictly in increasing i, one at a time, as soon as item i and all before it are
// computed. Items are claimed in increasing order and never more than `window` ahead of the
// oldest unmerged item, so at most `window` results wait for their merge: memory stays bounded
// whatever n is. merge returning false stops the claiming of new items (--stop-at-first).
// The first exception thrown by compute or merge stops the run and is rethrown here.
void ordered_parallel_for(size_t n, unsigned threads, size_t window,
                          const std::function<void(size_t item, unsigned worker)>& compute,
                          const std::function<bool(size_t item)>& merge);

}  // namespace tensordiff
