// zlib vs libdeflate on the real chunks of a dataset (docs/design.md §6: we inflate chunks in
// our own threads, so which library is faster?): reads every raw chunk of DATASET once with
// H5Dread_chunk, then inflates them all with each library, median of 5, single thread.
// Usage: tensordiff_inflate_bench FILE DATASET
#include <hdf5.h>
#include <libdeflate.h>
#include <zlib.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <vector>

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: %s FILE DATASET\n", argv[0]);
    return 2;
  }
  hid_t f = H5Fopen(argv[1], H5F_ACC_RDONLY, H5P_DEFAULT);
  hid_t d = f < 0 ? -1 : H5Dopen2(f, argv[2], H5P_DEFAULT);
  if (d < 0) return 2;
  hid_t dcpl = H5Dget_create_plist(d), space = H5Dget_space(d);
  hsize_t chunk = 0, dim = 0;
  H5Pget_chunk(dcpl, 1, &chunk);
  H5Sget_simple_extent_dims(space, &dim, nullptr);
  const size_t raw = chunk * H5Tget_size(H5Dget_type(d));
  std::vector<std::vector<uint8_t>> chunks;
  for (hsize_t off = 0; off < dim; off += chunk) {
    hsize_t nbytes = 0;
    H5Dget_chunk_storage_size(d, &off, &nbytes);
    std::vector<uint8_t> c(nbytes);
    uint32_t mask = 0;
    H5Dread_chunk(d, H5P_DEFAULT, &off, &mask, c.data());
    chunks.push_back(std::move(c));
  }
  std::vector<uint8_t> out(raw);
  auto time_it = [&](auto&& inflate_one) {
    std::vector<double> t;
    for (int r = 0; r < 5; ++r) {
      const auto t0 = std::chrono::steady_clock::now();
      for (const auto& c : chunks) inflate_one(c);
      t.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    }
    std::sort(t.begin(), t.end());
    return t[2];
  };
  libdeflate_decompressor* ld = libdeflate_alloc_decompressor();
  const double t_ld = time_it([&](const std::vector<uint8_t>& c) {
    size_t got;
    libdeflate_zlib_decompress(ld, c.data(), c.size(), out.data(), out.size(), &got);
  });
  const double t_z = time_it([&](const std::vector<uint8_t>& c) {
    uLongf len = out.size();
    uncompress(out.data(), &len, c.data(), c.size());
  });
  const double gb = chunks.size() * raw / 1e9;
  std::printf("%zu chunks of %zu bytes: libdeflate %.3f s (%.2f GB/s out), zlib %.3f s (%.2f GB/s out), "
              "zlib/libdeflate %.2f\n", chunks.size(), raw, t_ld, gb / t_ld, t_z, gb / t_z, t_z / t_ld);
  libdeflate_free_decompressor(ld);
  return 0;
}
