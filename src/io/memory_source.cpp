#include "io/memory_source.hpp"

#include <cstring>
#include <unordered_set>

#include "tensordiff/error.hpp"

namespace tensordiff {

namespace {

class MemorySource final : public Source {
 public:
  MemorySource(const std::vector<ArrayView>& arrays, std::string label) : label_(std::move(label)) {
    std::unordered_set<std::string> names;
    for (size_t i = 0; i < arrays.size(); ++i) {
      const ArrayView& v = arrays[i];
      if (!names.insert(v.name).second)
        throw Error(ErrorCode::kUsage, label_ + ": two arrays named '" + v.name + "'");
      TensorInfo t;
      t.name = v.name;
      t.shape = v.shape;
      t.count = 1;
      for (uint64_t d : v.shape) {
        if (d != 0 && t.count > UINT64_MAX / d / 16)
          throw Error(ErrorCode::kUsage, label_ + ": array '" + v.name + "': shape overflows");
        t.count *= d;
      }
      if (v.data == nullptr && t.count > 0)
        throw Error(ErrorCode::kUsage, label_ + ": array '" + v.name + "' has no data");
      t.dtype = v.dtype;
      t.type_name = dtype_name(v.dtype);
      t.storage = "memory";
      t.order = i;
      t.source = v.source;
      infos_->push_back(std::move(t));
      data_.push_back(static_cast<const uint8_t*>(v.data));
    }
  }
  const std::string& path() const override { return label_; }
  const std::vector<TensorInfo>& tensors() const override { return *infos_; }
  std::shared_ptr<const std::vector<TensorInfo>> shared_tensors() const override { return infos_; }
  void read(size_t index, uint64_t first, uint64_t n, uint8_t* dst) override {
    const size_t es = dtype_size((*infos_)[index].dtype);
    std::memcpy(dst, data_[index] + first * es, n * es);
  }

 private:
  std::string label_;
  std::shared_ptr<std::vector<TensorInfo>> infos_ = std::make_shared<std::vector<TensorInfo>>();
  std::vector<const uint8_t*> data_;
};

}  // namespace

std::unique_ptr<Source> memory_source(const std::vector<ArrayView>& arrays, const std::string& label) {
  return std::make_unique<MemorySource>(arrays, label);
}

}  // namespace tensordiff
