"""Writes a seq.lif test program, or checks what the compiled program printed
against the numpy reference (test/reference/lif_ref.py).

    lif_case.py emit  VARIANT --seed S --tokens T --neurons D[xD...] > case.mlir
    lif_case.py check VARIANT --seed S --tokens T --neurons D[xD...] < printed.txt

The program runs the neurons over the first half of the tokens, then over
the rest from the membrane the first call returned (the state persists
across calls, as in SpikeGPT's RNN mode); it prints the spikes of both calls
and both membranes. Spikes must match exactly; membranes to MEMBRANE_TOL
(printMemrefF32 prints six significant digits; the arithmetic itself is the
reference's, operation for operation). The last TIE_NEURONS neurons get
inputs that put h exactly on the threshold at every other step, so `ge` and
`gt` are told apart; the emitter checks that such ties exist.
"""

import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "..", "reference"))
import lif_ref  # noqa: E402

sys.path.insert(0, os.path.dirname(__file__))
from wkv_case import parse_printed  # noqa: E402

F32 = np.float32
MEMBRANE_TOL = 1e-5  # relative to 1 + |v|
TIE_NEURONS = 4

# name: (tau, v_threshold, v_reset, reset, decay_input, fire)
VARIANTS = {
    "spikegpt": (2.0, 1.0, 0.0, "hard", True, "ge"),
    "gt": (2.0, 1.0, 0.0, "hard", True, "gt"),
    "soft": (4.0, 1.0, -0.5, "soft", False, "ge"),
    "soft_gt": (1.5, 0.75, 0.0, "soft", True, "gt"),
    "hard_nodecay_gt": (0.75, 1.0, -0.25, "hard", False, "gt"),
}


def tie_input(v, tau, thr, rst, decay_input):
    """An f32 input that makes h == thr exactly from membrane v, or None."""
    v64 = np.float64(v)
    if decay_input:
        guess = (thr - v64) * tau + (v64 - rst)
    else:
        guess = thr - (v64 - (v64 - rst) / tau)
    lo = hi = F32(guess)
    for _ in range(256):
        for cand in (lo, hi):
            if lif_ref.charge(v, cand, tau, rst, decay_input) == F32(thr):
                return cand
        lo, hi = np.nextafter(lo, F32(-np.inf)), np.nextafter(hi, F32(np.inf))
    return None


def inputs(variant, seed, t, dims):
    tau, thr, rst, reset, decay_input, fire = VARIANTS[variant]
    rng = np.random.default_rng(seed)
    n = int(np.prod(dims))
    x = rng.uniform(-1.0, 3.0, (t, n)).astype(F32)
    v0 = rng.uniform(rst, thr, n).astype(F32)
    # Tie neurons: simulate them and steer every other step onto the threshold.
    for j in range(n - TIE_NEURONS, n):
        v0[j] = F32(0.0)
        v = v0[j:j + 1]
        for step in range(t):
            if step % 2 == 0:
                x[step, j] = F32(rng.integers(-4, 5) / 8)
            else:
                tie = tie_input(v[0], tau, thr, rst, decay_input)
                if tie is not None:
                    x[step, j] = tie
            _, v, _ = lif_ref.lif(x[step:step + 1, j:j + 1], v, tau, thr, rst, reset,
                                  decay_input, fire)
            v = v.reshape(1)
    return x.reshape((t,) + dims), v0.reshape(dims)


def reference(variant, x, v0):
    tau, thr, rst, reset, decay_input, fire = VARIANTS[variant]
    k = x.shape[0] // 2
    s, v1, ties1 = lif_ref.lif(x[:k], v0, tau, thr, rst, reset, decay_input, fire)
    s2, v2, ties2 = lif_ref.lif(x[k:], v1, tau, thr, rst, reset, decay_input, fire)
    return s, v1, s2, v2, ties1 + ties2


def dense(a):
    def fmt(v):
        return "[" + ", ".join(fmt(e) for e in v) + "]" if isinstance(v, list) else repr(float(v))
    shape = "x".join(str(d) for d in a.shape)
    return f"dense<{fmt(a.tolist())}> : tensor<{shape}xf32>"


def attrs(variant):
    tau, thr, rst, reset, decay_input, fire = VARIANTS[variant]
    return (f"{{tau = {tau!r} : f32, v_threshold = {thr!r} : f32, v_reset = {rst!r} : f32, "
            f"reset = #seq.reset<{reset}>, decay_input = {str(decay_input).lower()}, "
            f"fire = #seq.fire<{fire}>}}")


def emit(variant, x, v0):
    t, dims = x.shape[0], x.shape[1:]
    k = t // 2
    ds = "x".join(str(d) for d in dims)
    n = int(np.prod(dims))
    seq_ty, v_ty = f"tensor<?x{ds}xf32>", f"tensor<{ds}xf32>"
    lines = ["func.func private @printMemrefF32(memref<*xf32>)", "",
             "func.func @print(%m: tensor<?x?xf32>) {",
             "  %b = bufferization.to_buffer %m : tensor<?x?xf32> to memref<?x?xf32>",
             "  %u = memref.cast %b : memref<?x?xf32> to memref<*xf32>",
             "  call @printMemrefF32(%u) : (memref<*xf32>) -> ()",
             "  return", "}", "", "func.func @main() {",
             f"  %xa = arith.constant {dense(x[:k])}",
             f"  %xb = arith.constant {dense(x[k:])}",
             f"  %v0 = arith.constant {dense(v0)}",
             # Dynamic T, as prefill sees it.
             f"  %xad = tensor.cast %xa : tensor<{k}x{ds}xf32> to {seq_ty}",
             f"  %xbd = tensor.cast %xb : tensor<{t - k}x{ds}xf32> to {seq_ty}",
             f"  %s1, %v1 = seq.lif %xad, %v0 {attrs(variant)} : {seq_ty}, {v_ty}",
             f"  %s2, %v2 = seq.lif %xbd, %v1 {attrs(variant)} : {seq_ty}, {v_ty}"]
    inner = ", ".join(str(i) for i in range(1, len(dims) + 1))
    all_v = ", ".join(str(i) for i in range(len(dims)))
    for name in ("s1", "s2"):
        src = name
        if len(dims) > 1:
            lines.append(f"  %{name}_c = tensor.collapse_shape %{name} [[0], [{inner}]] : "
                         f"{seq_ty} into tensor<?x{n}xf32>")
            src = f"{name}_c"
        lines.append(f"  %{name}_p = tensor.cast %{src} : tensor<?x{n}xf32> to tensor<?x?xf32>")
        lines.append(f"  call @print(%{name}_p) : (tensor<?x?xf32>) -> ()")
    for name in ("v1", "v2"):
        src = name
        if len(dims) > 1:
            lines.append(f"  %{name}_c = tensor.collapse_shape %{name} [[{all_v}]] : "
                         f"{v_ty} into tensor<{n}xf32>")
            src = f"{name}_c"
        lines.append(f"  %{name}_e = tensor.expand_shape %{src} [[0, 1]] output_shape [1, {n}] : "
                     f"tensor<{n}xf32> into tensor<1x{n}xf32>")
        lines.append(f"  %{name}_p = tensor.cast %{name}_e : tensor<1x{n}xf32> to tensor<?x?xf32>")
        lines.append(f"  call @print(%{name}_p) : (tensor<?x?xf32>) -> ()")
    lines += ["  return", "}"]
    print("\n".join(lines))


def check(variant, x, v0, text):
    printed = parse_printed(text)
    if len(printed) != 4:
        sys.exit(f"expected 4 printed tensors, got {len(printed)}")
    s1, s2, v1, v2 = printed
    ref_s1, ref_v1, ref_s2, ref_v2, ties = reference(variant, x, v0)
    failures = []
    for name, got, ref in (("spikes (first call)", s1, ref_s1), ("spikes (second call)", s2, ref_s2)):
        wrong = int(np.count_nonzero(got != ref.reshape(-1))) if got.size == ref.size else -1
        print(f"{variant} {name}: {int(ref.sum())} spikes, {wrong} differ")
        if wrong != 0:
            failures.append(name)
    for name, got, ref in (("membrane (first call)", v1, ref_v1), ("membrane (second call)", v2, ref_v2)):
        ref = ref.reshape(-1).astype(np.float64)
        err = np.max(np.abs(got - ref) / (1 + np.abs(ref))) if got.size == ref.size else np.inf
        print(f"{variant} {name}: max error {err:.3g} (tolerance {MEMBRANE_TOL:g})")
        if not err <= MEMBRANE_TOL:
            failures.append(name)
    print(f"{variant} ties on the threshold: {ties}")
    if failures:
        sys.exit(f"{variant}: wrong {failures}")
    print(f"{variant}: OK")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("mode", choices=["emit", "check"])
    p.add_argument("variant", choices=sorted(VARIANTS))
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--tokens", type=int, default=8)
    p.add_argument("--neurons", default="16")
    a = p.parse_args()
    dims = tuple(int(d) for d in a.neurons.split("x"))
    x, v0 = inputs(a.variant, a.seed, a.tokens, dims)
    if a.mode == "emit":
        ties = reference(a.variant, x, v0)[4]
        if ties < TIE_NEURONS:
            sys.exit(f"{a.variant}: only {ties} exact ties on the threshold in the case")
        emit(a.variant, x, v0)
    else:
        check(a.variant, x, v0, sys.stdin.read())


if __name__ == "__main__":
    main()
