// Execution order (docs/design.md §4): `order` attribute, else tracked creation order, else
// natural.
#include <gtest/gtest.h>

#include "fixtures/h5_writer.hpp"
#include "io/source.hpp"

namespace tdtest {
namespace {

using namespace tensordiff;

std::vector<std::string> names(const std::string& path) {
  auto src = open_hdf5(path, nullptr);
  std::vector<std::string> out;
  for (const auto& t : src->tensors()) out.push_back(t.name);
  return out;
}

const std::vector<std::string> kCreation = {"encoder.layers.2", "encoder.layers.2.act",
                                            "encoder.layers.10", "embed", "block/z", "block/a"};

void write_all(const std::string& path, bool track, bool with_order_attr) {
  H5Writer w(path, track);
  int64_t k = 0;
  for (const auto& n : kCreation) {
    DatasetSpec s;
    s.shape = {2};
    if (with_order_attr) {
      s.has_order = true;
      s.order = 100 - k;  // reverse of creation
    }
    ++k;
    w.write(n, s, to_bytes(std::vector<float>{1, 2}));
  }
}

TEST(Ordering, TrackedCreationOrder) {
  const std::string p = temp_dir() + "/t.h5";
  write_all(p, true, false);
  // Groups are visited where they were created; inside, their own creation order.
  EXPECT_EQ(names(p), (std::vector<std::string>{"encoder.layers.2", "encoder.layers.2.act",
                                                "encoder.layers.10", "embed", "block/z", "block/a"}));
}

TEST(Ordering, NaturalOrderWithoutTracking) {
  const std::string p = temp_dir() + "/n.h5";
  write_all(p, false, false);
  EXPECT_EQ(names(p), (std::vector<std::string>{"block/a", "block/z", "embed", "encoder.layers.2",
                                                "encoder.layers.2.act", "encoder.layers.10"}));
}

TEST(Ordering, OrderAttributeWins) {
  const std::string p = temp_dir() + "/o.h5";
  write_all(p, true, true);
  std::vector<std::string> want(kCreation.rbegin(), kCreation.rend());
  EXPECT_EQ(names(p), want);
}

}  // namespace
}  // namespace tdtest
