// Stand-ins for std::optional and std::vector that report types use where a run holds one per
// tensor pair (10^6 pairs of tiny tensors: every byte of a PairReport is a megabyte, issue 26).
// Each keeps its standard type's interface (an optional's bool test, *, ->, value_or, = value,
// = nullopt, reset; a vector's size, [], iteration, push_back, resize), so code reads them as
// it reads the standard ones.
#pragma once
#include <atomic>
#include <cstdint>
#include <cstring>
#include <initializer_list>
#include <limits>
#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

namespace tensordiff {

// An optional double in 8 bytes instead of 16: "no value" is one signalling-NaN bit pattern
// that no arithmetic produces (an operation on a signalling NaN returns a quiet one), and a NaN
// that is stored is stored as the quiet NaN, so no stored value can read back as empty.
class OptionalDouble {
 public:
  OptionalDouble() = default;
  OptionalDouble(std::nullopt_t) {}
  OptionalDouble(double v) { set(v); }
  OptionalDouble(const std::optional<double>& v) {
    if (v) set(*v);
  }
  OptionalDouble& operator=(std::nullopt_t) { return reset(), *this; }
  OptionalDouble& operator=(double v) { return set(v), *this; }
  // `x = {}` resets, as it does a std::optional (without this, {} would be the double 0).
  OptionalDouble& operator=(std::initializer_list<double> l) {
    if (l.size() == 0) reset();
    else set(*l.begin());
    return *this;
  }
  OptionalDouble& operator=(const std::optional<double>& v) {
    if (v) set(*v);
    else reset();
    return *this;
  }

  bool has_value() const { return bits_ != kEmpty; }
  explicit operator bool() const { return has_value(); }
  double operator*() const { return as_double(); }
  double value() const {
    if (!has_value()) throw std::bad_optional_access();
    return as_double();
  }
  double value_or(double other) const { return has_value() ? as_double() : other; }
  void reset() { bits_ = kEmpty; }
  operator std::optional<double>() const { return has_value() ? std::optional<double>(as_double()) : std::nullopt; }

  friend bool operator==(const OptionalDouble& a, const OptionalDouble& b) {
    return a.has_value() == b.has_value() && (!a.has_value() || a.as_double() == b.as_double());
  }
  friend bool operator!=(const OptionalDouble& a, const OptionalDouble& b) { return !(a == b); }
  friend bool operator==(const OptionalDouble& a, std::nullopt_t) { return !a.has_value(); }
  friend bool operator!=(const OptionalDouble& a, std::nullopt_t) { return a.has_value(); }

 private:
  static constexpr uint64_t kEmpty = 0x7ff4000000c0ffeeull;  // a signalling NaN
  void set(double v) {
    if (v != v) v = std::numeric_limits<double>::quiet_NaN();
    std::memcpy(&bits_, &v, sizeof v);
  }
  double as_double() const {
    double v;
    std::memcpy(&v, &bits_, sizeof v);
    return v;
  }
  uint64_t bits_ = kEmpty;
};

// std::optional<T>'s interface in sizeof(T) bytes (a pair's side and diff statistics: 24 bytes a
// pair of flags and their padding): "none" is a value no result holds, which
// PackedNone<T>::mark writes and PackedNone<T>::marked tests (specialised beside T).
template <class T>
struct PackedNone;

template <class T>
class PackedOptional {
 public:
  PackedOptional() { PackedNone<T>::mark(v_); }
  PackedOptional(std::nullopt_t) : PackedOptional() {}
  PackedOptional(const T& v) : v_(v) {}
  PackedOptional(const std::optional<T>& v) : PackedOptional() {
    if (v) v_ = *v;
  }
  PackedOptional& operator=(std::nullopt_t) { return reset(), *this; }
  PackedOptional& operator=(const T& v) { return v_ = v, *this; }
  PackedOptional& operator=(T&& v) { return v_ = std::move(v), *this; }
  void reset() { v_ = T(), PackedNone<T>::mark(v_); }
  template <class... Args>
  T& emplace(Args&&... args) {
    v_ = T(std::forward<Args>(args)...);
    return v_;
  }
  bool has_value() const { return !PackedNone<T>::marked(v_); }
  explicit operator bool() const { return has_value(); }
  T& operator*() { return v_; }
  const T& operator*() const { return v_; }
  T* operator->() { return &v_; }
  const T* operator->() const { return &v_; }
  const T& value() const { return v_; }
  T value_or(const T& other) const { return has_value() ? v_ : other; }
  operator std::optional<T>() const { return has_value() ? std::optional<T>(v_) : std::nullopt; }
  friend bool operator==(const PackedOptional& a, std::nullopt_t) { return !a.has_value(); }
  friend bool operator!=(const PackedOptional& a, std::nullopt_t) { return a.has_value(); }

 private:
  T v_;
};

// An optional value kept on the heap: 8 bytes where the value is rarely set (a pair's summary
// comparison, the name a jump follows or a copy repeats), copied deeply like std::optional.
template <class T>
class HeapOptional {
 public:
  HeapOptional() = default;
  HeapOptional(std::nullopt_t) {}
  HeapOptional(T v) : p_(std::make_unique<T>(std::move(v))) {}
  HeapOptional(const std::optional<T>& v) {
    if (v) p_ = std::make_unique<T>(*v);
  }
  HeapOptional(const HeapOptional& o) : p_(o.p_ ? std::make_unique<T>(*o.p_) : nullptr) {}
  HeapOptional(HeapOptional&&) noexcept = default;
  HeapOptional& operator=(const HeapOptional& o) {
    if (this != &o) p_ = o.p_ ? std::make_unique<T>(*o.p_) : nullptr;
    return *this;
  }
  HeapOptional& operator=(HeapOptional&&) noexcept = default;
  HeapOptional& operator=(std::nullopt_t) { return reset(), *this; }
  HeapOptional& operator=(T v) {
    if (p_) *p_ = std::move(v);
    else p_ = std::make_unique<T>(std::move(v));
    return *this;
  }
  template <class... Args>
  T& emplace(Args&&... args) {
    p_ = std::make_unique<T>(std::forward<Args>(args)...);
    return *p_;
  }

  bool has_value() const { return p_ != nullptr; }
  explicit operator bool() const { return has_value(); }
  T& operator*() { return *p_; }
  const T& operator*() const { return *p_; }
  T* operator->() { return p_.get(); }
  const T* operator->() const { return p_.get(); }
  const T& value() const {
    if (!p_) throw std::bad_optional_access();
    return *p_;
  }
  T value_or(T other) const { return p_ ? *p_ : std::move(other); }
  void reset() { p_.reset(); }
  operator std::optional<T>() const { return p_ ? std::optional<T>(*p_) : std::nullopt; }

  friend bool operator==(const HeapOptional& a, std::nullopt_t) { return !a.has_value(); }
  friend bool operator!=(const HeapOptional& a, std::nullopt_t) { return a.has_value(); }

 private:
  std::unique_ptr<T> p_;
};

// A vector that is usually empty (a pair's histograms, first nonzeros and worst elements are
// kept only where a report shows them: none under --quiet): 8 bytes when empty instead of 24,
// the elements in a std::vector on the heap otherwise. Iterators are pointers.
template <class T>
class CompactVector {
 public:
  CompactVector() = default;
  CompactVector(std::initializer_list<T> l) { assign(std::vector<T>(l)); }
  CompactVector(std::vector<T> v) { assign(std::move(v)); }
  CompactVector(const CompactVector& o) { assign(o.vec()); }
  CompactVector(CompactVector&&) noexcept = default;
  CompactVector& operator=(const CompactVector& o) {
    if (this != &o) assign(o.vec());
    return *this;
  }
  CompactVector& operator=(CompactVector&&) noexcept = default;
  CompactVector& operator=(std::vector<T> v) { return assign(std::move(v)), *this; }
  CompactVector& operator=(std::initializer_list<T> l) { return assign(std::vector<T>(l)), *this; }

  size_t size() const { return v_ ? v_->size() : 0; }
  bool empty() const { return size() == 0; }
  T* data() { return v_ ? v_->data() : nullptr; }
  const T* data() const { return v_ ? v_->data() : nullptr; }
  T* begin() { return data(); }
  T* end() { return data() + size(); }
  const T* begin() const { return data(); }
  const T* end() const { return data() + size(); }
  T& operator[](size_t i) { return (*v_)[i]; }
  const T& operator[](size_t i) const { return (*v_)[i]; }
  T& front() { return v_->front(); }
  const T& front() const { return v_->front(); }
  T& back() { return v_->back(); }
  const T& back() const { return v_->back(); }

  void push_back(T x) { grown().push_back(std::move(x)); }
  template <class... Args>
  T& emplace_back(Args&&... args) {
    return grown().emplace_back(std::forward<Args>(args)...);
  }
  void resize(size_t n) {
    if (n == 0) return clear();
    grown().resize(n);
  }
  void reserve(size_t n) {
    if (n) grown().reserve(n);
  }
  void clear() { v_.reset(); }
  // The elements, moved out (this left empty): a std::move into a std::vector would copy.
  std::vector<T> take() {
    std::vector<T> out = v_ ? std::move(*v_) : std::vector<T>();
    v_.reset();
    return out;
  }

  // The elements as a std::vector (an empty one when there are none).
  const std::vector<T>& vec() const {
    static const std::vector<T> none;
    return v_ ? *v_ : none;
  }
  operator const std::vector<T>&() const { return vec(); }
  bool operator==(const CompactVector& o) const { return vec() == o.vec(); }
  bool operator!=(const CompactVector& o) const { return !(*this == o); }

 private:
  void assign(std::vector<T> v) {
    if (v.empty()) v_.reset();
    else v_ = std::make_unique<std::vector<T>>(std::move(v));
  }
  std::vector<T>& grown() {
    if (!v_) v_ = std::make_unique<std::vector<T>>();
    return *v_;
  }
  std::unique_ptr<std::vector<T>> v_;
};

// A value's reference-counted heap copy, shared by the records holding it (SharedString,
// InternedString, Shape). A pooled one is in a process-wide pool (interned.cpp) until its last
// reference goes; a lookup that finds it at no references makes a new one rather than revive it.
template <class T>
struct SharedBlock {
  std::atomic<uint32_t> refs{1};
  bool pooled = false;
  const T value;
  SharedBlock(const T& v, bool in_pool) : pooled(in_pool), value(v) {}
};
// For T = std::string and std::vector<uint64_t>: the pool's live copy of v with one more
// reference, made if none is alive (thread-safe; a few values each thread used last are found
// without the pool's lock), and the removal of a pooled block whose last reference went.
template <class T>
SharedBlock<T>* intern_block(const T& v);
template <class T>
void leave_pool(SharedBlock<T>* b);
template <class T>
size_t pooled_values();  // distinct values alive in the pool (for tests)
template <class T>
void hold_block(SharedBlock<T>* b) {
  if (b) b->refs.fetch_add(1, std::memory_order_relaxed);
}
// Drops a reference; the last one frees the copy (and takes a pooled one out of the pool).
template <class T>
void release_block(SharedBlock<T>* b) {
  if (!b || b->refs.fetch_sub(1, std::memory_order_acq_rel) != 1) return;
  if (b->pooled) leave_pool(b);
  delete b;
}

// What SharedString, InternedString and Shape have in common: a counted reference to a
// SharedBlock (null: the empty value), copied by sharing the block.
template <class T>
class SharedRef {
 public:
  SharedRef(const SharedRef& o) : p_(o.p_) { hold_block(p_); }
  SharedRef(SharedRef&& o) noexcept : p_(o.p_) { o.p_ = nullptr; }
  ~SharedRef() { release_block(p_); }
  SharedRef& operator=(const SharedRef& o) {
    hold_block(o.p_);
    release_block(p_);
    p_ = o.p_;
    return *this;
  }
  SharedRef& operator=(SharedRef&& o) noexcept {
    std::swap(p_, o.p_);
    return *this;
  }

 protected:
  explicit SharedRef(SharedBlock<T>* p = nullptr) : p_(p) {}
  SharedBlock<T>* p_;
};

// An immutable string whose copies share one heap copy: 8 bytes a record and one copy however
// many records hold it (a tensor's name is held by its listing entry, by the pair that reports
// it and by that pair's row: 10^6 pairs held four copies of each name, 250 MB, issue 26); the
// empty string holds nothing. Read as a const std::string; assigning makes a new copy.
class SharedString : public SharedRef<std::string> {
 public:
  SharedString() = default;
  SharedString(const std::string& s) : SharedRef(make(s)) {}
  SharedString(const char* s) : SharedRef(make(s)) {}
  SharedString& operator=(const std::string& s) { return *this = SharedString(s); }
  SharedString& operator=(const char* s) { return *this = SharedString(s); }
  SharedString& operator+=(const std::string& s) { return *this = SharedString(str() + s); }
  void clear() { *this = SharedString(); }

  const std::string& str() const { return p_ ? p_->value : empty_string(); }
  operator const std::string&() const { return str(); }
  const std::string* operator->() const { return &str(); }
  bool empty() const { return !p_; }
  size_t size() const { return str().size(); }
  size_t length() const { return str().size(); }
  const char* c_str() const { return str().c_str(); }
  const char* data() const { return str().data(); }
  char operator[](size_t i) const { return str()[i]; }
  char back() const { return str().back(); }
  char front() const { return str().front(); }
  std::string::const_iterator begin() const { return str().begin(); }
  std::string::const_iterator end() const { return str().end(); }
  template <class... A>
  size_t find(A&&... a) const { return str().find(std::forward<A>(a)...); }
  template <class... A>
  size_t rfind(A&&... a) const { return str().rfind(std::forward<A>(a)...); }
  template <class... A>
  size_t find_first_of(A&&... a) const { return str().find_first_of(std::forward<A>(a)...); }
  template <class... A>
  size_t find_last_of(A&&... a) const { return str().find_last_of(std::forward<A>(a)...); }
  template <class... A>
  int compare(A&&... a) const { return str().compare(std::forward<A>(a)...); }
  std::string substr(size_t pos, size_t n = std::string::npos) const { return str().substr(pos, n); }

  friend bool operator==(const SharedString& a, const SharedString& b) { return a.p_ == b.p_ || a.str() == b.str(); }
  friend bool operator!=(const SharedString& a, const SharedString& b) { return !(a == b); }
  friend bool operator<(const SharedString& a, const SharedString& b) { return a.str() < b.str(); }
  friend bool operator==(const SharedString& a, const std::string& b) { return a.str() == b; }
  friend bool operator!=(const SharedString& a, const std::string& b) { return a.str() != b; }
  friend bool operator==(const std::string& a, const SharedString& b) { return a == b.str(); }
  friend bool operator!=(const std::string& a, const SharedString& b) { return a != b.str(); }
  friend bool operator==(const SharedString& a, const char* b) { return a.str() == b; }
  friend bool operator!=(const SharedString& a, const char* b) { return a.str() != b; }
  friend std::string operator+(const SharedString& a, const std::string& b) { return a.str() + b; }
  friend std::string operator+(const std::string& a, const SharedString& b) { return a + b.str(); }
  friend std::string operator+(const SharedString& a, const char* b) { return a.str() + b; }
  friend std::string operator+(const char* a, const SharedString& b) { return a + b.str(); }
  friend std::string operator+(const SharedString& a, char b) { return a.str() + b; }
  friend std::string operator+(char a, const SharedString& b) { return a + b.str(); }
  friend std::ostream& operator<<(std::ostream& o, const SharedString& s) { return o << s.str(); }

 protected:
  using Block = SharedBlock<std::string>;
  static Block* make(const std::string& s) { return s.empty() ? nullptr : new Block(s, false); }
  static const std::string& empty_string();
  explicit SharedString(Block* b) : SharedRef(b) {}
};

// A string that many records share (a dtype's description, a storage layout, the line of code a
// tensor came from, an unsupported type's reason): a SharedString whose value has one copy
// alive however it was made (a process-wide pool finds it), instead of a copy per record. A
// value is freed with the last record holding it (and leaves the pool then), so a file whose
// every tensor carries its own text costs what it did as std::string, and nothing stays
// behind but the eight values each thread used last (interned.cpp). Assigning interns.
class InternedString : public SharedString {
 public:
  InternedString() = default;
  InternedString(const std::string& s) : SharedString(s.empty() ? nullptr : intern_block(s)) {}
  InternedString(const char* s) : InternedString(std::string(s)) {}
  InternedString& operator=(const std::string& s) { return *this = InternedString(s); }
  InternedString& operator=(const char* s) { return *this = InternedString(s); }
  InternedString& operator+=(const std::string& s) { return *this = InternedString(str() + s); }

  // Equal values alive at once share one copy: equality is the pointers'.
  friend bool operator==(const InternedString& a, const InternedString& b) { return a.p_ == b.p_; }
  friend bool operator!=(const InternedString& a, const InternedString& b) { return a.p_ != b.p_; }
  // Exact overloads for text (else a string could convert to either side's type: ambiguous).
  friend bool operator==(const InternedString& a, const std::string& b) { return a.str() == b; }
  friend bool operator!=(const InternedString& a, const std::string& b) { return a.str() != b; }
  friend bool operator==(const InternedString& a, const char* b) { return a.str() == b; }
  friend bool operator!=(const InternedString& a, const char* b) { return a.str() != b; }

  // Distinct values alive in the pool (for tests).
  static size_t pooled() { return pooled_values<std::string>(); }
};

// A tensor's dimensions: std::vector<uint64_t>'s reading interface in 8 bytes, one pooled copy
// per distinct shape alive (a model's layers repeat a handful of shapes; two dumps of one model
// have the same ones) instead of 24 bytes and a heap copy per listing entry. Empty for a scalar
// (holds nothing). Read as a const std::vector<uint64_t>; assigning interns.
class Shape : public SharedRef<std::vector<uint64_t>> {
 public:
  using Dims = std::vector<uint64_t>;
  Shape() = default;
  Shape(const Dims& d) : SharedRef(d.empty() ? nullptr : intern_block(d)) {}
  Shape(std::initializer_list<uint64_t> l) : Shape(Dims(l)) {}
  Shape& operator=(const Dims& d) { return *this = Shape(d); }
  Shape& operator=(std::initializer_list<uint64_t> l) { return *this = Shape(Dims(l)); }

  const Dims& vec() const { return p_ ? p_->value : empty_dims(); }
  operator const Dims&() const { return vec(); }
  size_t size() const { return vec().size(); }
  bool empty() const { return !p_; }
  uint64_t operator[](size_t i) const { return vec()[i]; }
  uint64_t back() const { return vec().back(); }
  uint64_t front() const { return vec().front(); }
  const uint64_t* data() const { return vec().data(); }
  Dims::const_iterator begin() const { return vec().begin(); }
  Dims::const_iterator end() const { return vec().end(); }

  // Equal shapes alive at once share one copy.
  friend bool operator==(const Shape& a, const Shape& b) { return a.p_ == b.p_; }
  friend bool operator!=(const Shape& a, const Shape& b) { return a.p_ != b.p_; }
  friend bool operator==(const Shape& a, const Dims& b) { return a.vec() == b; }
  friend bool operator!=(const Shape& a, const Dims& b) { return a.vec() != b; }
  friend bool operator==(const Dims& a, const Shape& b) { return a == b.vec(); }
  friend bool operator!=(const Dims& a, const Shape& b) { return a != b.vec(); }

  static size_t pooled() { return pooled_values<Dims>(); }

 private:
  static const Dims& empty_dims();
};


}  // namespace tensordiff
