#!/usr/bin/env bash
# Installs every Debian and PyPI package seqc needs, idempotently: `apt-get update`
# runs at most once, and only when a package is missing; nothing else is downloaded.
set -euo pipefail

APT_PACKAGES=(
  # toolchain and build (gcc also links the model libraries seqc compiles)
  cmake ninja-build ccache gcc g++ git
  # LLVM/MLIR 22 (libMLIR.so, mlir-tblgen, lit, FileCheck, not)
  libmlir-22-dev mlir-22-tools llvm-22-dev llvm-22-tools clang-22 clang-format-22
  # the sanitizer and libFuzzer runtimes of clang-22 (scripts/configure.sh --sanitize | --fuzz)
  libclang-rt-22-dev
  # tests and benchmarks
  libgtest-dev libbenchmark-dev
  # bench/compile_scale.py measures peak RSS with GNU time
  time
  # numpy references (Debian's python3, used through /usr/bin/python3)
  python3 python3-numpy
  # the GPT-NeoX tokenizer reference (its pretokenizer regex uses \p{L}, \p{N})
  python3-regex
  # --target=neuro writes model.nir (HDF5) with libhdf5's C API; the NIR
  # interoperability tests read it with h5py and simulate it with Debian's torch
  libhdf5-dev python3-h5py python3-torch
  # the Vulkan target: lavapipe (a Vulkan 1.3 device on the CPU), the loader
  # and headers, volk, the Khronos validation layer, spirv-val, vulkaninfo
  mesa-vulkan-drivers libvulkan-dev libvulkan-volk-dev vulkan-validationlayers
  spirv-tools vulkan-tools
)

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$pkg")
  fi
done

if [ "${#missing[@]}" -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
else
  echo "setup: all ${#APT_PACKAGES[@]} Debian packages present"
fi

# The NIR readers for the interoperability tests (lit feature `nir`, and
# `snntorch`): a venv over Debian's python3 that sees its numpy, h5py and
# torch, with the pure-Python packages pinned and installed without their
# dependencies (so pip never pulls PyPI's torch). SEQC_PYENV moves it; set
# SEQC_NO_PIP=1 to skip it (the tests then report themselves unsupported).
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
PYENV="${SEQC_PYENV:-$ROOT/.venv}"
PIP_PACKAGES=(nir==1.0.8 nirtorch==2.6 snntorch==1.0.0)
if [ "${SEQC_NO_PIP:-0}" != 1 ]; then
  if [ ! -x "$PYENV/bin/python" ]; then
    /usr/bin/python3 -m venv --system-site-packages "$PYENV"
  fi
  if "$PYENV/bin/python" -c "import nir, snntorch; from snntorch.import_nir import import_from_nir" 2>/dev/null; then
    echo "setup: $PYENV has ${PIP_PACKAGES[*]}"
  else
    echo "setup: installing ${PIP_PACKAGES[*]} into $PYENV"
    "$PYENV/bin/pip" install -q --no-deps "${PIP_PACKAGES[@]}"
  fi
fi
