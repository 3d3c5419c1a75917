// libFuzzer target: the listing book an MPI group's ranks receive (io/listing_book.hpp). A
// book that is not exactly what encode() writes at this version is refused with WireError;
// one that is accepted encodes back to the same bytes.
#include <algorithm>
#include <cstdint>
#include <cstdlib>

#include "io/listing_book.hpp"
#include "io/wire.hpp"

using namespace tensordiff;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::unique_ptr<ListingBook> b;
  try {
    b = ListingBook::decode(data, size);
  } catch (const wire::WireError&) {
    return 0;
  }
  const std::vector<uint8_t> again = b->encode();
  if (again.size() != size || !std::equal(again.begin(), again.end(), data)) std::abort();
  return 0;
}
