// Writes pairs of HDF5 dumps for the demo, the CLI tests and the benchmarks: A holds
// deterministic pseudo-random tensors, B the same with a small relative perturbation of every
// element and, from tensor --diverge-at on (in creation order), a larger error that every later
// tensor inherits, as when one layer of a model run goes wrong.
#include <hdf5.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
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

// A 2-byte float file type: float16 (h5py's layout) or bfloat16 (the custom-float spelling).
hid_t half_type(bool bf16) {
  hid_t t = H5Tcopy(H5T_IEEE_F32LE);
  if (bf16) H5Tset_fields(t, 15, 7, 8, 0, 7);
  else H5Tset_fields(t, 15, 10, 5, 0, 10);
  H5Tset_size(t, 2);
  H5Tset_precision(t, 16);
  H5Tset_ebias(t, bf16 ? 127 : 15);
  return t;
}

uint16_t to_bf16(float f) {
  uint32_t b;
  std::memcpy(&b, &f, 4);
  return static_cast<uint16_t>(b >> 16);
}

// float → float16 bits by truncation (normal range only: the generator's values are in [-2, 2]).
uint16_t to_f16(float f) {
  uint32_t b;
  std::memcpy(&b, &f, 4);
  const uint32_t sign = (b >> 16) & 0x8000;
  const int exp = static_cast<int>((b >> 23) & 0xff) - 127 + 15;
  if (exp <= 0) return static_cast<uint16_t>(sign);
  return static_cast<uint16_t>(sign | (exp << 10) | ((b >> 13) & 0x3ff));
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

// Checkpoint-like: many tensors, four dtypes (float32, bfloat16, float16, int64), B one ulp
// (or one unit) off in about one element in 16. mixed: 4-256 KiB each, in one group. tiny
// (W5/W6, issue 26): 16-1024 elements each, 100 tensors per group (model/layerNNNNN/pNN), as a
// capture of every module over many steps is: the listing, not the bytes, is the work.
int write_mixed(hid_t fa, hid_t fb, int n, bool tiny, bool track, uint64_t seed) {
  hid_t gcpl = H5Pcreate(H5P_GROUP_CREATE);
  if (track) H5Pset_link_creation_order(gcpl, H5P_CRT_ORDER_TRACKED | H5P_CRT_ORDER_INDEXED);
  const hid_t types[4] = {H5Tcopy(H5T_IEEE_F32LE), half_type(true), half_type(false), H5Tcopy(H5T_STD_I64LE)};
  std::vector<uint8_t> ba, bb;
  std::string group;
  for (int i = 0; i < n; ++i) {
    const int kind = i % 4;
    const size_t es = kind == 0 ? 4 : kind == 3 ? 8 : 2;
    const uint64_t count = tiny ? 16 + splitmix(seed) % (1024 - 16 + 1)
                                : (4096 + splitmix(seed) % (256 * 1024 - 4096)) / es;
    ba.assign(count * es, 0);
    bb.assign(count * es, 0);
    for (uint64_t k = 0; k < count; ++k) {
      const float x = static_cast<float>(2 * uniform(seed));
      const bool bump = splitmix(seed) % 16 == 0;
      if (kind == 0) {
        const float y = x * (1 + 1e-7f * static_cast<float>(uniform(seed)));
        std::memcpy(&ba[4 * k], &x, 4);
        std::memcpy(&bb[4 * k], &y, 4);
      } else if (kind == 3) {
        const int64_t v = static_cast<int64_t>(x * 1e6), w = v + (bump ? 1 : 0);
        std::memcpy(&ba[8 * k], &v, 8);
        std::memcpy(&bb[8 * k], &w, 8);
      } else {
        const uint16_t h = kind == 1 ? to_bf16(x) : to_f16(x);
        const uint16_t g = static_cast<uint16_t>(h ^ (bump ? 1 : 0));
        std::memcpy(&ba[2 * k], &h, 2);
        std::memcpy(&bb[2 * k], &g, 2);
      }
    }
    char name[64];
    if (tiny) {
      std::snprintf(name, sizeof name, "model/layer%05d", i / 100);
      if (i % 100 == 0 || group.empty()) group = name;
      std::snprintf(name, sizeof name, "model/layer%05d/p%02d", i / 100, i % 100);
    } else {
      std::snprintf(name, sizeof name, "model/layer%04d.%s", i / 4,
                    kind == 0 ? "weight" : kind == 1 ? "act_bf16" : kind == 2 ? "act_f16" : "index");
    }
    const hsize_t dim = count;
    hid_t space = H5Screate_simple(1, &dim, nullptr);
    for (auto [f, v] : {std::pair{fa, &ba}, std::pair{fb, &bb}}) {
      for (const std::string& g : {std::string("model"), tiny ? group : std::string()}) {
        if (g.empty() || H5Lexists(f, g.c_str(), H5P_DEFAULT) > 0) continue;
        H5Gclose(H5Gcreate2(f, g.c_str(), H5P_DEFAULT, gcpl, H5P_DEFAULT));
      }
      hid_t d = H5Dcreate2(f, name, types[kind], space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
      if (d < 0 || H5Dwrite(d, types[kind], H5S_ALL, H5S_ALL, H5P_DEFAULT, v->data()) < 0) {
        std::fprintf(stderr, "gen_dumps: cannot write %s\n", name);
        return 2;
      }
      H5Dclose(d);
    }
    H5Sclose(space);
  }
  for (hid_t t : types) H5Tclose(t);
  H5Pclose(gcpl);
  return 0;
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
      ("mixed", "small tensors of mixed dtypes (float32, bfloat16, float16, int64) of 4-256 KiB; "
                "--elems is ignored")
      ("tiny", "tiny tensors of mixed dtypes, 16-1024 elements, 100 per group (W5, W6); --elems is ignored")
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
  uint64_t seed = r["seed"].as<uint64_t>();
  if (r.count("mixed") || r.count("tiny")) {
    const bool tiny = r.count("tiny") > 0;
    const int rc = write_mixed(fa, fb, n, tiny, track, seed);
    H5Fclose(fa);
    H5Fclose(fb);
    return rc;
  }
  std::vector<float> va(elems), vb(elems);
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
