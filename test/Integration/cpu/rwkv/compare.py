"""Compare logits written by `seqc-run logits -o FILE` (raw f32 rows).

  compare.py REF.npz GOT.f32 --rows all|last [--tol T] [--label L]
      against the float64 numpy reference (test/reference/rwkv_ref.py) saved
      by checkpoint.py --npz;
  compare.py --pair A.f32 B.f32 --vocab V [--rows last] [--tol T] [--label L]
      two runs of the compiled model against each other (prefill vs step);
      --rows last: B is one row, A's last (every token's logits against a
      prompt's last).
  compare.py REF.npz GOT.f32 --far-from OTHER.npz --ratio R ...
      also requires GOT to be R times closer to REF than to OTHER (a
      quantized model against its quantized reference, not the float one).

Prints "LABEL: OK max_abs_err=E" or "LABEL: FAIL ..." (exit status 1).
"""

import argparse
import sys

import numpy as np


def main():
    p = argparse.ArgumentParser()
    p.add_argument("files", nargs=2)
    p.add_argument("--pair", action="store_true")
    p.add_argument("--rows", choices=("all", "last"), default="all")
    p.add_argument("--vocab", type=int)
    p.add_argument("--tol", type=float, default=1e-4)
    p.add_argument("--label", default="logits")
    p.add_argument("--far-from")
    p.add_argument("--ratio", type=float, default=0.3)
    a = p.parse_args()
    if a.pair:
        x = np.fromfile(a.files[0], dtype="<f4").reshape(-1, a.vocab)
        y = np.fromfile(a.files[1], dtype="<f4").reshape(-1, a.vocab)
        if a.rows == "last":
            x = x[-1:]
    else:
        ref = np.load(a.files[0])["logits"]
        if a.rows == "last":
            ref = ref[-1:]
        x = ref
        y = np.fromfile(a.files[1], dtype="<f4").reshape(-1, ref.shape[1])
    if x.shape != y.shape:
        print(f"{a.label}: FAIL shapes differ: {x.shape} vs {y.shape}")
        return 1
    for name, z in (("first", x), ("second", y)):
        if not np.all(np.isfinite(z)):
            print(f"{a.label}: FAIL non-finite logits in the {name} file")
            return 1
    err = float(np.max(np.abs(x.astype(np.float64) - y)))
    if not err <= a.tol:
        print(f"{a.label}: FAIL max_abs_err={err:.3g} > {a.tol:g}")
        return 1
    if a.far_from:
        other = np.load(a.far_from)["logits"]
        if a.rows == "last":
            other = other[-1:]
        far = float(np.max(np.abs(other.astype(np.float64) - y)))
        if err > a.ratio * far:
            print(f"{a.label}: FAIL max_abs_err={err:.3g} is not {a.ratio:g} "
                  f"of the distance to {a.far_from} ({far:.3g})")
            return 1
    print(f"{a.label}: OK max_abs_err={err:.3g}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
