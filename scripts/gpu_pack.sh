#!/usr/bin/env bash
# Builds the CUDA backend for Hopper (sm_90) and packs the executables with their shared
# libraries into .devpack/ for the GPU machine (../shared/device/README.md). Then, with the
# device tool and carry [".devpack"], run in ONE command:
#   source .devpack/env.sh && nvidia-smi -L && tensordiff_tests --gtest_filter='Cuda*' \
#     && tensordiff_cuda_bench 1024 64 4 20
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
cmake -S . -B build-gpu -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_CUDA_ARCHITECTURES=90 >/dev/null
cmake --build build-gpu -j"$(nproc)"
../shared/device/pack.sh .devpack build-gpu/tensordiff build-gpu/tests/tensordiff_tests \
  build-gpu/tensordiff_cuda_bench build-gpu/tensordiff_gen
