"""Writes a seq-dialect test program with random inputs, or checks what the
compiled program printed against the numpy reference (test/reference).

    wkv_case.py emit  OP --seed S --tokens T --channels C > case.mlir
    wkv_case.py check OP --seed S --tokens T --channels C < printed.txt
"""

import argparse
import os
import re
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "..", "reference"))
import rwkv_ref  # noqa: E402

TOLERANCE = 1e-4  # max abs error at fp32 (outputs are O(1))


def inputs(seed, t, c):
    rng = np.random.default_rng(seed)
    x = {
        "k": rng.uniform(-2, 2, (t, c)),
        "v": rng.uniform(-1, 1, (t, c)),
        "w": -np.exp(rng.uniform(-3, 1, c)),  # log-decay, negative
        "u": rng.uniform(-1, 1, c),
        "prev": rng.uniform(-1, 1, c),
    }
    # A running state: positive sums, an offset like a real one.
    pp = rng.uniform(-1, 3, c)
    x["state"] = np.stack([rng.uniform(-1, 1, c) * 0.5,
                           rng.uniform(0.1, 1, c), pp])
    return {k: v.astype(np.float32) for k, v in x.items()}


def dense(a):
    def fmt(v):
        return "[" + ", ".join(fmt(e) for e in v) + "]" if isinstance(v, list) else repr(float(v))
    shape = "x".join(str(d) for d in a.shape)
    return f"dense<{fmt(a.tolist())}> : tensor<{shape}xf32>"


def emit(op, x, t, c):
    lines = ["func.func private @printMemrefF32(memref<*xf32>)", "",
             "func.func @print(%m: tensor<?x?xf32>) {",
             "  %b = bufferization.to_buffer %m : tensor<?x?xf32> to memref<?x?xf32>",
             "  %u = memref.cast %b : memref<?x?xf32> to memref<*xf32>",
             "  call @printMemrefF32(%u) : (memref<*xf32>) -> ()",
             "  return", "}", "", "func.func @main() {"]
    for name in ("k", "v", "state"):
        lines.append(f"  %{name} = arith.constant {dense(x[name])}")
    for name in ("w", "u", "prev"):
        lines.append(f"  %{name} = arith.constant {dense(x[name])}")
    # Dynamic T, as prefill sees it.
    lines += [f"  %kd = tensor.cast %k : tensor<{t}x{c}xf32> to tensor<?x{c}xf32>",
              f"  %vd = tensor.cast %v : tensor<{t}x{c}xf32> to tensor<?x{c}xf32>"]
    if op == "wkv4":
        lines.append(f"  %y, %s = seq.wkv4 %kd, %vd, %w, %u, %state : tensor<?x{c}xf32>, "
                     f"tensor<{c}xf32>, tensor<3x{c}xf32>")
        outs = [("y", f"tensor<?x{c}xf32>"), ("s", f"tensor<3x{c}xf32>")]
    elif op == "token_shift":
        lines.append(f"  %y, %l = seq.token_shift %kd, %prev : tensor<?x{c}xf32>, tensor<{c}xf32>")
        lines.append(f"  %s = tensor.expand_shape %l [[0, 1]] output_shape [1, {c}] : "
                     f"tensor<{c}xf32> into tensor<1x{c}xf32>")
        outs = [("y", f"tensor<?x{c}xf32>"), ("s", f"tensor<1x{c}xf32>")]
    for name, ty in outs:
        lines.append(f"  %{name}_p = tensor.cast %{name} : {ty} to tensor<?x?xf32>")
        lines.append(f"  call @print(%{name}_p) : (tensor<?x?xf32>) -> ()")
    lines += ["  return", "}"]
    print("\n".join(lines))


def parse_printed(text):
    """The data of each printMemrefF32 call, as flat float arrays."""
    number = r"-?(?:nan|inf|\d+(?:\.\d*)?(?:e[-+]?\d+)?)"
    blocks = text.split("Unranked Memref")[1:]
    return [np.array([float(n) for n in re.findall(number, b.split("data =", 1)[1])])
            for b in blocks]


def check(op, x, t, c, text):
    printed = parse_printed(text)
    if len(printed) != 2:
        sys.exit(f"expected 2 printed tensors, got {len(printed)}")
    y, s = printed
    if op == "wkv4":
        ref_y, ref_a, ref_b = rwkv_ref.wkv4(x["k"], x["v"], x["w"], x["u"], x["state"])
        s = s.reshape(3, c).astype(np.float64)
        # The stable state is (aa, bb, pp) with A = aa·e^pp, B = bb·e^pp.
        errors = {
            "y": np.max(np.abs(y.reshape(t, c) - ref_y)),
            "A (relative)": np.max(np.abs(s[0] * np.exp(s[2]) - ref_a) / (1 + np.abs(ref_a))),
            "B (relative)": np.max(np.abs(s[1] * np.exp(s[2]) - ref_b) / (1 + np.abs(ref_b))),
        }
    else:
        ref_y, ref_l = rwkv_ref.token_shift(x["k"], x["prev"])
        errors = {"shifted": np.max(np.abs(y.reshape(t, c) - ref_y)),
                  "last": np.max(np.abs(s - ref_l))}
    bad = {k: v for k, v in errors.items() if not v <= TOLERANCE}
    for k, v in errors.items():
        print(f"{op} {k}: max error {v:.3g} (tolerance {TOLERANCE:g})")
    if bad:
        sys.exit(f"{op}: error above tolerance: {bad}")
    print(f"{op}: OK")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("mode", choices=["emit", "check"])
    p.add_argument("op", choices=["wkv4", "token_shift"])
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--tokens", type=int, default=5)
    p.add_argument("--channels", type=int, default=8)
    a = p.parse_args()
    x = inputs(a.seed, a.tokens, a.channels)
    if a.mode == "emit":
        emit(a.op, x, a.tokens, a.channels)
    else:
        check(a.op, x, a.tokens, a.channels, sys.stdin.read())


if __name__ == "__main__":
    main()
