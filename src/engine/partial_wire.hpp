// Partials across processes (an MPI group's shares, engine/group.hpp): every field, exactly
// (doubles by their bits), so that rank 0 merges what the ranks computed as if it had.
#pragma once
#include "core/partial.hpp"
#include "io/wire.hpp"

namespace tensordiff {

void encode(wire::Writer& w, const Partial& p);
Partial decode_partial(wire::Reader& r);

}  // namespace tensordiff
