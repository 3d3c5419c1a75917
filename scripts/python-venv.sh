#!/usr/bin/env bash
# The Python test environment: build/venv, made from Debian's python3 with its site packages
# (torch, numpy, h5py stay Debian's) plus JAX with flax, MindSpore (CPU), safetensors, transformers, the notebook
# kernel and pandas from PyPI, pinned to versions
# that work with Debian's numpy 1.24. Without network the venv still works and the JAX and
# MindSpore (and transformers) tests say in their output that the packages could not be installed.
set -uo pipefail
cd "$(dirname "$0")/.."
venv=build/venv
if [[ ! -x $venv/bin/python ]]; then
  /usr/bin/python3 -m venv --system-site-packages "$venv" || exit 1
fi
numpy=$(/usr/bin/python3 -c 'import numpy; print(numpy.__version__)')
# flax 0.8.5 is the newest for jax 0.4.30; its optax, orbax and tensorstore as pip resolved them.
if ! $venv/bin/python -c 'import jax, flax, mindspore, safetensors' >/dev/null 2>&1; then
  echo "python-venv: installing jax, flax, mindspore (CPU) and safetensors into $venv"
  if ! $venv/bin/pip install -q --disable-pip-version-check "numpy==$numpy" \
       "jax[cpu]==0.4.30" "flax==0.8.5" "optax==0.2.5" "chex==0.1.90" "orbax-checkpoint==0.6.4" \
       "tensorstore==0.1.86" "mindspore==2.9.0" "safetensors==0.4.5" > "$venv/pip.log" 2>&1; then
    echo "python-venv: could not install jax/flax/mindspore/safetensors (see $venv/pip.log); their tests will be skipped"
  fi
fi
# Hugging Face transformers for the real-model slip tests (python/tests/test_transformers_slips.py):
# 4.49.0 is the last release whose model code imports on Debian's torch 1.13 (4.50 needs
# torch.distributed.tensor, torch >= 2); its tokenizers and hub pinned with it.
if ! $venv/bin/python -c 'import transformers' >/dev/null 2>&1; then
  echo "python-venv: installing transformers into $venv"
  if ! $venv/bin/pip install -q --disable-pip-version-check "numpy==$numpy" "safetensors==0.4.5" \
       "transformers==4.49.0" "tokenizers==0.21.4" "huggingface-hub==0.36.2" >> "$venv/pip.log" 2>&1; then
    echo "python-venv: could not install transformers (see $venv/pip.log); its tests will be skipped"
  fi
fi
# The notebook test (python/tests/test_notebook.py) renders a report in a real kernel: nbclient,
# ipykernel and nbformat (IPython is Debian's); pandas for Report.to_pandas(). Pinned to releases
# that run on Debian's python 3.11 with its numpy.
if ! $venv/bin/python -c 'import nbclient, ipykernel, nbformat, pandas' >/dev/null 2>&1; then
  echo "python-venv: installing nbclient, ipykernel, nbformat and pandas into $venv"
  if ! $venv/bin/pip install -q --disable-pip-version-check "numpy==$numpy" "nbclient==0.10.2" \
       "ipykernel==6.29.5" "nbformat==5.10.4" "pandas==2.2.3" >> "$venv/pip.log" 2>&1; then
    echo "python-venv: could not install nbclient/ipykernel/nbformat/pandas (see $venv/pip.log); the notebook and to_pandas tests will be skipped"
  fi
fi
# cuobjdump and nvdisasm for the GPU kernel's static proxy (bench/sass_proxy.py, issue 24): the
# CUDA toolkit here has nvcc and ptxas but no disassembler; NVIDIA's PyPI wheels carry both.
if ! ls $venv/lib/python3*/site-packages/nvidia/cu13/bin/nvdisasm >/dev/null 2>&1; then
  echo "python-venv: installing cuobjdump and nvdisasm into $venv"
  if ! $venv/bin/pip install -q --disable-pip-version-check "nvidia-cuda-cuobjdump==13.5.37" \
       "nvidia-cuda-nvdisasm==13.5.37" >> "$venv/pip.log" 2>&1; then
    echo "python-venv: could not install cuobjdump/nvdisasm (see $venv/pip.log); the SASS proxy test will fail"
  fi
fi
# msprobe (Ascend's mindstudio-probe) writes the real dumps of python/tests/test_msprobe*.py.
# Each version in a venv of its own: it pulls pandas and matplotlib versions of its own, which
# stay out of build/venv. numpy pinned to Debian's; its compare imports twisted's TLS: Debian's
# pyOpenSSL 23 fails with a newer cryptography.
msprobe_venv() {  # VENV VERSION
  if [[ ! -x $1/bin/python ]]; then
    /usr/bin/python3 -m venv --system-site-packages "$1" || exit 1
  fi
  if ! $1/bin/python -c 'import msprobe, service_identity' >/dev/null 2>&1; then
    echo "python-venv: installing mindstudio-probe $2 into $1"
    if ! $1/bin/pip install -q --disable-pip-version-check "numpy==$numpy" "mindstudio-probe==$2" \
         "pyOpenSSL==24.2.1" "cryptography==43.0.3" "service-identity==24.1.0" > "$1/pip.log" 2>&1; then
      echo "python-venv: could not install mindstudio-probe $2 (see $1/pip.log); its dump tests will be skipped"
    fi
  fi
}
# 1.3.0 (API and module dumps on Debian's torch 1.13) and 8.1.2 (the issue's module-level
# version; its API dumps fail on torch 1.13).
msvenv=build/venv-msprobe
msvenv8=build/venv-msprobe8
msprobe_venv "$msvenv" 1.3.0
msprobe_venv "$msvenv8" 8.1.2
# transformers beside each msprobe, for its module dumps of real model code
# (python/tests/test_msprobe_replay.py); the same pins as build/venv's.
for v in "$msvenv" "$msvenv8"; do
  if $v/bin/python -c 'import msprobe' >/dev/null 2>&1 && ! $v/bin/python -c 'import transformers' >/dev/null 2>&1; then
    echo "python-venv: installing transformers into $v"
    if ! $v/bin/pip install -q --disable-pip-version-check "numpy==$numpy" "safetensors==0.4.5" \
         "transformers==4.49.0" "tokenizers==0.21.4" "huggingface-hub==0.36.2" >> "$v/pip.log" 2>&1; then
      echo "python-venv: could not install transformers into $v (see $v/pip.log); its msprobe tests will be skipped"
    fi
  fi
done
exit 0
