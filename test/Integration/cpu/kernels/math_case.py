"""Writes a program applying math.exp and math.tanh to f32 inputs, or checks
what the compiled program printed against numpy in float64.

    math_case.py emit --count N > case.mlir
    math_case.py check --count N < printed.txt

The inputs: N values spread uniformly over each function's range (exp:
[-104, 89], from below the smallest subnormal result to above the largest
finite one; tanh: [-10, 10]), N over [-1, 1] where both are near their
fixed points, and the special values (zeros, infinities, NaN, tiny and
boundary inputs). The program prints each result's bits
(printMemrefI32), so the check sees every bit: the error in units in the
last place of the correctly rounded f32 result (exp), absolute and
relative (tanh), against the bounds stated in the pass's documentation
(passes/Codegen/CPU/Passes.td, seq-approximate-math): exp within 1 ulp up
to x = 88 and 8 ulp above it (where MLIR's range reduction loses a few
bits before the overflow to +inf), results below the smallest normal f32
possibly flushed to zero; tanh within 5e-7 absolute and relative.
"""

import argparse
import re
import sys

import numpy as np

F32 = np.float32
EXP_MAX_ULP = 1          # for x <= EXP_NEAR_OVERFLOW
EXP_MAX_ULP_HIGH = 8     # above it, up to the largest finite result
EXP_NEAR_OVERFLOW = 88.0
TANH_MAX_ABS = 5e-7
TANH_MAX_REL = 5e-7

SPECIAL = [0.0, -0.0, 1.0, -1.0, 0.5, -0.5, 1e-8, -1e-8, 1e-30, -1e-30, 88.0, 88.72,
           88.73, 89.0, 100.0, -87.0, -87.34, -88.0, -100.0, -103.9, -104.0, -150.0,
           10.0, -10.0, 7.89, 7.91, -7.91, 20.0, -20.0, np.inf, -np.inf, np.nan]


def inputs(count, lo, hi):
    rng = np.random.default_rng(7)
    x = np.concatenate([rng.uniform(lo, hi, count), rng.uniform(-1, 1, count),
                        np.array(SPECIAL)]).astype(F32)
    return x


def emit(count):
    lines = ["func.func private @printMemrefI32(memref<*xi32>)", "",
             "func.func @main() {"]
    for name, lo, hi in (("exp", -104, 89), ("tanh", -10, 10)):
        x = inputs(count, lo, hi)
        n = x.size
        lines += [
            f'  %{name}_x = arith.constant dense<"0x{x.astype("<f4").tobytes().hex().upper()}">'
            f" : tensor<{n}xf32>",
            f"  %{name}_e = tensor.empty() : tensor<{n}xi32>",
            f"  %{name}_y = linalg.generic {{indexing_maps = [affine_map<(i) -> (i)>, "
            f'affine_map<(i) -> (i)>], iterator_types = ["parallel"]}} '
            f"ins(%{name}_x : tensor<{n}xf32>) outs(%{name}_e : tensor<{n}xi32>) {{",
            "  ^bb0(%a: f32, %o: i32):",
            f"    %r = math.{name} %a : f32",
            "    %i = arith.bitcast %r : f32 to i32",
            "    linalg.yield %i : i32",
            f"  }} -> tensor<{n}xi32>",
            f"  %{name}_m = bufferization.to_buffer %{name}_y : tensor<{n}xi32> to memref<{n}xi32>",
            f"  %{name}_u = memref.cast %{name}_m : memref<{n}xi32> to memref<*xi32>",
            f"  call @printMemrefI32(%{name}_u) : (memref<*xi32>) -> ()",
        ]
    lines += ["  return", "}"]
    print("\n".join(lines))


def parse(text):
    blocks = text.split("Unranked Memref")[1:]
    return [np.array([int(v) for v in re.findall(r"-?\d+", b.split("data =", 1)[1])],
                     dtype=np.int64).astype(np.int32).view(F32) for b in blocks]


def ulp_error(got, want):
    """|got - want| in units of the last place of f32 at `want`, both f32
    (infinities and NaNs must match exactly: 0 or inf)."""
    err = np.zeros(got.size)
    special = ~np.isfinite(want) | ~np.isfinite(got)
    same = (np.isnan(got) & np.isnan(want)) | (got == want)
    err[special & ~same] = np.inf
    fin = ~special
    spacing = np.spacing(np.abs(want[fin])).astype(np.float64)
    err[fin] = np.abs(got[fin].astype(np.float64) - want[fin].astype(np.float64)) / spacing
    return err


def check(count, text):
    printed = parse(text)
    if len(printed) != 2:
        sys.exit(f"math_case: expected 2 printed tensors, got {len(printed)}")
    exp_y, tanh_y = printed
    ok = True
    x = inputs(count, -104, 89)
    with np.errstate(over="ignore", invalid="ignore"):
        want = np.exp(x.astype(np.float64)).astype(F32)
    ulp = ulp_error(exp_y, want)
    # Results below the smallest normal f32 (x < -87.34) may be flushed to
    # zero: an absolute error under 1.2e-38.
    tiny = np.isfinite(want) & (want < np.finfo(F32).tiny)
    with np.errstate(invalid="ignore"):
        flushed = tiny & (np.abs(exp_y.astype(np.float64) - want) <= np.finfo(F32).tiny)
    print(f"exp: {np.sum(tiny)} results below the smallest normal, "
          f"{np.sum(flushed & (exp_y == 0))} of them flushed to zero")
    ulp[flushed] = 0
    exact = np.mean(ulp == 0)
    high = x > EXP_NEAR_OVERFLOW
    print(f"exp: max error {ulp[~high].max():.2f} ulp up to x = {EXP_NEAR_OVERFLOW}, "
          f"{ulp[high].max():.2f} ulp above, {exact:.1%} exact")
    for v in (0.0, -np.inf, np.inf):
        i = int(np.flatnonzero(x == v)[0])
        print(f"exp({v}) = {exp_y[i]}")
    print(f"exp(nan) = {exp_y[np.flatnonzero(np.isnan(x))[0]]}")
    bound = np.where(high, EXP_MAX_ULP_HIGH, EXP_MAX_ULP)
    if not np.all(ulp <= bound):
        worst = int(np.argmax(ulp - bound))
        print(f"FAIL: exp({x[worst]!r}) = {exp_y[worst]!r}, want {want[worst]!r}")
        ok = False
    x = inputs(count, -10, 10)
    want = np.tanh(x.astype(np.float64))
    got = tanh_y.astype(np.float64)
    nan = np.isnan(x)
    if not np.all(np.isnan(got[nan])):
        print("FAIL: tanh(nan) is not NaN")
        ok = False
    fin = ~nan
    abs_err = np.abs(got[fin] - want[fin])
    rel_err = abs_err / np.maximum(np.abs(want[fin]), 1e-30)
    print(f"tanh: max abs error {abs_err.max():.2e}, max rel error {rel_err.max():.2e}")
    for v in (0.0, np.inf, -np.inf):
        i = int(np.flatnonzero(x == v)[0])
        print(f"tanh({v}) = {tanh_y[i]}")
    if not (abs_err.max() <= TANH_MAX_ABS and rel_err.max() <= TANH_MAX_REL):
        worst = int(np.argmax(rel_err))
        print(f"FAIL: tanh({x[fin][worst]!r}) = {got[fin][worst]!r}, want {want[fin][worst]!r}")
        ok = False
    print("math_case: OK" if ok else "math_case: FAILED")
    return 0 if ok else 1


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("mode", choices=["emit", "check"])
    ap.add_argument("--count", type=int, default=32768)
    a = ap.parse_args()
    if a.mode == "emit":
        emit(a.count)
        return 0
    return check(a.count, sys.stdin.read())


if __name__ == "__main__":
    sys.exit(main())
