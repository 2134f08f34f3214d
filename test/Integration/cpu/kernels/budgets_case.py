"""seq.kv_budgets (DynamicKV's cross-layer allocator) on random scores:
writes the test program (emit) or checks what the compiled program printed
(check) against the numpy reference (test/reference/kv_select_ref.py,
DynamicKV with repair=True: a budget never grows back).

    budgets_case.py emit  --seed S --layers L --heads H --scored M
                          --capacity C --window WS [--ratio-max R]
    budgets_case.py check (same options) < printed.txt
"""

import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "..", "reference"))
import kv_select_ref  # noqa: E402
from wkv_case import parse_printed  # noqa: E402


def scores(a):
    # Skewed per layer (as kv_select_ref.py lengths does), so layers differ.
    r = np.random.default_rng(a.seed)
    return np.stack([(r.random((a.heads, a.scored)) ** (1 + 3 * r.random())).astype(np.float32)
                     for _ in range(a.layers)])


def emit(a):
    s = scores(a)
    flat = ", ".join(repr(float(v)) for v in s.reshape(-1))
    shape = f"{a.layers}x{a.heads}x{a.scored}"
    print("\n".join([
        "func.func private @printMemrefI64(memref<*xi64>)", "",
        "func.func @main() {",
        f"  %f = arith.constant dense<[{flat}]> : tensor<{s.size}xf32>",
        f"  %s = tensor.expand_shape %f [[0, 1, 2]] output_shape [{a.layers}, {a.heads}, "
        f"{a.scored}] : tensor<{s.size}xf32> into tensor<{shape}xf32>",
        f"  %d = tensor.cast %s : tensor<{shape}xf32> to tensor<{a.layers}x{a.heads}x?xf32>",
        f"  %k = seq.kv_budgets %d {{capacity = {a.capacity}, window = {a.window}, "
        f"ratio_max = {a.ratio_max!r} : f64}} : tensor<{a.layers}x{a.heads}x?xf32> -> "
        f"tensor<{a.layers}xindex>",
        f"  %w = arith.index_cast %k : tensor<{a.layers}xindex> to tensor<{a.layers}xi64>",
        f"  %b = bufferization.to_buffer %w : tensor<{a.layers}xi64> to memref<{a.layers}xi64>",
        f"  %u = memref.cast %b : memref<{a.layers}xi64> to memref<*xi64>",
        "  call @printMemrefI64(%u) : (memref<*xi64>) -> ()",
        "  return", "}"]))


def check(a, text):
    printed = parse_printed(text)
    if len(printed) != 1:
        sys.exit(f"expected 1 printed tensor, got {len(printed)}")
    got = [int(x) for x in printed[0].reshape(-1)]
    s = scores(a).astype(np.float64)
    dk = kv_select_ref.DynamicKV(a.layers, a.capacity, ws=a.window, ratio_max=a.ratio_max,
                                 repair=True)
    n = a.scored + a.window
    for layer in s:
        dk.add_layer(layer, n)
    want = dk.lengths()
    print(f"budgets: {got} (reference {want}, sum {sum(want)})")
    if got != want:
        sys.exit("budgets: FAIL")
    print("budgets: OK")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("mode", choices=("emit", "check"))
    for name in ("seed", "layers", "heads", "scored", "capacity", "window"):
        p.add_argument("--" + name, type=int, required=True)
    p.add_argument("--ratio-max", type=float, default=10.0)
    a = p.parse_args()
    if a.mode == "emit":
        emit(a)
    else:
        check(a, sys.stdin.read())


if __name__ == "__main__":
    main()
