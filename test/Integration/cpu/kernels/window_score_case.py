"""seq.kv_window_score on random queries and keys: writes the test program
(emit) or checks what the compiled program printed (check) against the
numpy reference of prefill-time KV selection (test/reference/kv_select_ref.py,
window_scores, float64).

    window_score_case.py emit  --seed S --tokens N --qheads HQ --kheads HK
                               --dim D --window WS --kernel K --pool avg|max
    window_score_case.py check (same options) < printed.txt
"""

import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "..", "reference"))
import kv_select_ref  # noqa: E402
from wkv_case import parse_printed  # noqa: E402

# Relative to the largest score: the probabilities are computed in f32.
TOLERANCE = 1e-5


def inputs(a):
    rng = np.random.default_rng(a.seed)
    # Large enough logits that the softmax is peaked (scores spread out).
    q = rng.normal(0, 2, (a.tokens, a.qheads, a.dim)).astype(np.float32)
    k = rng.normal(0, 2, (a.tokens, a.kheads, a.dim)).astype(np.float32)
    return q, k


def dense(x):
    shape = "x".join(str(d) for d in x.shape)
    flat = ", ".join(repr(float(v)) for v in x.reshape(-1))
    return f"dense<[{flat}]> : tensor<{x.size}xf32>", shape


def emit(a):
    q, k = inputs(a)
    lines = ["func.func private @printMemrefF32(memref<*xf32>)", "",
             "func.func @main() {"]
    for name, x in (("q", q), ("k", k)):
        value, shape = dense(x)
        lines.append(f"  %{name}f = arith.constant {value}")
        dims = ", ".join(str(d) for d in x.shape)
        lines.append(f"  %{name}s = tensor.expand_shape %{name}f [[0, 1, 2]] "
                     f"output_shape [{dims}] : tensor<{x.size}xf32> into tensor<{shape}xf32>")
        # A dynamic token count, as a prefill sees it.
        lines.append(f"  %{name} = tensor.cast %{name}s : tensor<{shape}xf32> to "
                     f"tensor<?x{x.shape[1]}x{x.shape[2]}xf32>")
    lines.append(f"  %s = seq.kv_window_score %q, %k {{window = {a.window}, kernel = "
                 f"{a.kernel}, pool = #seq.pool<{a.pool}>}} : tensor<?x{a.qheads}x{a.dim}xf32>, "
                 f"tensor<?x{a.kheads}x{a.dim}xf32> -> tensor<{a.qheads}x?xf32>")
    lines += [f"  %b = bufferization.to_buffer %s : tensor<{a.qheads}x?xf32> to memref<{a.qheads}x?xf32>",
              f"  %u = memref.cast %b : memref<{a.qheads}x?xf32> to memref<*xf32>",
              "  call @printMemrefF32(%u) : (memref<*xf32>) -> ()",
              "  return", "}"]
    print("\n".join(lines))


def check(a, text):
    q, k = inputs(a)
    printed = parse_printed(text)
    if len(printed) != 1:
        sys.exit(f"expected 1 printed tensor, got {len(printed)}")
    got = printed[0]
    ref = kv_select_ref.window_scores(q.astype(np.float64), k.astype(np.float64),
                                      a.window, a.kernel, a.pool)
    if got.size != ref.size:
        sys.exit(f"expected {ref.shape} scores, got {got.size} numbers")
    got = got.reshape(ref.shape)
    err = np.max(np.abs(got - ref)) / np.max(np.abs(ref))
    order = np.array_equal(kv_select_ref.topk(got, ref.shape[1] // 2),
                           kv_select_ref.topk(ref, ref.shape[1] // 2))
    print(f"window score: max error {err:.3g} of the largest score "
          f"(tolerance {TOLERANCE:g}); top half selected alike: {order}")
    if not err <= TOLERANCE:
        sys.exit("window score: error above tolerance")
    print("window score: OK")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("mode", choices=["emit", "check"])
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--tokens", type=int, default=24)
    p.add_argument("--qheads", type=int, default=4)
    p.add_argument("--kheads", type=int, default=2)
    p.add_argument("--dim", type=int, default=8)
    p.add_argument("--window", type=int, default=4)
    p.add_argument("--kernel", type=int, default=7)
    p.add_argument("--pool", choices=("avg", "max"), default="avg")
    a = p.parse_args()
    if a.mode == "emit":
        emit(a)
    else:
        check(a, sys.stdin.read())


if __name__ == "__main__":
    main()
