"""Speed of one decode step's attention over KV caches of each kind, against
a read of memory in the same process.

    /usr/bin/python3 bench/kv_attention.py [--build build] [--contexts 2048,8192]
        [--rounds 7] [--out bench/results/kv_attention.json]

For each context N, emits one seq-dialect program holding one cache of each
kind -- f32, fp16, 4-bit and 2-bit KIVI (keys per channel, values per
token, groups of 32, a window of 32 tokens) -- of the MHA benchmark's shape
(bench/llama_kv_decode.py --kv-heads 32: 32 KV heads of 64, one query head
each), fills each with the same N random tokens (seq.kv_append), then
times seq.kv_attention of one query over each (the KV heads spread over
the threads as in a compiled model), the kinds in turn in each round, and
a read of a 512 MiB buffer by as many threads (seq.parallel chunks) as the
bandwidth probe of the same round. Compiled with seq-cpu-pipeline and run
with mlir-runner. Per kind: the best round's ms per attention, the cache
bytes it reads (the bit-packed tokens' codes, scales and minima, the rest at
full precision) divided by that time, that speed over the probe's, and
the speedup over the fp16 cache.
"""

import argparse
import json
import subprocess
import tempfile
from pathlib import Path

from machine import machine

REPO = Path(__file__).resolve().parent.parent
LIBS = "/usr/lib/llvm-22/lib"
H, D = 32, 64
KINDS = [("f32", "f32", None), ("fp16", "f16", None), ("4-bit KIVI", "f32", 4),
         ("2-bit KIVI", "f32", 2)]
WINDOW, GROUP = 32, 32
PROBE_FLOATS = 1 << 27  # 512 MiB
PROBE_CHUNKS = 16


def cache_type(elt, bits, capacity):
    base = f"{H}x{D}x{capacity}x{elt}"
    if not bits:
        return f"!seq.kv_cache<{base}>"
    enc = lambda axis: f"#seq.quant<bits = {bits}, group = {GROUP}, axis = {axis}, asymmetric>"
    return f"!seq.kv_cache<{base}, keys = {enc(0)}, values = {enc(1)}, window = {WINDOW}>"


def bytes_read(elt, bits, n):
    """Bytes of the cache an attention over n tokens reads."""
    full = 4 if elt == "f32" else 2
    if not bits:
        return n * H * D * 2 * full
    # Tokens leave the ring GROUP at a time once it holds WINDOW + GROUP.
    quantized = max(0, (n - WINDOW) // GROUP * GROUP)
    ring = n - quantized
    codes = 2 * D * bits // 8                  # keys and values
    key_params = 2 * D * 4 / GROUP             # per channel: scale, minimum per GROUP tokens
    value_params = 2 * (D // GROUP) * 4        # per token: scale, minimum per group
    return H * (quantized * (codes + key_params + value_params) + ring * D * 2 * 4)


def program(n, reps, rounds):
    cap = n + 64
    q_shape = f"1x{H}x{D}"
    kv_shape = f"{n}x{H}x{D}"
    lines = ["func.func private @rtclock() -> f64",
             "func.func private @printF64(f64)",
             "func.func private @printNewline()"]
    for i, (_, elt, bits) in enumerate(KINDS):
        ty = cache_type(elt, bits, cap)
        lines += [f"""
func.func @fill{i}(%state: memref<?xi8>, %km: memref<{kv_shape}xf32>, %vm: memref<{kv_shape}xf32>) {{
  %c0 = arith.constant 0 : index
  %k = bufferization.to_tensor %km restrict : memref<{kv_shape}xf32> to tensor<{kv_shape}xf32>
  %v = bufferization.to_tensor %vm restrict : memref<{kv_shape}xf32> to tensor<{kv_shape}xf32>
  %c = seq.kv_load %state[%c0] : memref<?xi8> -> {ty}
  %c1 = seq.kv_append %c, %k, %v : {ty}, tensor<{kv_shape}xf32>
  seq.kv_store %c1, %state[%c0] : {ty}, memref<?xi8>
  return
}}
func.func @attend{i}(%state: memref<?xi8>, %qm: memref<{q_shape}xf32>, %om: memref<{q_shape}xf32>) {{
  %c0 = arith.constant 0 : index
  %q = bufferization.to_tensor %qm restrict : memref<{q_shape}xf32> to tensor<{q_shape}xf32>
  %c = seq.kv_load %state[%c0] : memref<?xi8> -> {ty}
  %o, %c1 = seq.kv_attention %q, %c : tensor<{q_shape}xf32>, {ty}
  seq.kv_store %c1, %state[%c0] : {ty}, memref<?xi8>
  bufferization.materialize_in_destination %o in restrict writable %om : (tensor<{q_shape}xf32>, memref<{q_shape}xf32>) -> ()
  return
}}"""]
    chunk = PROBE_FLOATS // PROBE_CHUNKS
    lines += [f"""
// The bandwidth probe: each chunk summed by a vector loop, the chunks
// spread over the threads.
func.func @probe(%buf: memref<{PROBE_FLOATS}xf32>, %sums: memref<{PROBE_CHUNKS}x16xf32>) {{
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c16 = arith.constant 16 : index
  %cchunks = arith.constant {PROBE_CHUNKS} : index
  %cchunk = arith.constant {chunk} : index
  %zero = arith.constant dense<0.0> : vector<16xf32>
  scf.for %p = %c0 to %cchunks step %c1 {{
    %lo = arith.muli %p, %cchunk : index
    %hi = arith.addi %lo, %cchunk : index
    %s = scf.for %i = %lo to %hi step %c16 iter_args(%a = %zero) -> vector<16xf32> {{
      %x = vector.load %buf[%i] : memref<{PROBE_FLOATS}xf32>, vector<16xf32>
      %y = arith.addf %a, %x : vector<16xf32>
      scf.yield %y : vector<16xf32>
    }}
    vector.store %s, %sums[%p, %c0] : memref<{PROBE_CHUNKS}x16xf32>, vector<16xf32>
  }} {{seq.parallel}}
  return
}}
func.func @main() {{
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %reps = arith.constant {reps} : index
  %rounds = arith.constant {rounds} : index
  %km = memref.alloc() : memref<{kv_shape}xf32>
  %vm = memref.alloc() : memref<{kv_shape}xf32>
  %qm = memref.alloc() : memref<{q_shape}xf32>
  %om = memref.alloc() : memref<{q_shape}xf32>
  %kf = memref.collapse_shape %km [[0, 1, 2]] : memref<{kv_shape}xf32> into memref<{n * H * D}xf32>
  %vf = memref.collapse_shape %vm [[0, 1, 2]] : memref<{kv_shape}xf32> into memref<{n * H * D}xf32>
  %qf = memref.collapse_shape %qm [[0, 1, 2]] : memref<{q_shape}xf32> into memref<{H * D}xf32>
  // Pseudo-random values in [-1, 1) (a multiplicative hash of the index).
  %total = arith.constant {n * H * D} : index
  %mul = arith.constant 2654435761 : i64
  %mask = arith.constant 65535 : i64
  %sh = arith.constant 13 : i64
  %scale = arith.constant 3.0517578e-05 : f32
  %one = arith.constant 1.0 : f32
  scf.for %i = %c0 to %total step %c1 {{
    %ii = arith.index_cast %i : index to i64
    %h = arith.muli %ii, %mul : i64
    %h1 = arith.shrui %h, %sh : i64
    %h2 = arith.andi %h1, %mask : i64
    %hf = arith.uitofp %h2 : i64 to f32
    %x = arith.mulf %hf, %scale : f32
    %y = arith.subf %x, %one : f32
    memref.store %y, %kf[%i] : memref<{n * H * D}xf32>
    %j = arith.subi %total, %i : index
    memref.store %y, %vf[%j] : memref<{n * H * D}xf32>
  }}
  %nq = arith.constant {H * D} : index
  scf.for %i = %c0 to %nq step %c1 {{
    %ii = arith.index_cast %i : index to i64
    %h = arith.muli %ii, %mask : i64
    %h1 = arith.andi %h, %mask : i64
    %hf = arith.uitofp %h1 : i64 to f32
    %x = arith.mulf %hf, %scale : f32
    %y = arith.subf %x, %one : f32
    memref.store %y, %qf[%i] : memref<{H * D}xf32>
  }}
  %bytes = arith.constant {4 * 2 * H * D * cap + (1 << 20)} : index
  %buf = memref.alloc() : memref<{PROBE_FLOATS}xf32>
  %sums = memref.alloc() : memref<{PROBE_CHUNKS}x16xf32>
  linalg.fill ins(%one : f32) outs(%buf : memref<{PROBE_FLOATS}xf32>)
"""]
    for i in range(len(KINDS)):
        lines += [f"""  %s{i} = memref.alloc(%bytes) : memref<?xi8>
  %z{i} = arith.constant 0 : i8
  linalg.fill ins(%z{i} : i8) outs(%s{i} : memref<?xi8>)
  func.call @fill{i}(%s{i}, %km, %vm) : (memref<?xi8>, memref<{kv_shape}xf32>, memref<{kv_shape}xf32>) -> ()"""]
    lines += ["  scf.for %r = %c0 to %rounds step %c1 {"]
    for i in range(len(KINDS)):
        lines += [f"""    %t{i} = func.call @rtclock() : () -> f64
    scf.for %k = %c0 to %reps step %c1 {{
      func.call @attend{i}(%s{i}, %qm, %om) : (memref<?xi8>, memref<{q_shape}xf32>, memref<{q_shape}xf32>) -> ()
    }}
    %u{i} = func.call @rtclock() : () -> f64
    %d{i} = arith.subf %u{i}, %t{i} : f64
    func.call @printF64(%d{i}) : (f64) -> ()
    func.call @printNewline() : () -> ()
    %o{i} = memref.load %om[%c0, %c0, %c0] : memref<{q_shape}xf32>
    %oe{i} = arith.extf %o{i} : f32 to f64
    func.call @printF64(%oe{i}) : (f64) -> ()
    func.call @printNewline() : () -> ()"""]
    lines += ["""    %pt0 = func.call @rtclock() : () -> f64
    func.call @probe(%buf, %sums) : (memref<%PF%xf32>, memref<%PC%x16xf32>) -> ()
    %pt1 = func.call @rtclock() : () -> f64
    %pd = arith.subf %pt1, %pt0 : f64
    func.call @printF64(%pd) : (f64) -> ()
    func.call @printNewline() : () -> ()
  }
  return
}""".replace("%PF%", str(PROBE_FLOATS)).replace("%PC%", str(PROBE_CHUNKS))]
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--build", type=Path, default=REPO / "build")
    ap.add_argument("--contexts", default="2048,8192")
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--reps", type=int, default=10, help="attention calls per round and kind")
    ap.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "kv_attention.json")
    a = ap.parse_args()
    results = []
    for n in [int(c) for c in a.contexts.split(",")]:
        with tempfile.TemporaryDirectory() as tmp:
            src = Path(tmp) / "kv_attention.mlir"
            src.write_text(program(n, a.reps, a.rounds))
            lowered = subprocess.run([a.build / "bin" / "seqc-opt", src, "--seq-cpu-pipeline"],
                                     check=True, capture_output=True, text=True).stdout
            out = subprocess.run(["/usr/lib/llvm-22/bin/mlir-runner", "-e", "main",
                                  "-entry-point-result=void", "-O3",
                                  f"-shared-libs={LIBS}/libmlir_runner_utils.so,"
                                  f"{LIBS}/libmlir_c_runner_utils.so,"
                                  f"{LIBS}/libmlir_async_runtime.so"],
                                 input=lowered, check=True, capture_output=True,
                                 text=True).stdout
        values = [float(x) for x in out.split()]
        per_round = 2 * len(KINDS) + 1
        assert len(values) == per_round * a.rounds, out
        rounds = [values[r * per_round:(r + 1) * per_round] for r in range(a.rounds)]
        probe_s = min(r[-1] for r in rounds)
        probe_gb_s = 4 * PROBE_FLOATS / probe_s / 1e9
        kinds = []
        for i, (label, elt, bits) in enumerate(KINDS):
            times = [r[2 * i] / a.reps for r in rounds]
            best = min(times)
            nbytes = bytes_read(elt, bits, n)
            kinds.append({"kind": label, "cache": cache_type(elt, bits, n + 64),
                          "ms": best * 1e3, "ms_rounds": [t * 1e3 for t in times],
                          "bytes": nbytes, "gb_s": nbytes / best / 1e9,
                          "bandwidth_ratio": nbytes / best / 1e9 / probe_gb_s,
                          "first_output": rounds[-1][2 * i + 1]})
        fp16 = next(k for k in kinds if k["kind"] == "fp16")["ms"]
        for k in kinds:
            k["speedup_over_fp16"] = fp16 / k["ms"]
        result = {"context": n, "kv_heads": H, "head_dim": D, "query_heads": H,
                  "reps": a.reps, "rounds": a.rounds, "probe_gb_s": probe_gb_s,
                  "kinds": kinds}
        results.append(result)
        for k in kinds:
            print(f"context {n}: {k['kind']:10s} {k['ms']:7.3f} ms  {k['gb_s']:6.1f} GB/s "
                  f"({k['bandwidth_ratio']:.2f} of the probe's {probe_gb_s:.1f})  "
                  f"x{k['speedup_over_fp16']:.2f} vs fp16", flush=True)
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_text(json.dumps({"machine": machine(), "contexts": results}, indent=2) + "\n")


if __name__ == "__main__":
    main()
