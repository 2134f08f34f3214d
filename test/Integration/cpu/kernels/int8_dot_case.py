"""An int8-weight product (the model builders' linalg.generic, marked
seq.parallel) compiled by seq-cpu-pipeline with an integer dot-product
kernel and run on the CPU, against numpy.

The numpy side quantizes the activations the way the kernel documents it
(per token and block of B channels: a = max|x| / 127, q = clip(rint(x *
(127 / max|x|)), -127, 127), in float32), sums the integer products
exactly and scales them per block in float64; the kernel's only freedom is
the order of its f32 sums (and the output is printed with 6 digits). Activations get outlier channels so that blocks
have very different scales; some blocks are all zero.

    int8_dot_case.py emit T N K B > case.mlir
    int8_dot_case.py check T N K B < printed.txt
"""

import sys

import numpy as np

from product_case import module, printed, product_func


def inputs(t, n, k):
    rng = np.random.default_rng(t * 1000 + n + k)
    x = rng.standard_normal((t, k)).astype(np.float32)
    x[:, rng.choice(k, max(1, k // 16), replace=False)] *= 20
    x[:, :8] = 0  # an all-zero block start (a whole block when B <= 8)
    w = rng.integers(-127, 128, (n, k)).astype(np.int8)
    y0 = rng.standard_normal((t, n)).astype(np.float32)
    return x, w, y0


def quantize(x, b):
    t, k = x.shape
    xb = x.reshape(t, k // b, b)
    amax = np.max(np.abs(xb), axis=2, keepdims=True).astype(np.float32)
    inv = np.where(amax > 0, np.float32(127) / np.where(amax > 0, amax, 1), 0)
    q = np.clip(np.rint(xb * inv.astype(np.float32)), -127, 127).astype(np.int64)
    return q, (amax / np.float32(127)).astype(np.float32)


def emit(t, n, k, b):
    x, w, y0 = inputs(t, n, k)
    convert = "%bf = arith.sitofp %b : i8 to f32"
    # The two operand orders of the body (the matcher accepts both).
    print(module(x, w, y0, "i8",
                 product_func("product", "?", n, k, "i8", convert, "%a, %bf", "%acc, %p"),
                 product_func("decode", "1", n, k, "i8", convert, "%bf, %a", "%p, %acc")))


def check(t, n, k, b, text):
    blocks = printed(text)
    if len(blocks) != 2:
        sys.exit(f"int8 product {t}x{n}x{k}/{b}: FAIL: no output")
    x, w, y0 = inputs(t, n, k)
    q, a = quantize(x, b)
    # Exact integer sums per (token, block, row), then the block scales.
    sums = np.einsum("tcj,ncj->tcn", q, w.astype(np.int64).reshape(n, k // b, b))
    want = y0.astype(np.float64) + np.einsum("tc,tcn->tn", a[:, :, 0].astype(np.float64), sums)
    got = blocks[0].reshape(t, n)
    scale = np.max(np.abs(want))
    err = np.max(np.abs(got - want)) / scale
    err1 = np.max(np.abs(blocks[1].reshape(1, n) - (want[:1] - y0[:1]))) / scale
    # What float activations would give: the rounding the test must see.
    exact = y0.astype(np.float64) + x.astype(np.float64) @ w.astype(np.float64).T
    quant = np.max(np.abs(exact - want)) / scale
    print(f"int8 product {t}x{n}x{k}/{b}: relative error {err:.3g} "
          f"(decode {err1:.3g}; activation rounding {quant:.3g})")
    # printMemrefF32 prints 6 significant digits: 1e-5 of the largest.
    if not (err <= 1e-5 and err1 <= 1e-5 and quant > 1e-3):
        sys.exit(f"int8 product {t}x{n}x{k}/{b}: FAIL")
    print(f"int8 product {t}x{n}x{k}/{b}: OK")


if __name__ == "__main__":
    mode = sys.argv[1]
    t, n, k, b = (int(v) for v in sys.argv[2:6])
    emit(t, n, k, b) if mode == "emit" else check(t, n, k, b, sys.stdin.read())
