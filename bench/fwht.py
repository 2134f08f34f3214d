"""Throughput of the compiled fast Walsh–Hadamard transform against a copy.

    /usr/bin/python3 bench/fwht.py [--build build] [--sizes 16384,262144] [--order 128]

Emits a seq-dialect program that rotates a [rows, order] f32 tensor with
`seq.hadamard` (lowered by convert-seq-hadamard-to-loops: FWHT butterflies)
and copies a buffer of the same size with `memref.copy` (memcpy), each
several times, timed with MLIR's rtclock; compiles it with seq-cpu-pipeline
and runs it with mlir-runner. Prints JSON: GB/s of each (bytes read +
written) and their ratio, measured in the same process, for each number of
rows (by default 16384, 8 MiB: in the caches of this machine, and 262144,
128 MiB: from memory, the size of a long context's KV cache).
"""

import argparse
import json
import re
import subprocess
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
LIBS = "/usr/lib/llvm-22/lib"


def program(rows, order, reps, rounds):
    return f"""
func.func private @rtclock() -> f64
func.func private @printF64(f64)
func.func private @printNewline()
func.func @rotate(%xm: memref<{rows}x{order}xf32>, %ym: memref<{rows}x{order}xf32>) {{
  %x = bufferization.to_tensor %xm restrict : memref<{rows}x{order}xf32> to tensor<{rows}x{order}xf32>
  %y = seq.hadamard %x : tensor<{rows}x{order}xf32>
  bufferization.materialize_in_destination %y in restrict writable %ym : (tensor<{rows}x{order}xf32>, memref<{rows}x{order}xf32>) -> ()
  return
}}
func.func @main() {{
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %reps = arith.constant {reps} : index
  %rounds = arith.constant {rounds} : index
  %one = arith.constant 1.0 : f32
  %xm = memref.alloc() : memref<{rows}x{order}xf32>
  %ym = memref.alloc() : memref<{rows}x{order}xf32>
  %src = memref.alloc() : memref<{rows}x{order}xf32>
  %dst = memref.alloc() : memref<{rows}x{order}xf32>
  linalg.fill ins(%one : f32) outs(%xm : memref<{rows}x{order}xf32>)
  linalg.fill ins(%one : f32) outs(%ym : memref<{rows}x{order}xf32>)
  linalg.fill ins(%one : f32) outs(%src : memref<{rows}x{order}xf32>)
  linalg.fill ins(%one : f32) outs(%dst : memref<{rows}x{order}xf32>)
  // Rounds alternate the transform and the copy, so that both see the same
  // machine; each round prints its two times.
  scf.for %r = %c0 to %rounds step %c1 {{
    // Each repetition changes one input value and reads one output value,
    // so that no repetition can be folded away.
    %t0 = func.call @rtclock() : () -> f64
    %a = scf.for %i = %c0 to %reps step %c1 iter_args(%acc = %one) -> f32 {{
      memref.store %acc, %xm[%c0, %c0] : memref<{rows}x{order}xf32>
      func.call @rotate(%xm, %ym) : (memref<{rows}x{order}xf32>, memref<{rows}x{order}xf32>) -> ()
      %y = memref.load %ym[%c0, %c0] : memref<{rows}x{order}xf32>
      scf.yield %y : f32
    }}
    %t1 = func.call @rtclock() : () -> f64
    %b = scf.for %i = %c0 to %reps step %c1 iter_args(%acc = %one) -> f32 {{
      memref.store %acc, %src[%c0, %c0] : memref<{rows}x{order}xf32>
      memref.copy %src, %dst : memref<{rows}x{order}xf32> to memref<{rows}x{order}xf32>
      %y = memref.load %dst[%c0, %c0] : memref<{rows}x{order}xf32>
      scf.yield %y : f32
    }}
    %t2 = func.call @rtclock() : () -> f64
    %ab = arith.addf %a, %b : f32
    memref.store %ab, %dst[%c1, %c0] : memref<{rows}x{order}xf32>
    %d1 = arith.subf %t1, %t0 : f64
    %d2 = arith.subf %t2, %t1 : f64
    func.call @printF64(%d1) : (f64) -> ()
    func.call @printNewline() : () -> ()
    func.call @printF64(%d2) : (f64) -> ()
    func.call @printNewline() : () -> ()
  }}
  // A rotated row of ones: sqrt(order) first.
  %y0 = memref.load %ym[%c1, %c0] : memref<{rows}x{order}xf32>
  %y0e = arith.extf %y0 : f32 to f64
  func.call @printF64(%y0e) : (f64) -> ()
  func.call @printNewline() : () -> ()
  return
}}
"""


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--build", type=Path, default=REPO / "build")
    ap.add_argument("--sizes", default="16384,262144", help="numbers of rows")
    ap.add_argument("--order", type=int, default=128)
    ap.add_argument("--bytes", type=float, default=5e8,
                    help="bytes each side moves per round (sets the repetitions)")
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "fwht.json")
    a = ap.parse_args()
    results = []
    for rows in [int(r) for r in a.sizes.split(",")]:
        reps = max(3, int(a.bytes / (8 * rows * a.order)))
        with tempfile.TemporaryDirectory() as tmp:
            src = Path(tmp) / "fwht.mlir"
            src.write_text(program(rows, a.order, reps, a.rounds))
            lowered = subprocess.run([a.build / "bin" / "seqc-opt", src, "--seq-cpu-pipeline"],
                                     check=True, capture_output=True, text=True).stdout
            out = subprocess.run(["/usr/lib/llvm-22/bin/mlir-runner", "-e", "main",
                                  "-entry-point-result=void", "-O3",
                                  f"-shared-libs={LIBS}/libmlir_runner_utils.so,"
                                  f"{LIBS}/libmlir_c_runner_utils.so"],
                                 input=lowered, check=True, capture_output=True,
                                 text=True).stdout
        values = [float(x) for x in out.split()]
        assert len(values) == 2 * a.rounds + 1, out
        times, check = values[:-1], values[-1]
        if abs(check - a.order ** 0.5) > 1e-3:
            raise SystemExit(f"wrong transform: first value {check}, expected sqrt({a.order})")
        # Best of the rounds: the least disturbed run of each.
        t_fwht, t_copy = min(times[0::2]), min(times[1::2])
        nbytes = 2 * 4 * rows * a.order * reps  # read + write
        result = {"rows": rows, "order": a.order, "reps": reps, "rounds": a.rounds,
                  "mib": 4 * rows * a.order / 2**20,
                  "fwht_gb_s": nbytes / t_fwht / 1e9, "copy_gb_s": nbytes / t_copy / 1e9,
                  "ratio": t_copy / t_fwht}
        results.append(result)
        print(json.dumps(result), flush=True)
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
