#!/usr/bin/env bash
# The main job: install what is missing, build seqc and seqc-run, compile the
# embedded model (a tiny byte-level RWKV-4 trained on tinyshakespeare, in the
# official .pth layout) ahead of time for this CPU, and generate text with it.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/configure.sh build
cmake --build build --target seqc seqc-run

run() {
  echo
  echo "\$ $*"
  "$@"
}
run build/bin/seqc compile models/rwkv4-tiny-shakespeare.pth --target=cpu \
  -o build/models/rwkv4-tiny-shakespeare
run build/bin/seqc-run generate build/models/rwkv4-tiny-shakespeare \
  -p "ROMEO:" -n 400 --temp 0.8 --top-p 0.9 --seed 7
