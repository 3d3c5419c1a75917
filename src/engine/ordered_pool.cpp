#include "engine/ordered_pool.hpp"

#include "tensordiff/error.hpp"

#include <condition_variable>
#include <system_error>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

namespace tensordiff {

void ordered_parallel_for(size_t n, unsigned threads, size_t window,
                          const std::function<void(size_t, unsigned)>& compute,
                          const std::function<bool(size_t)>& merge) {
  if (n == 0) return;
  if (threads == 0) threads = 1;
  // No more threads than items: a small tensor (one chunk) runs on the calling thread alone.
  // Starting workers that find nothing to do cost milliseconds on a loaded machine (each must
  // be scheduled before the join returns), a thousand times the work of a 128 KiB summary.
  if (threads > n) threads = static_cast<unsigned>(n);
  if (window < threads) window = threads;
  std::mutex m;
  std::condition_variable cv;
  size_t next_claim = 0, next_merge = 0;
  std::vector<char> ready(window, 0);
  bool stop = false, merging = false;
  std::exception_ptr error;

  auto fail = [&](std::unique_lock<std::mutex>& lock) {
    if (!error) error = std::current_exception();
    stop = true;
    cv.notify_all();
    (void)lock;
  };

  auto worker = [&](unsigned w) {
    std::unique_lock<std::mutex> lock(m);
    for (;;) {
      cv.wait(lock, [&] { return stop || next_claim >= n || next_claim < next_merge + window; });
      if (stop || next_claim >= n) return;
      const size_t i = next_claim++;
      lock.unlock();
      try {
        compute(i, w);
      } catch (...) {
        lock.lock();
        fail(lock);
        return;
      }
      lock.lock();
      ready[i % window] = 1;
      if (merging) continue;  // the thread that is merging will pick this item up
      merging = true;
      while (!stop && next_merge < n && ready[next_merge % window]) {
        ready[next_merge % window] = 0;
        const size_t k = next_merge;
        lock.unlock();
        bool go_on = true;
        try {
          go_on = merge(k);
        } catch (...) {
          lock.lock();
          merging = false;
          fail(lock);
          return;
        }
        lock.lock();
        ++next_merge;
        if (!go_on) stop = true;
        cv.notify_all();
      }
      merging = false;
      cv.notify_all();
    }
  };

  std::vector<std::thread> pool;
  try {
    for (unsigned w = 1; w < threads; ++w) pool.emplace_back(worker, w);
  } catch (const std::system_error& e) {
    // Threads that did start must be stopped and joined: a joinable std::thread destroyed by
    // the unwinding would terminate the process.
    {
      std::lock_guard<std::mutex> lock(m);
      stop = true;
    }
    cv.notify_all();
    for (auto& t : pool) t.join();
    throw Error(ErrorCode::kOutOfMemory, "cannot start " + std::to_string(threads) +
                                             " threads (" + e.what() + "); lower --threads");
  }
  worker(0);
  for (auto& t : pool) t.join();
  if (error) std::rethrow_exception(error);
}

}  // namespace tensordiff
