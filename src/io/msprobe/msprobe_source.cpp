// msprobe dumps (Ascend's accuracy tool, mindstudio-probe): a folder
// dump_path/step{N}/rank{R}/ (or proc{pid}/) holding dump.json, stack.json and, for task
// "tensor", dump_tensor_data/ with one file per tensor (.pt from PyTorch via torch.save, .npy
// from MindSpore, bfloat16/float8 widened to float32). dump.json's "data" is in execution order:
//   {"Functional.linear.0.forward": {"input_args": [T, ...], "input_kwargs": {"k": T},
//    "output": [T]}, "Functional.linear.0.backward": {"input": [T], "output": [T]},
//    "Module.fc.Linear.forward.0": {..., "parameters": {"weight": T}},
//    "Module.fc.Linear.parameters_grad.0": {"weight": [T]}}
// with T = {"type": "torch.Tensor", "dtype": "torch.float32", "shape": [2, 3], "Max", "Min",
// "Mean", "Norm", "data_name": "Functional.linear.0.forward.input.0.pt"} and non-tensors as
// {"type": "int", "value": 1} or null. Tensors are named as msprobe names their files
// (entry + category + index path), so tensor and statistics dumps line up. Python's json
// writes NaN and Infinity bare; they are read as such.
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <climits>
#include <cstdint>
#include <functional>
#include <cmath>
#include <cstring>
#include <map>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <unordered_map>
#include <unordered_set>

#include "io/formats.hpp"
#include "io/input_file.hpp"
#include "io/msprobe/msprobe.hpp"
#include "io/numpy/npy.hpp"
#include "io/raw_source.hpp"
#include "tensordiff/error.hpp"

namespace tensordiff {

namespace {

using nlohmann::ordered_json;

// dump.json and stack.json: a listing of 10^5 entries is hundreds of MB; a file beyond this is
// no listing (and is refused before it is read).
constexpr uint64_t kMaxJson = uint64_t(4) << 30;

// dump.json as the parser reads it: a block at a time (a dump of 10^5 entries is hundreds of MB,
// and was read whole, copied and held as a document ~10 times its size; issue 26), Python's bare
// NaN / Infinity / -Infinity (outside strings) quoted as strings, which JSON can carry. At most
// the size the file had when opened (a file that grows is not followed).
class QuotedJson {
 public:
  QuotedJson(const std::string& path, uint64_t max_bytes) : file_(open_input_file(path)), path_(path) {
    if (file_.size > max_bytes) {
      ::close(file_.fd);
      throw Error(ErrorCode::kCorrupt, path + ": " + std::to_string(file_.size) + " bytes, more than the " +
                                           std::to_string(max_bytes) + " such a file may hold");
    }
  }
  ~QuotedJson() { ::close(file_.fd); }
  QuotedJson(const QuotedJson&) = delete;
  QuotedJson& operator=(const QuotedJson&) = delete;

  // The next character, or -1 at the end.
  int next() {
    if (queued_ < queue_.size()) return static_cast<unsigned char>(queue_[queued_++]);
    if (!available(1)) return -1;
    const char c = buf_[pos_++];
    if (in_string_) {
      if (escaped_) escaped_ = false;
      else if (c == '\\') escaped_ = true;
      else if (c == '"') in_string_ = false;
      return static_cast<unsigned char>(c);
    }
    if (c == '"') {
      in_string_ = true;
    } else if (c == 'N' || c == 'I' || c == '-') {
      --pos_;
      available(9);  // the longest word's length: the rest of the file when shorter
      for (const char* w : {"NaN", "Infinity", "-Infinity"}) {
        const size_t n = std::strlen(w);
        if (len_ - pos_ >= n && std::memcmp(buf_.data() + pos_, w, n) == 0) {
          pos_ += n;
          queue_.assign(w);
          queue_ += '"';
          queued_ = 0;
          return '"';
        }
      }
      ++pos_;
    }
    return static_cast<unsigned char>(c);
  }

 private:
  // At least n bytes from pos_ in the buffer, if the file has them.
  bool available(size_t n) {
    if (len_ - pos_ >= n) return true;
    std::memmove(buf_.data(), buf_.data() + pos_, len_ - pos_);
    len_ -= pos_;
    pos_ = 0;
    while (len_ < n && read_ < file_.size) {
      const size_t want = static_cast<size_t>(std::min<uint64_t>(buf_.size() - len_, file_.size - read_));
      const ssize_t r = ::pread(file_.fd, buf_.data() + len_, want, static_cast<off_t>(read_));
      if (r < 0 && errno == EINTR) continue;
      if (r < 0) throw Error(ErrorCode::kIo, path_ + ": cannot read: " + std::strerror(errno));
      if (r == 0) break;  // shrunk since it was opened: what is there
      len_ += static_cast<size_t>(r);
      read_ += static_cast<uint64_t>(r);
    }
    return len_ - pos_ >= n;
  }

  InputFile file_;
  std::string path_;
  std::vector<char> buf_ = std::vector<char>(size_t(1) << 20);
  size_t pos_ = 0, len_ = 0;
  uint64_t read_ = 0;  // bytes of the file read so far
  bool in_string_ = false, escaped_ = false;
  std::string queue_;  // the rest of a quoted word
  size_t queued_ = 0;
};

// QuotedJson's characters as the input iterator the JSON parser reads (its end: a default one).
class QuotedIterator {
 public:
  using iterator_category = std::input_iterator_tag;
  using value_type = char;
  using difference_type = std::ptrdiff_t;
  using pointer = const char*;
  using reference = const char&;
  QuotedIterator() = default;
  explicit QuotedIterator(QuotedJson* in) : in_(in) { ++*this; }
  const char& operator*() const { return c_; }
  QuotedIterator& operator++() {
    const int c = in_ ? in_->next() : -1;
    if (c < 0) in_ = nullptr;
    else c_ = static_cast<char>(c);
    return *this;
  }
  bool operator==(const QuotedIterator& o) const { return in_ == o.in_; }
  bool operator!=(const QuotedIterator& o) const { return in_ != o.in_; }

 private:
  QuotedJson* in_ = nullptr;
  char c_ = 0;
};

std::optional<double> number(const ordered_json& v) {
  if (v.is_number()) return v.get<double>();
  if (v.is_boolean()) return v.get<bool>() ? 1.0 : 0.0;  // bool tensors: Max = any, Min = all
  if (v.is_string()) {
    const std::string s = v.get<std::string>();
    if (s == "NaN") return std::nan("");
    if (s == "Infinity") return INFINITY;
    if (s == "-Infinity") return -INFINITY;
  }
  return std::nullopt;
}

// "torch.float32", "Float32", "BFloat16", "torch.bool", ... → our dtype.
std::optional<DType> msprobe_dtype(std::string s) {
  if (s.rfind("torch.", 0) == 0) s = s.substr(6);
  std::string l;
  for (char c : s)
    if (c != '_') l += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  static const std::map<std::string, DType> kTypes = {
      {"float64", DType::kF64}, {"double", DType::kF64}, {"float32", DType::kF32}, {"float", DType::kF32},
      {"float16", DType::kF16}, {"half", DType::kF16}, {"bfloat16", DType::kBF16},
      {"float8e4m3fn", DType::kF8E4M3}, {"float8e5m2", DType::kF8E5M2},
      {"int8", DType::kI8}, {"int16", DType::kI16}, {"int32", DType::kI32}, {"int64", DType::kI64},
      {"long", DType::kI64}, {"int", DType::kI32}, {"uint8", DType::kU8}, {"uint16", DType::kU16},
      {"uint32", DType::kU32}, {"uint64", DType::kU64}, {"bool", DType::kBool}};
  const auto it = kTypes.find(l);
  if (it == kTypes.end()) return std::nullopt;
  return it->second;
}

bool is_tensor(const ordered_json& v) {
  if (!v.is_object() || !v.contains("type") || !v["type"].is_string()) return false;
  const std::string t = v["type"].get<std::string>();
  return t.find("Tensor") != std::string::npos || t == "numpy.ndarray";
}

// The category msprobe puts in a file name for each key of an entry.
std::string category(const std::string& key) {
  if (key == "input_args") return "input";
  if (key == "input_kwargs") return "kwargs";
  return key;  // output, input (backward), parameters
}

void collect(const ordered_json& v, const std::string& name, int depth, std::vector<MsprobeTensor>& out,
             const std::string& what) {
  if (depth > 32) throw Error(ErrorCode::kCorrupt, what + ": '" + name + "' nested deeper than 32 levels");
  if (is_tensor(v)) {
    MsprobeTensor t;
    t.name = name;
    if (v.contains("dtype") && v["dtype"].is_string()) t.dtype = v["dtype"].get<std::string>();
    if (v.contains("shape") && v["shape"].is_array())
      for (const auto& d : v["shape"]) {
        if (!d.is_number_unsigned()) throw Error(ErrorCode::kCorrupt, what + ": '" + name + "': shape must hold sizes");
        t.shape.push_back(d.get<uint64_t>());
      }
    if (v.contains("data_name") && v["data_name"].is_string()) t.data_name = v["data_name"].get<std::string>();
    for (const auto& [key, field] : {std::pair{"Max", &t.max}, {"Min", &t.min}, {"Mean", &t.mean}, {"Norm", &t.norm}})
      if (v.contains(key)) *field = number(v[key]);
    if (v.contains("md5") && v["md5"].is_string()) t.crc32 = v["md5"].get<std::string>();
    out.push_back(std::move(t));
    return;
  }
  if (v.is_object() && v.contains("type") && v["type"].is_string() && v.contains("value")) {
    // A non-tensor argument: compared as a value (a slipped eps is named here, exactly).
    MsprobeTensor t;
    t.name = name;
    t.value = v["type"].get<std::string>() + " " + v["value"].dump(-1, ' ', false, ordered_json::error_handler_t::replace);
    if (t.value->size() > 4096) t.value = t.value->substr(0, 4096) + "...";
    out.push_back(std::move(t));
    return;
  }
  if (v.is_array()) {
    for (size_t i = 0; i < v.size(); ++i) collect(v[i], name + "." + std::to_string(i), depth + 1, out, what);
  } else if (v.is_object() && !v.contains("type")) {  // a dict of arguments (not a non-tensor value)
    for (const auto& [k, x] : v.items()) collect(x, name + "." + k, depth + 1, out, what);
  }
}

// Frames that are not the user's: installed packages (pip's site-packages, Debian's
// dist-packages), the frameworks and msprobe wherever they live (a source checkout of torch),
// and Python's own library (/usr/lib/python3.11/contextlib.py).
bool framework_frame(const std::string& file) {
  for (const char* part : {"/site-packages/", "/dist-packages/", "/torch/", "/mindspore/", "/msprobe/", "/lib/python"})
    if (file.find(part) != std::string::npos) return true;
  return file.rfind("<frozen ", 0) == 0;
}

// "File /x/model.py, line 41, in forward, \n y = self.fc(x)" → "/x/model.py:41", for the first
// frame that is the user's (framework_frame).
std::string user_frame(const ordered_json& lines) {
  for (const auto& l : lines) {
    if (!l.is_string()) continue;
    const std::string s = l.get<std::string>();
    if (s.rfind("File ", 0) != 0) continue;
    const size_t comma = s.find(", line ");
    if (comma == std::string::npos) continue;
    const std::string file = s.substr(5, comma - 5);
    if (framework_frame(file)) continue;
    size_t k = comma + 7, e = k;
    while (e < s.size() && std::isdigit(static_cast<unsigned char>(s[e]))) ++e;
    return file + ":" + s.substr(k, e - k);
  }
  return "";
}

// Entry name → its user's source line, from stack.json (both of its layouts).
// stack.json is opened like every file of the dump (read_input_text: a regular file inside the
// folder, of bounded size); one that is absent costs the source lines only, and so does one
// whose JSON is broken.
std::unordered_map<std::string, std::string> read_stacks(const std::string& dir) {
  std::unordered_map<std::string, std::string> out;
  const std::string path = dir + "/stack.json";
  struct stat st;
  if (::lstat(path.c_str(), &st) != 0) return out;
  check_inside_folder(dir, path);
  const std::string text = read_input_text(path, kMaxJson);
  ordered_json j;
  try {  // {"0": [[names], ["File ..."]]}: a few levels; deeper is broken (and not recursed into)
    const ordered_json::parser_callback_t limit = [](int depth, ordered_json::parse_event_t, ordered_json&) {
      if (depth > 8) throw std::runtime_error("nested too deep");
      return true;
    };
    j = ordered_json::parse(text, limit, false);
  } catch (const std::runtime_error&) {
    return out;
  }
  if (!j.is_object()) return out;  // a broken stack.json costs the source lines only
  for (const auto& [k, v] : j.items()) {
    if (v.is_array() && v.size() == 2 && v[0].is_array() && v[1].is_array()) {  // {"0": [[names], [lines]]}
      const std::string src = user_frame(v[1]);
      for (const auto& n : v[0])
        if (n.is_string()) out.emplace(n.get<std::string>(), src);
    } else if (v.is_array()) {  // {name: [lines]}
      out.emplace(k, user_frame(v));
    }
  }
  return out;
}

std::string dims(const std::vector<uint64_t>& s) {
  std::string out = "(";
  for (size_t i = 0; i < s.size(); ++i) out += (i ? ", " : "") + std::to_string(s[i]);
  return out + (s.size() == 1 ? ",)" : ")");
}

// dump.json's entries (their keys, in the file's order) in execution order. Module dumps (L0) write a module's parameters_grad
// entry right after its forward, where msprobe (<= 8.3.3) leaves a placeholder the backward
// fills later; the gradient is made in backward: it goes right after the module's backward
// entry (the last "PREFIX.backward..." entry, PREFIX being the entry up to ".parameters_grad"),
// or after everything when the dump holds no such backward. Every other entry keeps its place.
std::vector<size_t> execution_order(const std::vector<std::string>& keys) {
  std::vector<size_t> rest;
  std::unordered_map<std::string, std::vector<size_t>> grads;  // module prefix -> its gradient entries
  std::vector<std::string> grad_order;
  for (size_t i = 0; i < keys.size(); ++i) {
    const std::string& k = keys[i];
    const size_t at = k.find(".parameters_grad");
    if (at != std::string::npos && (at + 16 == k.size() || k[at + 16] == '.')) {
      const std::string prefix = k.substr(0, at);
      if (!grads.count(prefix)) grad_order.push_back(prefix);
      grads[prefix].push_back(i);
    } else {
      rest.push_back(i);
    }
  }
  if (grads.empty()) return rest;
  // The last backward entry of each module with gradients: "PREFIX.backward" or "PREFIX.backward.N".
  std::unordered_map<std::string, size_t> last_backward;
  for (size_t i = 0; i < rest.size(); ++i) {
    const std::string& k = keys[rest[i]];
    for (size_t at = k.find(".backward"); at != std::string::npos; at = k.find(".backward", at + 1))
      if ((at + 9 == k.size() || k[at + 9] == '.') && grads.count(k.substr(0, at))) last_backward[k.substr(0, at)] = i;
  }
  std::vector<std::vector<const std::string*>> after(rest.size());
  std::vector<const std::string*> at_end;
  for (const std::string& prefix : grad_order) {
    const auto it = last_backward.find(prefix);
    (it == last_backward.end() ? at_end : after[it->second]).push_back(&prefix);
  }
  std::vector<size_t> out;
  out.reserve(keys.size());
  auto put = [&](const std::string* prefix) {
    for (size_t g : grads[*prefix]) out.push_back(g);
  };
  for (size_t i = 0; i < rest.size(); ++i) {
    out.push_back(rest[i]);
    for (const std::string* p : after[i]) put(p);
  }
  for (const std::string* p : at_end) put(p);
  return out;
}

// One dump.json entry's tensors: [first, end) in collection order, its inputs (input_args,
// input_kwargs, parameters: what it consumes) first, up to inputs_end.
struct EntryTensors {
  std::string name;
  size_t first, inputs_end, end;
};

// A module dump's (L0) forward entry "Module.<path>.<Class>.forward.<n>": <path>; empty else.
std::string module_path(const std::string& entry) {
  if (entry.compare(0, 7, "Module.") != 0) return "";
  const size_t fwd = entry.rfind(".forward");
  if (fwd == std::string::npos || fwd < 8) return "";
  const size_t cls = entry.rfind('.', fwd - 1);
  return cls == std::string::npos || cls < 7 ? "" : entry.substr(7, cls - 7);
}

// msprobe writes a module's forward entry when the forward ends, after its submodules'
// entries, but its inputs (and parameters) were there before the submodules ran: each L0
// forward entry's inputs move before the run of entries just before it that are its
// submodules (paths under its own), so that a module's output is measured against inputs
// recorded before everything it ran.
std::vector<MsprobeTensor> inputs_before_children(std::vector<MsprobeTensor> tensors,
                                                  const std::vector<EntryTensors>& entries) {
  std::vector<size_t> insert_at(entries.size(), SIZE_MAX);  // entry k's inputs go before entry insert_at[k]
  std::vector<std::vector<size_t>> moved_before(entries.size());
  for (size_t k = 0; k < entries.size(); ++k) {
    const std::string path = module_path(entries[k].name);
    if (path.empty() || entries[k].inputs_end == entries[k].first) continue;
    size_t j = k;
    while (j > 0) {
      const std::string child = module_path(entries[j - 1].name);
      if (child.size() <= path.size() || child.compare(0, path.size() + 1, path + ".") != 0) break;
      --j;
    }
    if (j < k) moved_before[j].push_back(k);
    if (j < k) insert_at[k] = j;
  }
  std::vector<MsprobeTensor> out;
  out.reserve(tensors.size());
  for (size_t k = 0; k < entries.size(); ++k) {
    // Outer modules first: their inputs came before their children's.
    auto& movers = moved_before[k];
    std::sort(movers.begin(), movers.end(), std::greater<size_t>());
    for (size_t m : movers)
      for (size_t i = entries[m].first; i < entries[m].inputs_end; ++i) out.push_back(std::move(tensors[i]));
    const size_t from = insert_at[k] != SIZE_MAX ? entries[k].inputs_end : entries[k].first;
    for (size_t i = from; i < entries[k].end; ++i) out.push_back(std::move(tensors[i]));
  }
  return out;
}

std::string dump_json_path(const std::string& path, std::string& dir) {
  struct stat st;
  if (::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) {
    dir = path;
    return path + "/dump.json";
  }
  const auto slash = path.rfind('/');
  dir = slash == std::string::npos ? "." : path.substr(0, slash);
  return path;
}

}  // namespace

// dump.json's events, made into one entry of "data" at a time: each entry's value is built as a
// small document, handed to `take` when it ends, and dropped. The whole file is never one
// document (its ordered map inserted each of 10^5 keys by a linear scan), and no entry, object
// or not, stays behind in one (issue 26). Of the other top-level fields only "task" and
// "framework" are kept.
class DumpEntries final : public nlohmann::json_sax<ordered_json> {
 public:
  using Take = std::function<void(const std::string& entry, const ordered_json& value)>;
  // `restart`: a "data" object begins, whose entries replace any taken before (a key given twice
  // keeps its last value, as in a parsed document).
  DumpEntries(const std::string& what, Take take, std::function<void()> restart)
      : what_(what), take_(std::move(take)), restart_(std::move(restart)) {}

  bool data_object = false;  // the (last) top-level "data" is an object
  std::optional<std::string> task, framework;

  bool null() override { return scalar(ordered_json(nullptr)); }
  bool boolean(bool v) override { return scalar(ordered_json(v)); }
  bool number_integer(number_integer_t v) override { return scalar(ordered_json(v)); }
  bool number_unsigned(number_unsigned_t v) override { return scalar(ordered_json(v)); }
  bool number_float(number_float_t v, const string_t&) override { return scalar(ordered_json(v)); }
  bool string(string_t& v) override { return scalar(ordered_json(std::move(v))); }
  bool binary(binary_t&) override { return scalar(ordered_json()); }  // not in text JSON
  bool start_object(std::size_t) override { return open(ordered_json::object()); }
  bool start_array(std::size_t) override { return open(ordered_json::array()); }
  bool key(string_t& k) override {
    if (depth_ == 1) top_ = k;
    else if (in_data() && depth_ == 2) entry_ = k;
    else if (!stack_.empty()) key_ = k;
    return true;
  }
  bool end_object() override { return close(); }
  bool end_array() override { return close(); }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception&) override { return false; }

 private:
  // Inside the top-level "data" object, as its entries' values are read.
  bool in_data() const { return top_ == "data" && data_object; }

  // A value inside the entry being built: its place in the innermost container.
  ordered_json* insert(ordered_json v) {
    ordered_json& parent = *stack_.back();
    if (parent.is_object()) return &(parent[key_] = std::move(v));
    parent.push_back(std::move(v));
    return &parent.back();
  }

  bool scalar(ordered_json v) {
    if (depth_ == 1) {  // a top-level field's value
      if (top_ == "data") data_object = false;
      if (top_ == "task" || top_ == "framework")
        (top_ == "task" ? task : framework) = v.is_string() ? std::optional<std::string>(v.get<std::string>()) : std::nullopt;
    } else if (depth_ == 2 && in_data()) {
      take_(entry_, v);  // an entry that is not an object (it holds nothing)
    } else if (!stack_.empty()) {
      insert(std::move(v));
    }
    return true;
  }

  bool open(ordered_json container) {
    if (++depth_ > 40) throw Error(ErrorCode::kCorrupt, what_ + ": values nested deeper than 40 levels");
    if (depth_ == 2 && top_ == "data") {
      data_object = container.is_object();
      if (data_object) restart_();
    } else if (depth_ == 3 && in_data()) {  // an entry's value
      built_ = std::move(container);
      stack_.assign(1, &built_);
    } else if (!stack_.empty()) {
      stack_.push_back(insert(std::move(container)));
    }
    return true;
  }

  bool close() {
    if (!stack_.empty()) {
      stack_.pop_back();
      if (stack_.empty()) {  // the entry's value ends
        take_(entry_, built_);
        built_ = nullptr;
      }
    }
    --depth_;
    return true;
  }

  std::string what_;
  Take take_;
  std::function<void()> restart_;
  int depth_ = 0;            // containers open
  std::string top_, entry_;  // the top-level key being read; the entry of "data" being read
  std::string key_;          // the key of the next value inside the entry being built
  ordered_json built_;       // the entry being built
  std::vector<ordered_json*> stack_;  // its open containers, innermost last
};

MsprobeDump read_msprobe(const std::string& path) {
  MsprobeDump d;
  const std::string json_path = dump_json_path(path, d.dir);
  // Every file of the dump is opened as a top-level input is (a regular file, never blocking,
  // of bounded size), and must lie inside the dump folder (docs/design.md §7).
  if (json_path != path) check_inside_folder(d.dir, json_path);
  const auto stacks = read_stacks(d.dir);
  // Each entry of "data" is made into its tensors as soon as it is parsed, and dropped: the
  // document is never held whole. A key given twice keeps its first place and its last value,
  // as a parsed document would.
  struct Parsed {
    std::string name;
    std::vector<MsprobeTensor> tensors;
    size_t inputs = 0;  // tensors[0, inputs): what the call consumes
    bool object = false;  // an entry that is not an object holds nothing
  };
  std::vector<Parsed> parsed;
  std::unordered_map<std::string, size_t> place;
  auto take = [&](const std::string& entry, const ordered_json& v) {
    auto [it, fresh] = place.emplace(entry, parsed.size());
    if (fresh) parsed.push_back({entry, {}, 0, false});
    Parsed& p = parsed[it->second];
    p.tensors.clear();
    p.inputs = 0;
    p.object = v.is_object();
    if (!p.object) return;
    const bool grads = entry.find(".parameters_grad.") != std::string::npos ||
                       (entry.size() > 16 && entry.compare(entry.size() - 16, 16, ".parameters_grad") == 0);
    // What the call consumes (arguments; a backward's incoming gradient, "input"; a module's
    // parameters), then what it makes: execution order within one call.
    for (const char* key : {"input_args", "input_kwargs", "input", "parameters"})
      if (v.contains(key)) collect(v[key], entry + "." + category(key), 0, p.tensors, json_path);
    p.inputs = p.tensors.size();
    if (v.contains("output")) collect(v["output"], entry + ".output", 0, p.tensors, json_path);
    if (grads)
      for (const auto& [key, x] : v.items())  // {"weight": [T]}: files are named ENTRY.weight
        collect(x.is_array() && x.size() == 1 ? x[0] : x, entry + "." + key, 0, p.tensors, json_path);
    const auto st = stacks.find(entry);
    for (MsprobeTensor& t : p.tensors) {
      if (st != stacks.end()) t.source = st->second;
      // The file name is the name msprobe gave it; without a file, the same name built here.
      if (t.data_name) {
        std::string n = *t.data_name;
        const auto dot = n.rfind('.');
        if (dot != std::string::npos) n.resize(dot);
        t.name = n;
      }
    }
  };
  QuotedJson text(json_path, kMaxJson);
  DumpEntries sax(json_path, take, [&] {
    parsed.clear();
    place.clear();
  });
  const bool parsed_ok = ordered_json::sax_parse(QuotedIterator(&text), QuotedIterator(), &sax);
  if (!parsed_ok || !sax.data_object)
    throw Error(ErrorCode::kCorrupt, json_path + ": not an msprobe dump.json (no \"data\" object)");
  const auto& task = sax.task;
  const auto& framework = sax.framework;
  if (task) d.task = *task;
  if (framework) d.framework = *framework;
  std::vector<std::string> keys;
  keys.reserve(parsed.size());
  for (const Parsed& p : parsed) keys.push_back(p.name);
  place = {};
  std::vector<EntryTensors> entries;
  for (size_t k : execution_order(keys)) {
    Parsed& p = parsed[k];
    if (!p.object) continue;
    const size_t first = d.tensors.size();
    entries.push_back({std::move(p.name), first, first + p.inputs, first + p.tensors.size()});
    for (MsprobeTensor& t : p.tensors) d.tensors.push_back(std::move(t));
    p = {};
  }
  parsed = {};
  d.tensors = inputs_before_children(std::move(d.tensors), entries);
  std::unordered_set<std::string> names;
  for (const auto& t : d.tensors)
    if (!names.insert(t.name).second) throw Error(ErrorCode::kCorrupt, json_path + ": two tensors named '" + t.name + "'");
  return d;
}

bool msprobe_has_data(const MsprobeDump& d) {
  for (const auto& t : d.tensors)
    if (t.data_name) return true;
  return false;
}

std::unique_ptr<Source> open_msprobe(const std::string& path) {
  const MsprobeDump d = read_msprobe(path);
  if (!msprobe_has_data(d))
    throw Error(ErrorCode::kUsage, path + ": an msprobe statistics dump (no tensor files): it compares as a summary");
  std::vector<std::string> files, notes;
  std::vector<RawTensor> tensors;
  uint64_t missing = 0;
  for (const MsprobeTensor& m : d.tensors) {
    RawTensor t;
    t.info.name = m.name;
    t.info.shape = m.shape;
    t.info.source = m.source;
    t.info.storage = "msprobe";
    if (m.value) {  // a recorded value: no data
      t.info.value = m.value;
      t.info.count = 0;
      t.info.type_name = m.value->substr(0, m.value->find(' '));
      tensors.push_back(std::move(t));
      continue;
    }
    const auto declared = msprobe_dtype(m.dtype);
    const std::string what = path + ": tensor '" + m.name + "'";
    if (!m.data_name) {
      t.info.count = checked_count(m.shape, what);
      t.info.dtype = declared.value_or(DType::kF32);
      t.info.type_name = declared ? dtype_name(*declared) : m.dtype;
      t.error = "msprobe recorded its statistics only (no tensor file)";
      ++missing;
      tensors.push_back(std::move(t));
      continue;
    }
    if (m.data_name->find('/') != std::string::npos || m.data_name->find("..") != std::string::npos)
      throw Error(ErrorCode::kCorrupt, what + ": data_name '" + *m.data_name + "' is not a plain file name");
    const std::string file = d.dir + "/dump_tensor_data/" + *m.data_name;
    // A file that is there is opened only when it is a regular file inside the dump folder: a
    // FIFO would block, a device has no end, a link out of the folder reads someone else's
    // file. Each is the run's error (one line naming it), not a row; a missing file is a row.
    if (struct stat st; ::lstat(file.c_str(), &st) == 0) {
      check_inside_folder(d.dir, file);
      if (::stat(file.c_str(), &st) == 0) check_input_file(file);
    }
    const size_t k = files.size();
    try {
      std::vector<RawTensor> got;
      if (file.size() > 4 && file.compare(file.size() - 4, 4, ".npy") == 0) {
        got.push_back(npy_tensor(file, m.name, k));
      } else {
        std::vector<std::string> ignored;
        got = torch_tensors(file, k, m.name, ignored);
        if (got.size() != 1) throw Error(ErrorCode::kCorrupt, file + ": holds " + std::to_string(got.size()) + " tensors, not one");
      }
      t = std::move(got[0]);
      files.push_back(file);
    } catch (const Error& e) {
      if (::access(file.c_str(), F_OK) != 0) {
        t.error = "its file dump_tensor_data/" + *m.data_name + " is missing";
        ++missing;
      } else {
        t.error = e.what();
      }
      t.info.count = checked_count(m.shape, what);
      t.info.dtype = declared.value_or(DType::kF32);
      t.info.type_name = declared ? dtype_name(*declared) : m.dtype;
    }
    t.info.name = m.name;
    t.info.source = m.source;
    t.info.storage = "msprobe (" + m.data_name->substr(m.data_name->rfind('.') + 1) + ")";
    // MindSpore's bfloat16 and float8 are saved widened to float32: read back to their bits.
    if (t.error.empty() && declared && t.info.dtype == DType::kF32 && *declared != DType::kF32 &&
        (*declared == DType::kBF16 || *declared == DType::kF8E4M3 || *declared == DType::kF8E5M2)) {
      t.widened_f32 = true;
      t.info.dtype = *declared;
      t.info.type_name = dtype_name(*declared);
    }
    if (t.error.empty() && t.info.unsupported.empty() && t.info.shape != m.shape)
      t.error = "its file holds shape " + dims(t.info.shape) + ", dump.json says " + dims(m.shape);
    tensors.push_back(std::move(t));
  }
  if (missing > 0)
    notes.push_back(path + ": " + std::to_string(missing) + " tensors without a tensor file (statistics only): error rows");
  return raw_source(path, files, std::move(tensors), std::move(notes));
}

SummaryDump msprobe_summary(const std::string& path) {
  const MsprobeDump d = read_msprobe(path);
  SummaryDump out;
  for (const MsprobeTensor& m : d.tensors) {
    TensorInfo t;
    t.name = m.name;
    if (m.value) {  // a recorded value: no statistics
      t.value = m.value;
      t.type_name = m.value->substr(0, m.value->find(' '));
      t.storage = "msprobe value";
      t.order = out.tensors.size();
      SideStats none;
      none.counts_known = false;
      none.checksum_known = false;
      out.tensors.push_back(std::move(t));
      out.stats.push_back(std::move(none));
      continue;
    }
    t.shape = m.shape;
    t.count = checked_count(m.shape, path + ": tensor '" + m.name + "'");
    t.source = m.source;
    t.storage = "msprobe statistics";
    if (const auto dt = msprobe_dtype(m.dtype)) {
      t.dtype = *dt;
      t.type_name = dtype_name(*dt);
    } else {
      t.type_name = m.dtype;
      t.unsupported = "msprobe dtype '" + m.dtype + "'";
    }
    t.order = out.tensors.size();
    SideStats s;
    s.count = t.count;
    s.counts_known = false;     // msprobe records no NaN/inf/nonzero counts
    s.reduction_roundoff = 0x1p-24;  // msprobe computes Mean and Norm in float32
    s.checksum_known = false;   // its crc32 is not our checksum
    // As recorded, non-finite ones too: msprobe's Max is NaN where the tensor holds a NaN, inf
    // where it overflowed. Dropped, a NaN appearing in one run was a field that side "does not
    // record" and the pair passed as consistent (found measuring issue 26's dump.json).
    s.min = m.min;
    s.max = m.max;
    s.mean = m.mean;
    s.l2 = m.norm;
    out.tensors.push_back(std::move(t));
    out.stats.push_back(std::move(s));
  }
  return out;
}

}  // namespace tensordiff
