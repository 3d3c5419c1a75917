// The floor of a comparison: reading both files' bytes once, with the same number of threads
// as tensordiff uses (each thread preads its share of each file in 8 MiB pieces).
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: tensordiff_readfloor THREADS FILE...\n");
    return 2;
  }
  const unsigned threads = std::max(1, std::atoi(argv[1]));
  constexpr size_t kPiece = 8 << 20;
  struct Piece { int fd; off_t off; size_t len; };
  std::vector<Piece> pieces;
  size_t total = 0;
  for (int i = 2; i < argc; ++i) {
    const int fd = ::open(argv[i], O_RDONLY);
    struct stat st;
    if (fd < 0 || ::fstat(fd, &st) != 0) {
      std::fprintf(stderr, "cannot open %s\n", argv[i]);
      return 2;
    }
    for (off_t off = 0; off < st.st_size; off += kPiece)
      pieces.push_back({fd, off, static_cast<size_t>(std::min<off_t>(kPiece, st.st_size - off))});
    total += st.st_size;
  }
  std::atomic<size_t> next{0}, sum{0};
  const auto t0 = std::chrono::steady_clock::now();
  std::vector<std::thread> pool;
  for (unsigned t = 0; t < threads; ++t)
    pool.emplace_back([&] {
      std::vector<char> buf(kPiece);
      size_t local = 0;
      for (size_t i; (i = next++) < pieces.size();) {
        const ssize_t r = ::pread(pieces[i].fd, buf.data(), pieces[i].len, pieces[i].off);
        if (r > 0) local += static_cast<unsigned char>(buf[r - 1]) + static_cast<size_t>(r);
      }
      sum += local;
    });
  for (auto& t : pool) t.join();
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("%.6f s %zu bytes %.3f GB/s (check %zu)\n", s, total, total / 1e9 / s, sum.load() & 0xff);
  return 0;
}
