#!/usr/bin/env bash
# The main job: install what is missing, build seqc-opt, and run it on the
# examples in docs/examples (parse, verify, canonicalize, compress the KV
# cache). This becomes "compile the embedded model and generate text" once the
# end-to-end RWKV path lands.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/configure.sh build
cmake --build build --target seqc-opt

run() {
  echo
  echo "\$ seqc-opt $*"
  build/bin/seqc-opt "$@"
}
run docs/examples/rwkv4-block.mlir -canonicalize
run docs/examples/spiking.mlir -canonicalize
run docs/examples/kv-attention.mlir \
  --seq-compress-kv-cache="key-bits=2 value-bits=2 group-size=32 sinks=4 window=128"
