#!/usr/bin/env bash
# scripts/pack_device.sh DEST EXECUTABLE...
#
# Copies the given executables, and every shared library they load that is not part of the C
# runtime or the NVIDIA driver, into DEST/bin and DEST/lib, and writes DEST/env.sh that points
# LD_LIBRARY_PATH at DEST/lib. The GPU machine has the CUDA toolkit and driver but none of the
# project's Debian libraries (HDF5, Highway, ...), so a build made here runs there only with them.
# Link the CUDA runtime statically (CMake's default) so that nothing else is missing.
#
# Origin: the team's shared device/pack.sh (outside this repository), copied here unchanged in
# behaviour so that the repository needs nothing beside it (issue 21). scripts/gpu_check.sh pack
# calls it; docs/gpu-check.md describes the whole check.
#
# Typical use (in the project root; .devpack/ is in .gitignore):
#   scripts/pack_device.sh .devpack build/tensordiff build/tests/tensordiff_tests
#   then on the GPU machine, carry .devpack and run:
#   source .devpack/env.sh && tensordiff_tests --gtest_filter='*Cuda*'
set -euo pipefail
[[ $# -ge 2 ]] || { echo "usage: $0 DEST EXECUTABLE..." >&2; exit 2; }
dest=$1; shift
rm -rf "$dest"; mkdir -p "$dest/bin" "$dest/lib"
# the C runtime and the driver come from the GPU machine itself
skip='^(linux-vdso|ld-linux|libc\.so|libm\.so|libpthread|libdl\.so|librt\.so|libresolv|libcuda\.so|libnvidia)'
for exe in "$@"; do
  [[ -x $exe ]] || { echo "pack: $exe is not an executable" >&2; exit 2; }
  cp -L "$exe" "$dest/bin/"
  ldd "$exe" | awk '/=> \// {print $1, $3}' | while read -r name path; do
    [[ $name =~ $skip ]] && continue
    cp -Ln "$path" "$dest/lib/$name"
  done
done
cat > "$dest/env.sh" <<'ENV'
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
export LD_LIBRARY_PATH="$here/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
export PATH="$here/bin:$PATH"
ENV
echo "pack: $(du -sh "$dest" | cut -f1) in $dest"
