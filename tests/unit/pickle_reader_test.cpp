// The restricted unpickler (io/torch/pickle.hpp) and the torch.save reader built on it
// (io/torch/torch_source.cpp): state dicts in insertion order, shared storages, views through
// their strides; a pickle that would run code or is cut short is one Error naming the file.
#include <gtest/gtest.h>

#include "fixtures/format_writers.hpp"
#include "fixtures/h5_writer.hpp"
#include "io/formats.hpp"
#include "io/torch/pickle.hpp"

namespace tdtest {
namespace {

using namespace tensordiff;

// OrderedDict(w=<6 floats of storage 0 as 2x3>, b.t=<a 3x2 transposed view of storage 0>,
// ids=<3 int64 of storage 1>, step=12), with the _metadata BUILD torch.save writes.
Bytes state_dict_pickle() {
  PickleWriter p;
  p.ordered_dict().mark();
  p.str("w").tensor("FloatStorage", "0", 6, 0, {2, 3}, {3, 1});
  p.str("b.t").tensor("FloatStorage", "0", 6, 0, {3, 2}, {1, 3});
  p.str("ids").tensor("LongStorage", "1", 3, 0, {3}, {1});
  p.str("step").integer(12);
  p.op('u');                           // SETITEMS
  p.op('}').op('b');                   // BUILD with an empty dict (_metadata)
  return p.stop();
}

TEST(PickleReader, StateDictInInsertionOrderWithSharedStorages) {
  const Bytes data = state_dict_pickle();
  const Pickle pk = unpickle_state_dict(data, "t.pt: data.pkl");
  ASSERT_NE(pk.root, nullptr);
  ASSERT_EQ(pk.root->kind, PyValue::kDict);
  const auto& d = pk.root->dict;
  ASSERT_EQ(d.size(), 4u);
  const char* kNames[] = {"w", "b.t", "ids", "step"};
  for (size_t i = 0; i < 4; ++i) {
    ASSERT_EQ(d[i].first->kind, PyValue::kStr);
    EXPECT_EQ(d[i].first->s, kNames[i]);
  }
  const TorchTensor& w = *d[0].second->tensor;
  EXPECT_EQ(w.shape, (std::vector<uint64_t>{2, 3}));
  EXPECT_EQ(w.strides, (std::vector<uint64_t>{3, 1}));
  EXPECT_EQ(w.offset, 0u);
  EXPECT_EQ(w.storage->key, "0");
  EXPECT_EQ(w.storage->type, "FloatStorage");
  ASSERT_TRUE(w.storage->dtype.has_value());
  EXPECT_EQ(*w.storage->dtype, DType::kF32);
  EXPECT_EQ(w.storage->numel, 6u);
  const TorchTensor& bt = *d[1].second->tensor;
  EXPECT_EQ(bt.storage.get(), w.storage.get());  // one storage, two views
  EXPECT_EQ(bt.strides, (std::vector<uint64_t>{1, 3}));
  EXPECT_EQ(*d[2].second->tensor->storage->dtype, DType::kI64);
  EXPECT_EQ(d[3].second->kind, PyValue::kInt);
  EXPECT_EQ(d[3].second->i, 12);
}

// torch.save's zip layout: ARCHIVE/data.pkl, ARCHIVE/data/KEY, ARCHIVE/byteorder.
void write_pt(const std::string& path, const Bytes& pkl, bool deflate_storages = false) {
  const std::vector<float> s0 = {0, 1, 2, 3, 4, 5};
  const std::vector<int64_t> s1 = {-1, 1000000000000, 3};
  write_zip(path, {{"archive/data.pkl", pkl, false},
                   {"archive/byteorder", bytes_of("little"), false},
                   {"archive/data/0", to_bytes(s0), deflate_storages},
                   {"archive/data/1", to_bytes(s1), deflate_storages},
                   {"archive/version", bytes_of("3\n"), false}});
}

TEST(TorchReader, ListingAndBytesReadBack) {
  const std::string dir = temp_dir();
  const std::string p = dir + "/model.pt";
  write_pt(p, state_dict_pickle());
  EXPECT_EQ(detect_format(p), Format::kTorch);
  auto src = open_torch(p);
  ASSERT_EQ(names_of(*src), (std::vector<std::string>{"w", "b.t", "ids"}));  // insertion order
  const auto& t = src->tensors();
  EXPECT_EQ(t[0].dtype, DType::kF32);
  EXPECT_EQ(t[0].shape, (std::vector<uint64_t>{2, 3}));
  EXPECT_EQ(t[0].storage, "torch (FloatStorage)");
  EXPECT_EQ(t[1].shape, (std::vector<uint64_t>{3, 2}));
  EXPECT_EQ(t[2].dtype, DType::kI64);
  EXPECT_EQ(t[2].storage, "torch (LongStorage)");
  EXPECT_FALSE(t[0].big_endian);
  EXPECT_EQ(read_all(*src, 0), to_bytes(std::vector<float>{0, 1, 2, 3, 4, 5}));
  EXPECT_EQ(read_all(*src, 1), to_bytes(std::vector<float>{0, 3, 1, 4, 2, 5}));  // the transpose
  EXPECT_EQ(read_all(*src, 2), to_bytes(std::vector<int64_t>{-1, 1000000000000, 3}));
  ASSERT_EQ(src->notes().size(), 1u);  // "step"
  EXPECT_NE(src->notes()[0].find("1 values that are not tensors"), std::string::npos) << src->notes()[0];
}

TEST(TorchReader, DeflatedContiguousStoragesAreStreamed) {
  const std::string p = temp_dir() + "/z.pt";
  PickleWriter pw;
  pw.ordered_dict().mark();
  pw.str("w").tensor("FloatStorage", "0", 6, 2, {4}, {1});  // an offset into its storage
  pw.str("ids").tensor("LongStorage", "1", 3, 0, {3}, {1});
  pw.op('u');
  write_pt(p, pw.stop(), true);
  auto src = open_torch(p);
  ASSERT_EQ(names_of(*src), (std::vector<std::string>{"w", "ids"}));
  EXPECT_TRUE(src->sequential(0));
  EXPECT_EQ(read_all(*src, 0), to_bytes(std::vector<float>{2, 3, 4, 5}));
  EXPECT_EQ(read_all(*src, 1), to_bytes(std::vector<int64_t>{-1, 1000000000000, 3}));
}

TEST(PickleReader, AGlobalThatWouldRunCodeIsRefusedByName) {
  PickleWriter p;
  p.global("posix", "system").mark().str("touch PWNED").op('t').op('R');
  const Bytes data = p.stop();
  expect_error([&] { unpickle_state_dict(data, "evil.pt: data.pkl"); }, ErrorCode::kUnsupported,
               "evil.pt: data.pkl: refuses the pickle global 'posix.system'");
  // The same inside a checkpoint: the file is named.
  const std::string pt = temp_dir() + "/evil.pt";
  write_pt(pt, data);
  expect_error([&] { open_torch(pt); }, ErrorCode::kUnsupported, pt + ": data.pkl: refuses the pickle global 'posix.system'");
}

TEST(PickleReader, MalformedPicklesAreOneError) {
  Bytes cut = state_dict_pickle();
  cut.resize(cut.size() / 2);
  expect_error([&] { unpickle_state_dict(cut, "t.pt: data.pkl"); }, ErrorCode::kCorrupt,
               "t.pt: data.pkl: corrupt pickle (truncated at byte");
  PickleWriter odd;
  odd.op('}').mark().str("k").op('u').op('.');  // SETITEMS with a key and no value
  const Bytes o = odd.stop();
  expect_error([&] { unpickle_state_dict(o, "o.pt: data.pkl"); }, ErrorCode::kCorrupt, "SETITEMS with an odd count");
  const Bytes unknown = {0x80, 2, 'i', '.'};  // INST: not what a state dict uses
  expect_error([&] { unpickle_state_dict(unknown, "u.pt: data.pkl"); }, ErrorCode::kUnsupported,
               "u.pt: data.pkl: pickle opcode 0x69 is not one a state dict of tensors uses");
  // A storage key that climbs out of the archive's data/ folder.
  PickleWriter up;
  up.ordered_dict().mark().str("w").tensor("FloatStorage", "../x", 6, 0, {6}, {1}).op('u');
  const Bytes u = up.stop();
  expect_error([&] { unpickle_state_dict(u, "k.pt: data.pkl"); }, ErrorCode::kCorrupt, "a storage key that is not a plain name");
  // A checkpoint without data.pkl.
  const std::string pt = temp_dir() + "/nopkl.pt";
  write_zip(pt, {{"archive/data/0", Bytes(24), false}});
  expect_error([&] { open_torch(pt); }, ErrorCode::kCorrupt, pt + ": a zip without data.pkl");
}

}  // namespace
}  // namespace tdtest
