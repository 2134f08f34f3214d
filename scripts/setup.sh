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
  # numpy references (Debian's python3, used through /usr/bin/python3)
  python3 python3-numpy
  # the GPT-NeoX tokenizer reference (its pretokenizer regex uses \p{L}, \p{N})
  python3-regex
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
