"""A float-weight product (the model builders' linalg.generic over
(n, t, k), marked seq.parallel: y[t, n] += x[t, k] * w[n, k], the weight
f32 or f16 extended in the body) compiled by seq-cpu-pipeline and run on
the CPU, against numpy in float64: as a prefill product (a dynamic token
count: tiles of rows x tokens and the outputs left over) and as a decode
product (the first token).

    float_product_case.py emit T N K DTYPE > case.mlir
    float_product_case.py check T N K DTYPE < printed.txt
"""

import sys

import numpy as np

from product_case import module, printed, product_func


def inputs(t, n, k, dtype):
    rng = np.random.default_rng(t * 1000 + n * 10 + k)
    x = rng.standard_normal((t, k)).astype(np.float32)
    w = rng.standard_normal((n, k)).astype(np.float16 if dtype == "f16" else np.float32)
    y0 = rng.standard_normal((t, n)).astype(np.float32)
    return x, w, y0


def emit(t, n, k, dtype):
    x, w, y0 = inputs(t, n, k, dtype)
    convert, b = ("%bf = arith.extf %b : f16 to f32", "%bf") if dtype == "f16" else ("", "%b")
    print(module(x, w, y0, dtype,
                 product_func("product", "?", n, k, dtype, convert, f"%a, {b}", "%acc, %p"),
                 product_func("decode", "1", n, k, dtype, convert, f"%a, {b}", "%acc, %p")))


def check(t, n, k, dtype, text):
    name = f"{dtype} product {t}x{n}x{k}"
    blocks = printed(text)
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
