// One include, named by the probe target (tests/CMakeLists.txt: PROBE_HEADER), compiled with
// the include paths of the layer or program under test. Never part of a normal build: the
// probes that run up the layout must fail to compile (tests/layering/probe.sh).
#include PROBE_HEADER
