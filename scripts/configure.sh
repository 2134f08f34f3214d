#!/usr/bin/env bash
# Configures a build directory against Debian's LLVM/MLIR 22.
#
#   scripts/configure.sh [DIR]             the release build (default: build/)
#   scripts/configure.sh --sanitize DIR    clang-22, ASan + UBSan
#   scripts/configure.sh --fuzz DIR        clang-22, ASan + UBSan + libFuzzer
#                                          coverage, and the fuzz/ harnesses
#
# Re-running it on a configured directory is cheap and changes nothing.
set -euo pipefail
cd "$(dirname "$0")/.."
EXTRA=()
case "${1:-}" in
--sanitize | --fuzz)
  MODE="$1"
  BUILD_DIR="${2:?usage: scripts/configure.sh $1 DIR}"
  if [ "$BUILD_DIR" = build ]; then
    echo "configure: $MODE needs a directory of its own, not build/" >&2
    exit 1
  fi
  EXTRA=(-DCMAKE_C_COMPILER=clang-22 -DCMAKE_CXX_COMPILER=clang++-22
         -DSEQC_SANITIZE=ON)
  if [ "$MODE" = --fuzz ]; then EXTRA+=(-DSEQC_FUZZ=ON); fi
  ;;
-*)
  echo "usage: scripts/configure.sh [DIR | --sanitize DIR | --fuzz DIR]" >&2
  exit 1
  ;;
*) BUILD_DIR="${1:-build}" ;;
esac
if [ ! -f "$BUILD_DIR/build.ninja" ]; then
  cmake -G Ninja -S . -B "$BUILD_DIR" \
    -DCMAKE_BUILD_TYPE=Release \
    -DMLIR_DIR=/usr/lib/llvm-22/lib/cmake/mlir \
    -DLLVM_EXTERNAL_LIT=/usr/lib/llvm-22/bin/lit \
    "${EXTRA[@]}"
fi
