// Deliberately wrong: a source (src/io is below src/engine) including an engine header. The
// build must refuse it (tests/layering/probe.sh); never part of a normal build.
#include "engine/runner.hpp"
