#!/usr/bin/env bash
# The CUDA target on a GPU: correctness of the decode kernels, then their
# bandwidth as a ratio to the device's copy bandwidth. A few minutes on an
# H200 (most of it starting up); it builds nothing heavy.
#
#   bash bench/cuda/run.sh --prepare [DIR]
#       On a machine with seqc built and the CUDA toolkit (no GPU needed):
#       compiles the artifacts into DIR (default bench/cuda/artifacts):
#       decode/ (lib/Target/GPU/kernels/decode.mlir), wkv7/ (wkv7.mlir),
#       wkv56/ (wkv56.mlir), attend/ (attend.mlir),
#       prefill/ (prefill.mlir), prefill_mma/ (lib/Target/CUDA/kernels/
#       prefill_mma.mlir) and bench/ (the copy kernel, the decode
#       products at 16384 x 8192, the prefill products at 2048 x 4096 x
#       4096 and an FMA loop, gen_kernels.py), step_MODEL_W/ (the large
#       products of one decode step of RWKV-7 1.5B and LLaMA 1B with f16
#       and int8 weights, gen_kernels.py --model),
#       for $SEQC_CUDA_ARCH (default sm_90; their PTX runs on later GPUs).
#   bash bench/cuda/run.sh [--artifacts DIR] [--out FILE]
#       On the GPU machine: uses build/bin/seqc-cuda-run, or compiles it
#       with c++ (the runtime's CUDA driver only: no MLIR, no CUDA headers);
#       prepares the artifacts first if they are missing and seqc is built;
#       checks every decode kernel against the numpy reference (the
#       cuda-device lit tests when lit and a build are there, else the same
#       commands directly: test/reference/vulkan_kernels_ref.py, cubin and
#       PTX-JIT); times copy and the products (seqc-cuda-run --time); writes
#       FILE (default bench/results/cuda_<device>.json; also $OUT/ when set).
#
# Exit status: 0 when every check passed; 1 on a failed check or error; 2
# when the machine has no CUDA device.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
artifacts=$root/bench/cuda/artifacts
out=""
arch=${SEQC_CUDA_ARCH:-sm_90}

prepare() {
  local dir=$1 seqc=$root/build/bin/seqc
  [ -x "$seqc" ] || { echo "run.sh: $seqc is not built (scripts/configure.sh build && cmake --build build)" >&2; return 1; }
  mkdir -p "$dir"
  rm -rf "$dir/decode" "$dir/wkv7" "$dir/wkv56" "$dir/attend" "$dir/prefill" "$dir/prefill_mma" "$dir/bench"
  "$seqc" compile "$root/lib/Target/GPU/kernels/decode.mlir" --target=cuda --cuda-arch="$arch" -o "$dir/decode"
  "$seqc" compile "$root/lib/Target/GPU/kernels/wkv7.mlir" --target=cuda --cuda-arch="$arch" -o "$dir/wkv7"
  "$seqc" compile "$root/lib/Target/GPU/kernels/wkv56.mlir" --target=cuda --cuda-arch="$arch" -o "$dir/wkv56"
  "$seqc" compile "$root/lib/Target/GPU/kernels/attend.mlir" --target=cuda --cuda-arch="$arch" -o "$dir/attend"
  "$seqc" compile "$root/lib/Target/GPU/kernels/prefill.mlir" --target=cuda --cuda-arch="$arch" -o "$dir/prefill"
  "$seqc" compile "$root/lib/Target/CUDA/kernels/prefill_mma.mlir" --target=cuda --cuda-arch="$arch" -o "$dir/prefill_mma"
  python3 "$root/bench/cuda/gen_kernels.py" "$dir/bench.mlir"
  for model in rwkv7-1.5b llama-1b rwkv7-1.5b-fused llama-1b-fused; do
    for w in f16 i8; do
      rm -rf "$dir/step_${model}_$w"
      python3 "$root/bench/cuda/gen_kernels.py" "$dir/step_${model}_$w.mlir" --model "$model" --weights "$w"
      "$seqc" compile "$dir/step_${model}_$w.mlir" --target=cuda --cuda-arch="$arch" -o "$dir/step_${model}_$w"
      rm "$dir/step_${model}_$w.mlir"
    done
  done
  "$seqc" compile "$dir/bench.mlir" --target=cuda --cuda-arch="$arch" -o "$dir/bench"
}

if [ "${1:-}" = "--prepare" ]; then
  prepare "${2:-$artifacts}"
  exit 0
fi
while [ $# -gt 0 ]; do
  case $1 in
    --artifacts) artifacts=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    *) echo "run.sh: unknown argument '$1'" >&2; exit 1 ;;
  esac
done

work=$(mktemp -d /tmp/seqc-cuda-bench.XXXXXX)
run=$root/build/bin/seqc-cuda-run
if [ ! -x "$run" ]; then
  run=$work/seqc-cuda-run
  echo "run.sh: compiling seqc-cuda-run" >&2
  c++ -O2 -std=c++17 -I"$root/runtime/include" -I"$root/runtime/src" \
    -I"$root/tools" \
    "$root/tools/seqc-cuda-run/seqc-cuda-run.cpp" \
    "$root/runtime/src/drivers/cuda/cuda_kernels.cpp" \
    "$root/runtime/src/drivers/gpu/kernel_artifact.cpp" -ldl -o "$run"
fi

set +e
"$run" --probe > "$work/probe.txt" 2>&1
status=$?
set -e
cat "$work/probe.txt"
if [ $status -ne 0 ]; then
  echo "run.sh: no CUDA device here; nothing measured" >&2
  exit $status
fi

if [ ! -f "$artifacts/decode/kernels.bin" ] || [ ! -f "$artifacts/wkv7/kernels.bin" ] ||
   [ ! -f "$artifacts/wkv56/kernels.bin" ] || [ ! -f "$artifacts/attend/kernels.bin" ] ||
   [ ! -f "$artifacts/prefill/kernels.bin" ] || [ ! -f "$artifacts/prefill_mma/kernels.bin" ] ||
   [ ! -f "$artifacts/bench/kernels.bin" ] ||
   [ ! -f "$artifacts/step_llama-1b-fused_i8/kernels.bin" ]; then
  prepare "$artifacts"
fi

# Correctness first: figures of wrong kernels mean nothing.
: > "$work/checks.txt"
ref=$root/test/reference/vulkan_kernels_ref.py
lit=$(command -v lit || command -v /usr/lib/llvm-22/bin/lit || true)
if [ -n "$lit" ] && [ -x "$root/build/bin/seqc" ] && [ -d "$root/build/test" ]; then
  echo "lit: $("$lit" --version 2>&1 | head -1)" >> "$work/checks.txt"
  set +e
  "$lit" -v "$root/build/test/Integration/cuda" 2>&1 | tee "$work/lit.txt" |
    grep -E '^(PASS|FAIL|UNSUPPORTED|XFAIL|UNRESOLVED):' >> "$work/checks.txt"
  set -e
else
  py=""
  for p in ${SEQC_PYTHON:-} python3 /usr/bin/python3; do
    if "$p" -c "import numpy" 2>/dev/null; then py=$p; break; fi
  done
  [ -n "$py" ] || echo "no python with numpy: the kernels are not checked: MISMATCH" >> "$work/checks.txt"
  for load in ${py:+cubin ptx}; do
    for k in matvec_f32 matvec_f16 matvec_i8 wkv4_step "wkv4_step --steps 8" \
      wkv7_step "wkv7_step --steps 8" "wkv56_step --steps 8" attend_kivi2 attend_kivi4 matmul_f32 matmul_f16 matmul_i8 matmul_f16_mma; do
      art=$artifacts/decode
      case $k in
        wkv7*) art=$artifacts/wkv7 ;;
        wkv56*) art=$artifacts/wkv56 ;;
        attend*) art=$artifacts/attend ;;
        *_mma) art=$artifacts/prefill_mma ;;
        matmul*) art=$artifacts/prefill ;;
      esac
      set +e
      line=$(SEQC_CUDA_LOAD=$load "$py" "$ref" "$run" "$art" $k "$work/ref" 2>&1 | tail -1)
      set -e
      echo "$load: $line" >> "$work/checks.txt"
    done
  done
fi
cat "$work/checks.txt"

# Bandwidth: copy (1 GiB each way) is the reference; the products at
# 16384 x 8192 stream their weights from HBM; the decode module's 512 x 256
# products fit in L2 (reported, not a bandwidth figure).
for k in copy matvec_f32 matvec_f16 matvec_i8 matmul_f32 matmul_f16 matmul_i8 matmul_f16_mma fma_peak; do
  "$run" "$artifacts/bench" $k --time 50 --warmup 5 > "$work/time_bench_$k.json"
done
for k in matvec_f32 matvec_f16 matvec_i8 wkv4_step; do
  "$run" "$artifacts/decode" $k --time 2000 --warmup 50 > "$work/time_decode_$k.json"
done
"$run" "$artifacts/wkv7" wkv7_step --time 2000 --warmup 50 > "$work/time_decode_wkv7_step.json"
"$run" "$artifacts/wkv56" wkv56_step --time 2000 --warmup 50 > "$work/time_decode_wkv56_step.json"
for k in attend_kivi2 attend_kivi4; do
  "$run" "$artifacts/attend" $k --time 2000 --warmup 50 > "$work/time_decode_$k.json"
done

# The large products of one decode step at model shapes, each with its own
# weights (2.5 and 1.25 GiB of RWKV-7 1.5B weights at f16 and int8; 2.3 and
# 1.2 GiB of LLaMA 1B), launched one by one and as one CUDA graph.
for model in rwkv7-1.5b llama-1b rwkv7-1.5b-fused llama-1b-fused; do
  for w in f16 i8; do
    "$run" "$artifacts/step_${model}_$w" --sequence --time 20 --warmup 3 > "$work/time_step_${model}_${w}_launches.json"
    "$run" "$artifacts/step_${model}_$w" --sequence --time 20 --warmup 3 --graph > "$work/time_step_${model}_${w}_graph.json"
  done
done

# Whole models, when seqc is built here: random checkpoints compiled with
# --target=cuda at f32 and f16 and decoded by seqc-run bench (their logits
# are checked against the CPU and numpy by test/Integration/cuda/
# models-run.test above).
#   RWKV-7 of 12 x 768 and 24 x 2048 (1.5B-shaped);
#   LLaMA with its KV cache (plain f32 entries) of a small shape and of
#   LLaMA 3.2 1B's (16 x 2048, 32 heads over 8 KV heads, ffn 8192,
#   vocabulary 128256), context 2048: decode at the first 48 positions, the
#   attention a small share of the bytes. On a 2-core machine the 1B
#   checkpoint takes about 50 s to write (5.6 GB) and 25 s per compile.
bench_model() { # NAME CHECKPOINT: model_NAME_{fp32,fp16}.json
  local w
  for w in fp32 fp16; do
    "$root/build/bin/seqc" compile "$2" --target=cuda --cuda-arch="$arch" \
      --weights=$w -o "$work/model-$1-$w" 2>/dev/null
    "$root/build/bin/seqc-run" bench "$work/model-$1-$w" --prefill 16 \
      --decode 32 --rounds 3 -o "$work/model_$1_$w.json" > /dev/null
  done
}
if [ -x "$root/build/bin/seqc" ] && [ -x "$root/build/bin/seqc-run" ]; then
  for shape in "12 768 12 16384" "24 2048 32 65536"; do
    set -- $shape
    ckpt=$work/rwkv7-$1x$2.safetensors
    python3 "$root/test/reference/rwkv567_ref.py" random --version 7 \
      --layers "$1" --embd "$2" --heads "$3" --vocab "$4" --seed 1 \
      --dtype fp16 --format safetensors -o "$ckpt" > /dev/null
    bench_model "rwkv7-$1x$2" "$ckpt"
  done
  for shape in "4 512 8 4 1376 32000" "16 2048 32 8 8192 128256"; do
    set -- $shape
    ckpt=$work/llama-$1x$2
    python3 "$root/test/reference/llama_ref.py" random "$ckpt" --layers "$1" \
      --embd "$2" --heads "$3" --kv-heads "$4" --ffn "$5" --vocab "$6" \
      --context 2048 --seed 1 > /dev/null
    bench_model "llama-$1x$2" "$ckpt"
  done
fi

python3 "$root/bench/cuda/report.py" "$work" "$artifacts" ${out:+--out "$out"}
