// A folder of dumps (per-rank files written by a training job: rank0/step3.h5, rank1/...,
// or any files in any of the formats read): one dump whose tensors are named
// "RELATIVE/PATH:tensor", so that `tensordiff DIR_A DIR_B` pairs files by relative path. The
// execution order runs across files: the step the path names (step0/, step3.h5: steps run one
// after another), then each tensor's order within its file, then the file's place in natural
// order (rank 0 before rank 1 at the same step).
#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <functional>

#include "io/formats.hpp"
#include "io/natural_sort.hpp"
#include "tensordiff/error.hpp"

namespace tensordiff {

namespace {

constexpr size_t kMaxFiles = 1000000;

void walk(const std::string& root, const std::string& rel, std::vector<std::string>& out, int depth) {
  if (depth > 32) throw Error(ErrorCode::kIo, root + "/" + rel + ": folders nested deeper than 32 levels");
  const std::string dir = rel.empty() ? root : root + "/" + rel;
  DIR* d = ::opendir(dir.c_str());
  if (!d) throw Error(ErrorCode::kIo, dir + ": cannot list the folder");
  std::vector<std::string> names;
  while (const dirent* e = ::readdir(d)) {
    const std::string n = e->d_name;
    if (n == "." || n == ".." || n[0] == '.') continue;  // hidden files: editors' and tools' own
    names.push_back(n);
  }
  ::closedir(d);
  std::sort(names.begin(), names.end(), natural_less);
  for (const auto& n : names) {
    const std::string r = rel.empty() ? n : rel + "/" + n;
    struct stat st;
    if (::lstat((root + "/" + r).c_str(), &st) != 0 || S_ISLNK(st.st_mode)) continue;  // links: not followed
    if (S_ISDIR(st.st_mode)) {
      if (::access((root + "/" + r + "/dump.json").c_str(), F_OK) == 0) out.push_back(r);  // an msprobe dump
      else walk(root, r, out, depth + 1);
    } else if (S_ISREG(st.st_mode)) {
      out.push_back(r);
    }
    if (out.size() > kMaxFiles) throw Error(ErrorCode::kIo, root + ": more than 10^6 files");
  }
}

class FolderSource final : public Source {
 public:
  FolderSource(const std::string& root, const EngineOptions& o) : root_(root) {
    const std::vector<std::string> files = folder_parts(root);
    struct Ref {
      size_t part, index;
      uint64_t order;
      int64_t step;
    };
    std::vector<Ref> refs;
    for (const std::string& rel : files) {
      const std::string path = root + "/" + rel;
      Format f;
      try {
        f = detect_format(path);
      } catch (const Error&) {
        notes_.push_back(root_ + ": " + rel + " is none of the formats read; skipped");
        continue;
      }
      if (f == Format::kMsprobeConfig) continue;  // msprobe's settings beside its dumps: no dump
      if (f == Format::kSummary || f == Format::kSafetensorsIndex) {
        notes_.push_back(root_ + ": " + rel + " (a " + format_name(f) + ") skipped");
        continue;
      }
      parts_.push_back(open_source(path, o));
      rel_.push_back(rel);
      const size_t p = parts_.size() - 1;
      for (const std::string& n : parts_[p]->notes()) notes_.push_back(n);
      const auto& t = parts_[p]->tensors();
      const int64_t step = step_of(rel);
      for (size_t i = 0; i < t.size(); ++i) refs.push_back({p, i, t[i].order, step});
    }
    // Across files: the step (steps run one after another: a step's tensors all come before
    // the next step's), then the order within a file, then the file (ranks of one step run
    // side by side: rank 0's k-th tensor before rank 1's).
    std::stable_sort(refs.begin(), refs.end(), [](const Ref& a, const Ref& b) {
      if (a.step != b.step) return a.step < b.step;
      return a.order != b.order ? a.order < b.order : a.part < b.part;
    });
    for (const Ref& r : refs) {
      TensorInfo t = parts_[r.part]->tensors()[r.index];
      t.name = rel_[r.part] + ":" + t.name;
      t.order = infos_->size();
      infos_->push_back(std::move(t));
      map_.push_back({r.part, r.index});
    }
  }
  const std::string& path() const override { return root_; }
  const std::vector<TensorInfo>& tensors() const override { return *infos_; }
  std::shared_ptr<const std::vector<TensorInfo>> shared_tensors() const override { return infos_; }
  std::vector<std::string> notes() const override { return notes_; }
  void read(size_t index, uint64_t first, uint64_t n, uint8_t* dst) override {
    parts_[map_[index].first]->read(map_[index].second, first, n, dst);
  }
  std::optional<std::vector<uint8_t>> uniform_value(size_t index) const override {
    return parts_[map_[index].first]->uniform_value(map_[index].second);
  }
  std::optional<std::string> read_error(size_t index) const override {
    return parts_[map_[index].first]->read_error(map_[index].second);
  }
  bool sequential(size_t index) const override { return parts_[map_[index].first]->sequential(map_[index].second); }

 private:
  std::string root_;
  std::vector<std::unique_ptr<Source>> parts_;
  std::vector<std::string> rel_, notes_;
  std::shared_ptr<std::vector<TensorInfo>> infos_ = std::make_shared<std::vector<TensorInfo>>();
  std::vector<std::pair<size_t, size_t>> map_;
};

}  // namespace

// The training step a file's relative path names: the number of its last path component
// "step<N>" (msprobe's step0/rank0, a folder step_12/) or "step<N>.<ext>" (rank0/step3.h5); -1
// when none does (such files order as one step, before any numbered one).
int64_t step_of(const std::string& rel) {
  int64_t step = -1;
  size_t start = 0;
  while (start <= rel.size()) {
    size_t end = rel.find('/', start);
    if (end == std::string::npos) end = rel.size();
    std::string part = rel.substr(start, end - start);
    if (part.size() > 4 && part.compare(0, 4, "step") == 0) {
      size_t k = 4;
      if (part[k] == '_' || part[k] == '-') ++k;
      size_t e = k;
      while (e < part.size() && std::isdigit(static_cast<unsigned char>(part[e])) && e - k < 18) ++e;
      if (e > k && (e == part.size() || part[e] == '.')) step = std::stoll(part.substr(k, e - k));
    }
    start = end + 1;
  }
  return step;
}

std::vector<std::string> folder_parts(const std::string& root) {
  std::vector<std::string> files;
  walk(root, "", files, 0);
  return files;
}

std::unique_ptr<Source> open_folder(const std::string& path, const EngineOptions& o) {
  return std::make_unique<FolderSource>(path, o);
}

}  // namespace tensordiff
