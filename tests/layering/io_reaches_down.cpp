// The control for io_reaches_up.cpp: io including the core below it compiles.
#include "core/partial.hpp"
#include "io/source.hpp"
