// Writes pairs of HDF5 dumps for the demo, the CLI tests and the benchmarks: A holds
// deterministic pseudo-random tensors, B the same with a small relative perturbation of every
// element and, from tensor --diverge-at on (in creation order), a larger error that every later
// tensor inherits, as when one layer of a model run goes wrong.
#include <hdf5.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cxxopts.hpp>
#include <string>
#include <vector>

namespace {

uint64_t splitmix(uint64_t& s) {
  uint64_t z = (s += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}
double uniform(uint64_t& s) { return (splitmix(s) >> 11) * 0x1.0p-53 * 2.0 - 1.0; }

// Demo names: execution order differs from both alphabetical and natural order
// (encoder.layers.2 runs before encoder.layers.2.act before encoder.layers.10).
std::string tensor_name(const std::string& preset, int i, int n) {
  if (preset == "model") {
    if (i == 0) return "embed";
    if (i == n - 1) return "head.logits";
    const int layer = (i - 1) / 2;
    return "encoder.layers." + std::to_string(layer) + ((i - 1) % 2 ? ".act" : "");
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, "t%03d", i);
  return buf;
}

hid_t make_file(const std::string& path, bool track_order) {
  hid_t fcpl = H5Pcreate(H5P_FILE_CREATE);
  if (track_order) H5Pset_link_creation_order(fcpl, H5P_CRT_ORDER_TRACKED | H5P_CRT_ORDER_INDEXED);
  hid_t f = H5Fcreate(path.c_str(), H5F_ACC_TRUNC, fcpl, H5P_DEFAULT);
  H5Pclose(fcpl);
  if (f < 0) {
    std::fprintf(stderr, "gen_dumps: cannot create %s\n", path.c_str());
    std::exit(2);
  }
  return f;
}

}  // namespace

int main(int argc, char** argv) {
  cxxopts::Options o("tensordiff_gen", "write two HDF5 dumps that differ slightly everywhere and "
                                       "strongly from one tensor on");
  o.add_options()
      ("out-a", "output A", cxxopts::value<std::string>())
      ("out-b", "output B", cxxopts::value<std::string>())
      ("tensors", "number of tensors", cxxopts::value<int>()->default_value("20"))
      ("elems", "elements per tensor", cxxopts::value<uint64_t>()->default_value("100000"))
      ("preset", "names: model or plain", cxxopts::value<std::string>()->default_value("model"))
      ("noise", "relative perturbation of every element of B", cxxopts::value<double>()->default_value("1e-7"))
      ("diverge-at", "first diverging tensor (creation order); -1: none", cxxopts::value<int>()->default_value("-1"))
      ("error", "relative error from --diverge-at on", cxxopts::value<double>()->default_value("1e-3"))
      ("chunk-elems", "chunked layout with this many elements per chunk (0: contiguous)",
       cxxopts::value<uint64_t>()->default_value("0"))
      ("gzip", "deflate level for chunked datasets (0: none)", cxxopts::value<int>()->default_value("0"))
      ("shuffle", "shuffle filter for chunked datasets")
      ("no-track-order", "do not record creation order (names then decide the order)")
      ("seed", "random seed", cxxopts::value<uint64_t>()->default_value("1"))
      ("h,help", "help");
  auto r = o.parse(argc, argv);
  if (r.count("help") || !r.count("out-a") || !r.count("out-b")) {
    std::printf("%s\n", o.help().c_str());
    return r.count("help") ? 0 : 2;
  }
  const int n = r["tensors"].as<int>();
  const uint64_t elems = r["elems"].as<uint64_t>();
  const double noise = r["noise"].as<double>(), err = r["error"].as<double>();
  const int diverge = r["diverge-at"].as<int>();
  const uint64_t chunk = r["chunk-elems"].as<uint64_t>();
  const bool track = !r.count("no-track-order");
  hid_t fa = make_file(r["out-a"].as<std::string>(), track);
  hid_t fb = make_file(r["out-b"].as<std::string>(), track);
  std::vector<float> va(elems), vb(elems);
  uint64_t seed = r["seed"].as<uint64_t>();
  for (int i = 0; i < n; ++i) {
    for (uint64_t k = 0; k < elems; ++k) {
      const double x = uniform(seed);
      va[k] = static_cast<float>(x);
      double y = x * (1 + noise * uniform(seed));
      if (diverge >= 0 && i >= diverge) y += err * (1 + (i - diverge)) * uniform(seed);
      vb[k] = static_cast<float>(y);
    }
    const hsize_t dim = elems;
    hid_t space = H5Screate_simple(1, &dim, nullptr);
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    if (chunk > 0) {
      const hsize_t c = std::min<uint64_t>(chunk, std::max<uint64_t>(elems, 1));
      H5Pset_chunk(dcpl, 1, &c);
      if (r.count("shuffle")) H5Pset_shuffle(dcpl);
      if (r["gzip"].as<int>() > 0) H5Pset_deflate(dcpl, r["gzip"].as<int>());
    }
    const std::string name = tensor_name(r["preset"].as<std::string>(), i, n);
    for (auto [f, v] : {std::pair{fa, &va}, std::pair{fb, &vb}}) {
      hid_t d = H5Dcreate2(f, name.c_str(), H5T_IEEE_F32LE, space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
      if (d < 0 || H5Dwrite(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, v->data()) < 0) {
        std::fprintf(stderr, "gen_dumps: cannot write %s\n", name.c_str());
        return 2;
      }
      H5Dclose(d);
    }
    H5Pclose(dcpl);
    H5Sclose(space);
  }
  H5Fclose(fa);
  H5Fclose(fb);
  return 0;
}
