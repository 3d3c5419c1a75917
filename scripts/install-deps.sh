#!/usr/bin/env bash
# Installs what tensordiff needs from Debian's packages (only what is missing).
set -euo pipefail
pkgs=(build-essential cmake ninja-build pkg-config
      libhdf5-dev hdf5-tools libhwy-dev libcxxopts-dev nlohmann-json3-dev
      libgtest-dev libbenchmark-dev libdeflate-dev zlib1g-dev pybind11-dev python3-dev libre2-dev libminizip-dev liblzf-dev
      hdf5-filter-plugin hdf5-plugin-lzf hdf5-filter-plugin-blosc-serial
      clang libclang-rt-14-dev chromium libopenmpi-dev openmpi-bin
      python3 python3-numpy python3-h5py python3-pytest python3-torch
      python3-setuptools python3-pip time bc valgrind)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "install-deps: installing ${missing[*]}"
  sudo=""
  [[ $(id -u) -eq 0 ]] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
