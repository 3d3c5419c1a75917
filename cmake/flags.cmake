add_compile_options($<$<COMPILE_LANGUAGE:CXX>:-Wall> $<$<COMPILE_LANGUAGE:CXX>:-Wextra>)

# Hostile inputs (issue 11): an ASan + UBSan build of everything, and libFuzzer targets
# (clang; tests/fuzz). scripts/sanitize.sh configures both into build-asan/.
if(TENSORDIFF_SANITIZE)
  set(sanitize_flags -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer)
  add_compile_options("$<$<COMPILE_LANGUAGE:C,CXX>:${sanitize_flags}>")
  add_link_options(-fsanitize=address,undefined)
endif()
if(TENSORDIFF_FUZZ)
  if(NOT CMAKE_CXX_COMPILER_ID MATCHES "Clang")
    message(FATAL_ERROR "TENSORDIFF_FUZZ needs clang (CXX=clang++)")
  endif()
  # Coverage feedback from the library too, not only from the fuzz entry points.
  add_compile_options("$<$<COMPILE_LANGUAGE:C,CXX>:-fsanitize=fuzzer-no-link>")
endif()
