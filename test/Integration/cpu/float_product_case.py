"""A float-weight product (the model builders' linalg.generic over
(n, t, k), marked seq.parallel: y[t, n] += x[t, k] * w[n, k], the weight
f32 or f16 extended in the body) compiled by seq-cpu-pipeline and run on
the CPU, against numpy in float64: as a prefill product (a dynamic token
count: tiles of rows x tokens and the outputs left over) and as a decode
product (the first token).

    float_product_case.py emit T N K DTYPE > case.mlir
    float_product_case.py check T N K DTYPE < printed.txt
"""

import re
import sys

import numpy as np


def inputs(t, n, k, dtype):
    rng = np.random.default_rng(t * 1000 + n * 10 + k)
    x = rng.standard_normal((t, k)).astype(np.float32)
    w = rng.standard_normal((n, k)).astype(np.float16 if dtype == "f16" else np.float32)
    y0 = rng.standard_normal((t, n)).astype(np.float32)
    return x, w, y0


def dense(a):
    rows = ", ".join("[" + ", ".join(repr(float(v)) for v in r) + "]" for r in a)
    return f"dense<[{rows}]>"


def product_func(name, rows, n, k, dtype):
    x, w, y = f"memref<{rows}x{k}xf32>", f"memref<{n}x{k}x{dtype}>", f"memref<{rows}x{n}xf32>"
    ext = "%bf = arith.extf %b : f16 to f32" if dtype == "f16" else ""
    b = "%bf" if dtype == "f16" else "%b"
    return f"""func.func @{name}(%x: {x}, %w: {w}, %y: {y}) {{
  linalg.generic {{indexing_maps = [#x, #w, #y], iterator_types = ["parallel", "parallel", "reduction"]}}
      ins(%x, %w : {x}, {w}) outs(%y : {y})
      attrs = {{seq.parallel}} {{
  ^bb0(%a: f32, %b: {dtype}, %acc: f32):
    {ext}
    %p = arith.mulf %a, {b} fastmath<reassoc,contract> : f32
    %s = arith.addf %acc, %p fastmath<reassoc,contract> : f32
    linalg.yield %s : f32
  }}
  return
}}"""


def emit(t, n, k, dtype):
    x, w, y0 = inputs(t, n, k, dtype)
    print(f"""#x = affine_map<(n, t, k) -> (t, k)>
#w = affine_map<(n, t, k) -> (n, k)>
#y = affine_map<(n, t, k) -> (t, n)>
memref.global "private" constant @x : memref<{t}x{k}xf32> = {dense(x)}
memref.global "private" constant @w : memref<{n}x{k}x{dtype}> = {dense(w)}
memref.global "private" constant @y0 : memref<{t}x{n}xf32> = {dense(y0)}
func.func private @printMemrefF32(memref<*xf32>)
{product_func("product", "?", n, k, dtype)}
{product_func("decode", "1", n, k, dtype)}
func.func @main() {{
  %x = memref.get_global @x : memref<{t}x{k}xf32>
  %w = memref.get_global @w : memref<{n}x{k}x{dtype}>
  %y0 = memref.get_global @y0 : memref<{t}x{n}xf32>
  %y = memref.alloc() : memref<{t}x{n}xf32>
  memref.copy %y0, %y : memref<{t}x{n}xf32> to memref<{t}x{n}xf32>
  %xd = memref.cast %x : memref<{t}x{k}xf32> to memref<?x{k}xf32>
  %yd = memref.cast %y : memref<{t}x{n}xf32> to memref<?x{n}xf32>
  call @product(%xd, %w, %yd) : (memref<?x{k}xf32>, memref<{n}x{k}x{dtype}>, memref<?x{n}xf32>) -> ()
  %u = memref.cast %y : memref<{t}x{n}xf32> to memref<*xf32>
  call @printMemrefF32(%u) : (memref<*xf32>) -> ()
  %x1 = memref.subview %x[0, 0] [1, {k}] [1, 1] : memref<{t}x{k}xf32> to memref<1x{k}xf32, strided<[{k}, 1]>>
  %x1c = memref.alloc() : memref<1x{k}xf32>
  memref.copy %x1, %x1c : memref<1x{k}xf32, strided<[{k}, 1]>> to memref<1x{k}xf32>
  %y1 = memref.alloc() : memref<1x{n}xf32>
  %zero = arith.constant 0.0 : f32
  linalg.fill ins(%zero : f32) outs(%y1 : memref<1x{n}xf32>)
  call @decode(%x1c, %w, %y1) : (memref<1x{k}xf32>, memref<{n}x{k}x{dtype}>, memref<1x{n}xf32>) -> ()
  %u1 = memref.cast %y1 : memref<1x{n}xf32> to memref<*xf32>
  call @printMemrefF32(%u1) : (memref<*xf32>) -> ()
  return
}}""")


def check(t, n, k, dtype, text):
    name = f"{dtype} product {t}x{n}x{k}"
    number = r"-?(?:nan|inf|\d+(?:\.\d*)?(?:e[-+]?\d+)?)"
    blocks = [np.array([float(v) for v in re.findall(number, s.split("data =", 1)[1])])
              for s in text.split("Unranked Memref")[1:]]
    if len(blocks) != 2:
        sys.exit(f"{name}: FAIL: no output")
    x, w, y0 = inputs(t, n, k, dtype)
    prod = x.astype(np.float64) @ w.astype(np.float64).T
    want = y0.astype(np.float64) + prod
    scale = np.max(np.abs(want))
    err = np.max(np.abs(blocks[0].reshape(t, n) - want)) / scale
    err1 = np.max(np.abs(blocks[1].reshape(1, n) - prod[:1])) / scale
    print(f"{name}: relative error {err:.3g} (decode {err1:.3g})")
    # printMemrefF32 prints 6 significant digits; f32 sums of K terms add
    # a few ulps.
    if not (err <= 2e-5 and err1 <= 2e-5):
        sys.exit(f"{name}: FAIL")
    print(f"{name}: OK")


if __name__ == "__main__":
    mode = sys.argv[1]
    t, n, k = (int(v) for v in sys.argv[2:5])
    dtype = sys.argv[5]
    emit(t, n, k, dtype) if mode == "emit" else check(t, n, k, dtype, sys.stdin.read())
