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


def program(rows, order, reps):
    return f"""
func.func private @rtclock() -> f64
func.func private @printF64(f64)
func.func private @printNewline()
func.func @rotate(%x: tensor<{rows}x{order}xf32>) -> tensor<{rows}x{order}xf32> {{
  %y = seq.hadamard %x : tensor<{rows}x{order}xf32>
  return %y : tensor<{rows}x{order}xf32>
}}
func.func @main() {{
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %reps = arith.constant {reps} : index
  %one = arith.constant 1.0 : f32
  %e = tensor.empty() : tensor<{rows}x{order}xf32>
  %x = linalg.fill ins(%one : f32) outs(%e : tensor<{rows}x{order}xf32>) -> tensor<{rows}x{order}xf32>
  %t0 = call @rtclock() : () -> f64
  %zero = arith.constant 0.0 : f32
  %v = scf.for %i = %c0 to %reps step %c1 iter_args(%acc = %zero) -> f32 {{
    %y = func.call @rotate(%x) : (tensor<{rows}x{order}xf32>) -> tensor<{rows}x{order}xf32>
    %e0 = tensor.extract %y[%c0, %c0] : tensor<{rows}x{order}xf32>
    %s = arith.addf %acc, %e0 : f32
    scf.yield %s : f32
  }}
  %t1 = call @rtclock() : () -> f64
  %src = memref.alloc() : memref<{rows}x{order}xf32>
  %dst = memref.alloc() : memref<{rows}x{order}xf32>
  linalg.fill ins(%one : f32) outs(%src : memref<{rows}x{order}xf32>)
  %t2 = call @rtclock() : () -> f64
  scf.for %i = %c0 to %reps step %c1 {{
    memref.copy %src, %dst : memref<{rows}x{order}xf32> to memref<{rows}x{order}xf32>
  }}
  %t3 = call @rtclock() : () -> f64
  %w = memref.load %dst[%c0, %c0] : memref<{rows}x{order}xf32>
  %we = arith.extf %w : f32 to f64
  call @printF64(%we) : (f64) -> ()
  call @printNewline() : () -> ()
  %d1 = arith.subf %t1, %t0 : f64
  %d2 = arith.subf %t3, %t2 : f64
  %ve = arith.extf %v : f32 to f64
  call @printF64(%d1) : (f64) -> ()
  call @printNewline() : () -> ()
  call @printF64(%d2) : (f64) -> ()
  call @printNewline() : () -> ()
  call @printF64(%ve) : (f64) -> ()
  call @printNewline() : () -> ()
  return
}}
"""


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--build", type=Path, default=REPO / "build")
    ap.add_argument("--sizes", default="16384,262144", help="numbers of rows")
    ap.add_argument("--order", type=int, default=128)
    ap.add_argument("--bytes", type=float, default=2.5e9,
                    help="bytes each side moves (sets the repetitions)")
    ap.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "fwht.json")
    a = ap.parse_args()
    results = []
    for rows in [int(r) for r in a.sizes.split(",")]:
        reps = max(3, int(a.bytes / (8 * rows * a.order)))
        with tempfile.TemporaryDirectory() as tmp:
            src = Path(tmp) / "fwht.mlir"
            src.write_text(program(rows, a.order, reps))
            lowered = subprocess.run([a.build / "bin" / "seqc-opt", src, "--seq-cpu-pipeline"],
                                     check=True, capture_output=True, text=True).stdout
            out = subprocess.run(["/usr/lib/llvm-22/bin/mlir-runner", "-e", "main",
                                  "-entry-point-result=void", "-O3",
                                  f"-shared-libs={LIBS}/libmlir_runner_utils.so,"
                                  f"{LIBS}/libmlir_c_runner_utils.so"],
                                 input=lowered, check=True, capture_output=True,
                                 text=True).stdout
        _, t_fwht, t_copy, _ = [float(x) for x in re.findall(r"[-+0-9.e]+", out)[:4]]
        nbytes = 2 * 4 * rows * a.order * reps  # read + write
        result = {"rows": rows, "order": a.order, "reps": reps,
                  "mib": 4 * rows * a.order / 2**20,
                  "fwht_gb_s": nbytes / t_fwht / 1e9, "copy_gb_s": nbytes / t_copy / 1e9,
                  "ratio": t_copy / t_fwht}
        results.append(result)
        print(json.dumps(result), flush=True)
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
