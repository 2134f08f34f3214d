#!/usr/bin/env bash
# Emits what `seqc compile` produces for a fixed set of models and options
# (seq IR after the model pipeline, optimized LLVM IR, the manifest), so that
# a change meant to keep behaviour can be checked by a diff:
#
#   bash scripts/compare_ir.sh OLD/bin/seqc /tmp/ir-old
#   bash scripts/compare_ir.sh build/bin/seqc /tmp/ir-new
#   bash scripts/compare_ir.sh --diff /tmp/ir-old /tmp/ir-new
#
# The diff ignores the numbering of outlined functions (async tasks), which
# depends on the order passes visit them.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${1:-}" = "--diff" ]; then
  norm() { sed -E 's/(parallel_compute_fn|async_execute_fn|_outlined)[_0-9]*/\1_N/g' "$1"; }
  status=0
  for f in "$2"/*; do
    g="$3/$(basename "$f")"
    if [ ! -f "$g" ]; then echo "missing: $g"; status=1; continue; fi
    if ! diff -q <(norm "$f") <(norm "$g") >/dev/null; then
      echo "differs: $(basename "$f")"; status=1
    fi
  done
  [ $status -eq 0 ] && echo "identical: $(ls "$2" | wc -l) files"
  exit $status
fi
SEQC="$1"
OUT="$2"
mkdir -p "$OUT"
RWKV=models/rwkv4-tiny-shakespeare.pth
LLAMA=models/llama-tiny-shakespeare
# name | model | options
CASES=(
  "rwkv4-fp32|$RWKV|"
  "rwkv4-int8|$RWKV|--weights=int8"
  "llama-fp32|$LLAMA|"
  "llama-kivi2-hadamard|$LLAMA|--kv-bits=2 --rotate-kv"
  "llama-int8-h2o|$LLAMA|--weights=int8 --kv-evict=h2o --kv-budget=64 --kv-recent=8"
)
for c in "${CASES[@]}"; do
  IFS='|' read -r name model opts <<<"$c"
  # shellcheck disable=SC2086
  "$SEQC" compile "$model" --target=cpu $opts --emit=mlir -o "$OUT/$name.mlir" 2>/dev/null
  # shellcheck disable=SC2086
  "$SEQC" compile "$model" --target=cpu $opts --emit=llvm -o "$OUT/$name.ll" 2>/dev/null
  rm -rf "$OUT/$name.artifact"
  # shellcheck disable=SC2086
  "$SEQC" compile "$model" --target=cpu $opts -o "$OUT/$name.artifact" 2>/dev/null
  cp "$OUT/$name.artifact/manifest.json" "$OUT/$name.manifest.json"
  rm -rf "$OUT/$name.artifact"
done
