#include "io/torch/pickle.hpp"

#include <cstring>
#include <map>
#include <unordered_map>

#include "tensordiff/error.hpp"

namespace tensordiff {

namespace {

// torch's storage classes (the legacy names that torch.save still pickles).
std::optional<DType> storage_dtype(const std::string& type) {
  static const std::map<std::string, DType> kTypes = {
      {"DoubleStorage", DType::kF64},   {"FloatStorage", DType::kF32},  {"HalfStorage", DType::kF16},
      {"BFloat16Storage", DType::kBF16}, {"Float8_e4m3fnStorage", DType::kF8E4M3},
      {"Float8_e5m2Storage", DType::kF8E5M2}, {"LongStorage", DType::kI64}, {"IntStorage", DType::kI32},
      {"ShortStorage", DType::kI16},    {"CharStorage", DType::kI8},    {"ByteStorage", DType::kU8},
      {"UInt16Storage", DType::kU16},   {"UInt32Storage", DType::kU32}, {"UInt64Storage", DType::kU64},
      {"BoolStorage", DType::kBool}};
  const auto it = kTypes.find(type);
  if (it == kTypes.end()) return std::nullopt;
  return it->second;
}

// The globals a state dict is made of; anything else is refused by name.
bool allowed_global(const std::string& g) {
  static const char* kAllowed[] = {
      "collections.OrderedDict", "torch._utils._rebuild_tensor_v2", "torch._utils._rebuild_tensor",
      "torch._utils._rebuild_parameter", "torch._utils._rebuild_parameter_with_state",
      "torch._tensor._rebuild_from_type_v2", "torch.Size", "torch.Tensor",
      "torch.nn.parameter.Parameter", "builtins.dict", "builtins.list", "builtins.tuple"};
  for (const char* a : kAllowed)
    if (g == a) return true;
  return g.rfind("torch.", 0) == 0 && g.size() > 13 && g.compare(g.size() - 7, 7, "Storage") == 0 &&
         g.find('.', 6) == std::string::npos;  // torch.FloatStorage, ..., not torch.x.yStorage
}

class Unpickler {
 public:
  Unpickler(const std::vector<uint8_t>& d, const std::string& what) : d_(d), what_(what) {}

  PyRef make(PyValue::Kind k) {
    if (arena_.size() > (1u << 26)) fail("more than 2^26 values");
    arena_.push_back(std::make_unique<PyValue>());
    arena_.back()->kind = k;
    return arena_.back().get();
  }
  std::vector<std::unique_ptr<PyValue>>& arena() { return arena_; }

  PyRef run() {
    for (;;) {
      const uint8_t op = u8();
      switch (op) {
        case 0x80: u8(); break;                 // PROTO
        case 0x95: take(8); break;              // FRAME (a hint only)
        case '}': push(make(PyValue::kDict)); break;
        case ']': push(make(PyValue::kList)); break;
        case ')': push(make(PyValue::kTuple)); break;
        case '(': marks_.push_back(stack_.size()); break;
        case 'N': push(make(PyValue::kNone)); break;
        case 0x88: push(boolean(true)); break;
        case 0x89: push(boolean(false)); break;
        case 'K': push(integer(u8())); break;
        case 'M': push(integer(uint_le(2))); break;
        case 'J': push(integer(static_cast<int32_t>(uint_le(4)))); break;
        case 0x8a: push(long_n(u8())); break;   // LONG1
        case 0x8b: push(long_n(uint_le(4))); break;
        case 'G': {
          uint64_t bits = 0;
          for (int i = 0; i < 8; ++i) bits = (bits << 8) | u8();  // big-endian
          auto v = make(PyValue::kFloat);
          std::memcpy(&v->f, &bits, 8);
          push(v);
          break;
        }
        case 'X': push(text(uint_le(4), PyValue::kStr)); break;
        case 0x8c: push(text(u8(), PyValue::kStr)); break;
        case 0x8d: push(text(uint_le(8), PyValue::kStr)); break;
        case 'C': push(text(u8(), PyValue::kBytes)); break;
        case 'B': push(text(uint_le(4), PyValue::kBytes)); break;
        case 0x8e: push(text(uint_le(8), PyValue::kBytes)); break;
        case 't': push(tuple_from(pop_mark())); break;
        case 0x85: push(tuple_from(pop_n(1))); break;
        case 0x86: push(tuple_from(pop_n(2))); break;
        case 0x87: push(tuple_from(pop_n(3))); break;
        case 'c': {
          const std::string module = line(), name = line();
          push(global(module + "." + name));
          break;
        }
        case 0x93: {  // STACK_GLOBAL
          const PyRef name = pop(), module = pop();
          if (module->kind != PyValue::kStr || name->kind != PyValue::kStr) fail("bad STACK_GLOBAL");
          push(global(module->s + "." + name->s));
          break;
        }
        case 'R': {
          const PyRef args = pop(), fn = pop();
          push(call(fn, args));
          break;
        }
        case 0x81: {  // NEWOBJ: cls.__new__(cls, *args)
          const PyRef args = pop(), cls = pop();
          push(call(cls, args));
          break;
        }
        case 'b': {  // BUILD: OrderedDict's _metadata, a Parameter's state: not tensors
          pop();
          if (stack_.empty()) fail("BUILD on an empty stack");
          break;
        }
        case 's': {
          const PyRef v = pop(), k = pop();
          dict_of(top())->dict.emplace_back(k, v);
          break;
        }
        case 'u': {
          auto items = pop_mark();
          if (items.size() % 2) fail("SETITEMS with an odd count");
          PyValue* d = dict_of(top());
          for (size_t i = 0; i < items.size(); i += 2) d->dict.emplace_back(items[i], items[i + 1]);
          break;
        }
        case 'a': {
          const PyRef v = pop();
          list_of(top())->items.push_back(v);
          break;
        }
        case 'e': {
          auto items = pop_mark();
          PyValue* l = list_of(top());
          l->items.insert(l->items.end(), items.begin(), items.end());
          break;
        }
        case 'q': memo(u8()); break;
        case 'r': memo(uint_le(4)); break;
        case 0x94: memo(memo_.size()); break;  // MEMOIZE
        case 'h': push(get(u8())); break;
        case 'j': push(get(uint_le(4))); break;
        case 'Q': push(persistent(pop())); break;  // BINPERSID
        case '0': pop(); break;
        case '1': pop_mark(); break;
        case '2': push(top()); break;
        case '.':
          if (stack_.size() != 1) fail("STOP with " + std::to_string(stack_.size()) + " values on the stack");
          return stack_.back();
        default: {
          char buf[8];
          std::snprintf(buf, sizeof buf, "0x%02x", op);
          throw Error(ErrorCode::kUnsupported, what_ + ": pickle opcode " + buf +
                                                   " is not one a state dict of tensors uses; refused");
        }
      }
      if (++steps_ > (uint64_t(1) << 32)) fail("too many operations");
    }
  }

 private:
  [[noreturn]] void fail(const std::string& why) const {
    throw Error(ErrorCode::kCorrupt, what_ + ": corrupt pickle (" + why + " at byte " + std::to_string(pos_) + ")");
  }
  uint8_t u8() {
    if (pos_ >= d_.size()) fail("truncated");
    return d_[pos_++];
  }
  const uint8_t* take(uint64_t n) {
    if (n > d_.size() - pos_) fail("truncated");
    const uint8_t* p = d_.data() + pos_;
    pos_ += n;
    return p;
  }
  uint64_t uint_le(int n) {
    const uint8_t* p = take(n);
    uint64_t v = 0;
    for (int i = 0; i < n; ++i) v |= uint64_t(p[i]) << (8 * i);
    return v;
  }
  std::string line() {
    std::string s;
    for (uint8_t c; (c = u8()) != '\n';) {
      s += static_cast<char>(c);
      if (s.size() > 4096) fail("a global's name longer than 4096 bytes");
    }
    return s;
  }
  PyRef text(uint64_t n, PyValue::Kind k) {
    auto v = make(k);
    const uint8_t* p = take(n);
    v->s.assign(reinterpret_cast<const char*>(p), n);
    return v;
  }
  PyRef boolean(bool b) {
    auto v = make(PyValue::kBool);
    v->i = b;
    return v;
  }
  PyRef integer(int64_t x) {
    auto v = make(PyValue::kInt);
    v->i = x;
    return v;
  }
  PyRef long_n(uint64_t n) {
    if (n > 8) {  // a Python int beyond 64 bits: kept as bytes, never a size
      take(n);
      return make(PyValue::kNone);
    }
    const uint8_t* p = take(n);
    uint64_t v = 0;
    for (uint64_t i = 0; i < n; ++i) v |= uint64_t(p[i]) << (8 * i);
    if (n > 0 && n < 8 && (p[n - 1] & 0x80)) v |= ~uint64_t(0) << (8 * n);  // sign-extend
    return integer(static_cast<int64_t>(v));
  }
  void push(PyRef v) {
    if (stack_.size() > (1u << 24)) fail("stack deeper than 2^24");
    stack_.push_back(v);
  }
  PyRef pop() {
    if (stack_.empty() || (!marks_.empty() && stack_.size() <= marks_.back())) fail("pop past a mark or an empty stack");
    PyRef v = stack_.back();
    stack_.pop_back();
    return v;
  }
  PyRef top() {
    if (stack_.empty()) fail("empty stack");
    return stack_.back();
  }
  std::vector<PyRef> pop_mark() {
    if (marks_.empty()) fail("no mark");
    const size_t m = marks_.back();
    marks_.pop_back();
    std::vector<PyRef> items(stack_.begin() + m, stack_.end());
    stack_.resize(m);
    return items;
  }
  std::vector<PyRef> pop_n(size_t n) {
    std::vector<PyRef> items(n);
    for (size_t i = n; i-- > 0;) items[i] = pop();
    return items;
  }
  PyRef tuple_from(std::vector<PyRef> items) {
    auto v = make(PyValue::kTuple);
    v->items = std::move(items);
    return v;
  }
  PyValue* dict_of(PyRef v) {
    if (v->kind != PyValue::kDict) fail("SETITEM on something that is not a dict");
    return v;
  }
  PyValue* list_of(PyRef v) {
    if (v->kind != PyValue::kList) fail("APPEND on something that is not a list");
    return v;
  }
  void memo(uint64_t k) {
    if (stack_.empty()) fail("memo of an empty stack");
    memo_[k] = stack_.back();
  }
  PyRef get(uint64_t k) {
    const auto it = memo_.find(k);
    if (it == memo_.end()) fail("memo " + std::to_string(k) + " unset");
    return it->second;
  }
  PyRef global(const std::string& g) {
    if (!allowed_global(g))
      throw Error(ErrorCode::kUnsupported, what_ + ": refuses the pickle global '" + g +
                                               "' (only state dicts of tensors are read, and nothing is run)");
    auto v = make(PyValue::kGlobal);
    v->s = g;
    return v;
  }
  // ('storage', torch.FloatStorage, '0', 'cpu', numel)
  PyRef persistent(const PyRef& pid) {
    if (pid->kind != PyValue::kTuple || pid->items.size() < 5 || pid->items[0]->kind != PyValue::kStr ||
        pid->items[0]->s != "storage" || pid->items[1]->kind != PyValue::kGlobal ||
        pid->items[2]->kind != PyValue::kStr || pid->items[4]->kind != PyValue::kInt || pid->items[4]->i < 0)
      fail("a persistent id that is not a storage");
    auto st = std::make_shared<TorchStorage>();
    st->type = pid->items[1]->s.substr(6);  // after "torch."
    st->dtype = storage_dtype(st->type);
    st->key = pid->items[2]->s;
    st->numel = static_cast<uint64_t>(pid->items[4]->i);
    if (st->key.empty() || st->key.find('/') != std::string::npos || st->key.find("..") != std::string::npos)
      fail("a storage key that is not a plain name");
    auto it = storages_.find(st->key);
    if (it == storages_.end()) it = storages_.emplace(st->key, st).first;  // shared storages: one
    auto v = make(PyValue::kStorage);
    v->storage = it->second;
    return v;
  }
  std::vector<uint64_t> sizes(const PyRef& t, const char* what) {
    if (t->kind != PyValue::kTuple) fail(std::string(what) + " is not a tuple");
    std::vector<uint64_t> out;
    for (const auto& x : t->items) {
      if (x->kind != PyValue::kInt || x->i < 0) fail(std::string(what) + " holds a negative or non-integer value");
      out.push_back(static_cast<uint64_t>(x->i));
    }
    if (out.size() > 64) fail(std::string(what) + " of more than 64 dimensions");
    return out;
  }
  PyRef call(const PyRef& fn, const PyRef& args) {
    if (fn->kind != PyValue::kGlobal) fail("a call of something that is not a global");
    if (args->kind != PyValue::kTuple) fail("call arguments are not a tuple");
    const std::string& g = fn->s;
    const auto& a = args->items;
    if (g == "collections.OrderedDict" || g == "builtins.dict") return make(PyValue::kDict);
    if (g == "builtins.list") return make(PyValue::kList);
    if (g == "torch.Size" || g == "builtins.tuple") return a.empty() ? make(PyValue::kTuple) : a[0];
    if (g == "torch._utils._rebuild_tensor_v2" || g == "torch._utils._rebuild_tensor") {
      if (a.size() < 4 || a[0]->kind != PyValue::kStorage || a[1]->kind != PyValue::kInt || a[1]->i < 0)
        fail("_rebuild_tensor arguments");
      auto t = std::make_shared<TorchTensor>();
      t->storage = a[0]->storage;
      t->offset = static_cast<uint64_t>(a[1]->i);
      t->shape = sizes(a[2], "a tensor's size");
      t->strides = sizes(a[3], "a tensor's stride");
      if (t->shape.size() != t->strides.size()) fail("size and stride of different lengths");
      auto v = make(PyValue::kTensor);
      v->tensor = t;
      return v;
    }
    if (g == "torch._utils._rebuild_parameter" || g == "torch._utils._rebuild_parameter_with_state") {
      if (a.empty() || a[0]->kind != PyValue::kTensor) fail("_rebuild_parameter of something that is not a tensor");
      return a[0];
    }
    if (g == "torch._tensor._rebuild_from_type_v2") {  // (func, type, args, state)
      if (a.size() < 3) fail("_rebuild_from_type_v2 arguments");
      return call(a[0], a[2]);
    }
    throw Error(ErrorCode::kUnsupported, what_ + ": refuses to call the pickle global '" + g + "'");
  }

  std::vector<std::unique_ptr<PyValue>> arena_;
  const std::vector<uint8_t>& d_;
  const std::string& what_;
  size_t pos_ = 0;
  uint64_t steps_ = 0;
  std::vector<PyRef> stack_;
  std::vector<size_t> marks_;
  std::unordered_map<uint64_t, PyRef> memo_;
  std::unordered_map<std::string, std::shared_ptr<TorchStorage>> storages_;
};

}  // namespace

Pickle unpickle_state_dict(const std::vector<uint8_t>& data, const std::string& what) {
  Unpickler u(data, what);
  Pickle p;
  p.root = u.run();
  p.arena = std::move(u.arena());
  return p;
}

}  // namespace tensordiff
