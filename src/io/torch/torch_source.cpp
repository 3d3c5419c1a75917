// PyTorch checkpoints in torch.save's zip format (torch >= 1.6): ARCHIVE/data.pkl describes
// the objects (read by the restricted unpickler of pickle.hpp: nothing is run), and each
// storage is the stored member ARCHIVE/data/KEY, read in place with pread (views through
// their strides). Nested dicts and lists of tensors are named like state dicts: "a.b.0".
#include <set>
#include <unordered_set>

#include "io/formats.hpp"
#include "io/raw_source.hpp"
#include "io/torch/pickle.hpp"
#include "io/torch/zip_archive.hpp"
#include "tensordiff/error.hpp"

namespace tensordiff {

namespace {

constexpr uint64_t kMaxPickle = uint64_t(1) << 30;  // data.pkl of a state dict is KBs to MBs

struct Leaf {
  std::string name;
  const TorchTensor* tensor;
};

// Tensors of the object tree in insertion order; values that are not tensors are counted.
void flatten(const PyValue* v, const std::string& name, int depth, std::vector<Leaf>& out,
             uint64_t& skipped, const std::string& what) {
  if (depth > 64) throw Error(ErrorCode::kCorrupt, what + ": objects nested deeper than 64 levels");
  auto child = [&](const std::string& k) { return name.empty() ? k : name + "." + k; };
  switch (v->kind) {
    case PyValue::kTensor: out.push_back({name, v->tensor.get()}); break;
    case PyValue::kDict:
      for (const auto& [k, x] : v->dict) {
        if (k->kind == PyValue::kStr) flatten(x, child(k->s), depth + 1, out, skipped, what);
        else if (k->kind == PyValue::kInt) flatten(x, child(std::to_string(k->i)), depth + 1, out, skipped, what);
        else ++skipped;
      }
      break;
    case PyValue::kList:
    case PyValue::kTuple:
      for (size_t i = 0; i < v->items.size(); ++i) flatten(v->items[i], child(std::to_string(i)), depth + 1, out, skipped, what);
      break;
    default: ++skipped;
  }
}

std::string stem(const std::string& path) {
  std::string s = path.substr(path.rfind('/') == std::string::npos ? 0 : path.rfind('/') + 1);
  const auto dot = s.rfind('.');
  return dot == std::string::npos || dot == 0 ? s : s.substr(0, dot);
}

}  // namespace

std::vector<RawTensor> torch_tensors(const std::string& path, size_t file, const std::string& root_name,
                                     std::vector<std::string>& notes) {
  const std::vector<ZipMember> members = list_zip(path, 16);
  const ZipMember* pkl = nullptr;
  for (const auto& m : members)
    if (m.name == "data.pkl" || (m.name.size() > 9 && m.name.compare(m.name.size() - 9, 9, "/data.pkl") == 0)) {
      pkl = &m;
      break;
    }
  if (!pkl) throw Error(ErrorCode::kCorrupt, path + ": a zip without data.pkl: not a torch.save checkpoint");
  const std::string prefix = pkl->name.substr(0, pkl->name.size() - 8);  // "archive/"
  std::unordered_map<std::string, const ZipMember*> by_name;
  for (const auto& m : members) by_name.emplace(m.name, &m);
  bool torchscript = by_name.count(prefix + "constants.pkl") > 0;
  for (const auto& m : members) torchscript = torchscript || m.name.rfind(prefix + "code/", 0) == 0;
  if (torchscript)
    throw Error(ErrorCode::kUnsupported, path + ": a TorchScript archive, not a state dict (save model.state_dict())");
  if (pkl->size > kMaxPickle) throw Error(ErrorCode::kCorrupt, path + ": data.pkl of " + std::to_string(pkl->size) + " bytes");
  std::vector<uint8_t> data(pkl->size);
  open_zip_member(path, *pkl, 0)->read(data.data(), data.size());
  bool big_endian = false;
  if (const auto it = by_name.find(prefix + "byteorder"); it != by_name.end())
    big_endian = std::string(it->second->head.begin(), it->second->head.end()).rfind("big", 0) == 0;

  const Pickle pickle = unpickle_state_dict(data, path + ": data.pkl");
  std::vector<Leaf> leaves;
  uint64_t skipped = 0;
  flatten(pickle.root, pickle.root->kind == PyValue::kTensor ? root_name : "", 0, leaves, skipped, path);

  std::vector<RawTensor> tensors;
  std::unordered_set<std::string> names;
  for (const Leaf& l : leaves) {
    if (!names.insert(l.name).second) throw Error(ErrorCode::kCorrupt, path + ": two tensors named '" + l.name + "'");
    const TorchTensor& x = *l.tensor;
    RawTensor t;
    t.file = file;
    t.info.name = l.name;
    t.info.shape = x.shape;
    t.info.count = checked_count(x.shape, path + ": tensor '" + l.name + "'");
    t.info.storage = "torch (" + x.storage->type + ")";
    if (!x.storage->dtype) {
      t.info.type_name = x.storage->type;
      t.info.unsupported = "torch storage type " + x.storage->type;
      tensors.push_back(std::move(t));
      continue;
    }
    const DType dt = *x.storage->dtype;
    const size_t es = dtype_size(dt);
    t.info.dtype = dt;
    t.info.big_endian = big_endian && es > 1;
    const auto it = by_name.find(prefix + "data/" + x.storage->key);
    if (it == by_name.end()) {
      t.error = "its storage data/" + x.storage->key + " is missing from the archive";
      tensors.push_back(std::move(t));
      continue;
    }
    const ZipMember& m = *it->second;
    // The view's extent within its storage.
    bool contiguous = true;
    uint64_t last = x.offset;
    const std::vector<uint64_t> c = c_strides(x.shape);
    for (size_t d = 0; d < x.shape.size(); ++d) {
      if (x.shape[d] > 1 && x.strides[d] != c[d]) contiguous = false;
      if (x.shape[d] > 0 && x.strides[d] > (uint64_t(1) << 60) / x.shape[d]) {
        t.error = "strides beyond 2^60 elements";
        break;
      }
      if (x.shape[d] > 0) last += (x.shape[d] - 1) * x.strides[d];
    }
    if (t.error.empty() && t.info.count > 0 && (last + 1) * es > m.size)
      t.error = "its view reaches element " + std::to_string(last) + " of a storage of " +
                std::to_string(m.size / es) + " elements: the checkpoint is corrupt";
    if (t.error.empty() && m.method != 0) {
      if (!contiguous) {
        t.error = "a strided view of a compressed storage (torch.save stores them uncompressed)";
      } else {
        const ZipMember copy = m;
        const uint64_t skip = x.offset * es;
        t.open_stream = [path, copy, skip] { return open_zip_member(path, copy, skip); };
      }
    }
    t.offset = m.data_offset + x.offset * es;
    if (!contiguous) t.strides = x.strides;
    tensors.push_back(std::move(t));
  }
  if (skipped > 0)
    notes.push_back(path + ": " + std::to_string(skipped) + " values that are not tensors (numbers, strings) were skipped");
  return tensors;
}

std::unique_ptr<Source> open_torch(const std::string& path) {
  std::vector<std::string> notes;
  std::vector<RawTensor> tensors = torch_tensors(path, 0, stem(path), notes);
  return raw_source(path, {path}, std::move(tensors), std::move(notes));
}

}  // namespace tensordiff
