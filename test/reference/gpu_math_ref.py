#!/usr/bin/env python3
"""Checks the GPU expansions of f64 exp/sin/cos and f32->f16 rounding.

  gpu_math_ref.py RUNNER ARTIFACT WORKDIR [--validate]

Runs the kernels of test/Integration/vulkan/Inputs/math.mlir through RUNNER
(seqc-vulkan-run) on inputs chosen to cover each expansion's ranges, and
compares with numpy (IEEE double exp/sin/cos, round-to-nearest-even f16):

- exp over [-700, 700]: relative error <= 4e-16 (a few ulp);
- sin and cos over [-1e5, 1e5] (the Cody-Waite reduction is exact while
  |x| < 1.6e6; RoPE angles are position x frequency <= context length):
  absolute error <= 4e-16 x max(1, |x|) (about what the reduction of an
  angle that large loses);
- f16: bit-exact, over normals, subnormals, halfway cases, overflow to
  infinity, infinities and NaN.

Prints "f64math: ok ..." and "tof16: ok ..." or FAIL lines (exit 1).
"""
import argparse
import os
import subprocess
import sys

import numpy as np

N = 4096


def run(runner, art, kernel, ins, outs, validate):
    cmd = [runner, art, kernel]
    for i, path in ins:
        cmd += ["--in", f"{i}={path}"]
    for i, path in outs:
        cmd += ["--out", f"{i}={path}"]
    if validate:
        cmd.append("--validate")
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode:
        sys.exit(f"{kernel}: FAIL {r.stderr.strip()}")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("runner")
    p.add_argument("artifact")
    p.add_argument("work")
    p.add_argument("--validate", action="store_true")
    a = p.parse_args()
    os.makedirs(a.work, exist_ok=True)
    rng = np.random.default_rng(7)
    ok = True

    # exp on [-700, 700], half near 0; sin/cos on [-1e5, 1e5], a quarter
    # near multiples of pi/2 (where the reduction cancels most).
    x = np.concatenate([
        rng.uniform(-700, 700, N // 4),
        rng.uniform(-20, 20, N // 4),
        np.round(rng.uniform(-6e4, 6e4, N // 4)) * (np.pi / 2),
        rng.uniform(-1e5, 1e5, N - 3 * (N // 4)),
    ])
    xin = os.path.join(a.work, "x.f64")
    x.astype("<f8").tofile(xin)
    outs = [(i, os.path.join(a.work, f"o{i}.f64")) for i in (1, 2, 3)]
    run(a.runner, a.artifact, "f64math", [(0, xin)], outs, a.validate)
    e, s, c = (np.fromfile(path, dtype="<f8") for _, path in outs)
    small = np.abs(x) <= 700
    want = np.exp(x[small])
    rel = float(np.max(np.abs(e[small] - want) / want))
    trig = np.maximum(1.0, np.abs(x))
    es = float(np.max(np.abs(s - np.sin(x)) / trig))
    ec = float(np.max(np.abs(c - np.cos(x)) / trig))
    if not (rel <= 4e-16 and es <= 4e-16 and ec <= 4e-16):
        print(f"f64math: FAIL exp rel {rel:.3g}, sin {es:.3g}, cos {ec:.3g}")
        ok = False
    else:
        print(f"f64math: ok exp rel {rel:.3g}, sin {es:.3g}, cos {ec:.3g}")

    # f16: random magnitudes over the whole range, exact halfway points
    # between neighbouring halves, subnormals, overflow, inf and NaN.
    halves = rng.integers(0, 0x7bff, N // 4).astype(np.uint16).view(np.float16)
    mid = (halves.astype(np.float64) +
           np.nextafter(halves, np.float16(np.inf)).astype(np.float64)) / 2
    f = np.concatenate([
        (rng.standard_normal(N // 4) *
         np.exp2(rng.uniform(-30, 17, N // 4))).astype(np.float32),
        mid.astype(np.float32) * rng.choice([-1, 1], N // 4),
        rng.uniform(-6.2e-5, 6.2e-5, N // 4).astype(np.float32),
        np.array([65504, 65519.99, 65520, 1e6, np.inf, -np.inf, np.nan, 0.0,
                  -0.0, 5.96e-8, 2.98e-8, 2.99e-8, 1e-10], dtype=np.float32),
    ])
    f = np.concatenate([f, np.zeros(N - f.size, np.float32)])
    fin = os.path.join(a.work, "f.f32")
    f.astype("<f4").tofile(fin)
    hout = os.path.join(a.work, "h.f16")
    run(a.runner, a.artifact, "tof16", [(0, fin)], [(1, hout)], a.validate)
    got = np.fromfile(hout, dtype="<u2")
    with np.errstate(over="ignore"):
        want = f.astype(np.float16).view(np.uint16)
    nan = np.isnan(f)
    bad = (got != want) & ~nan
    bad |= nan & ((got & 0x7c00) != 0x7c00) | nan & ((got & 0x3ff) == 0)
    if bad.any():
        i = int(np.nonzero(bad)[0][0])
        print(f"tof16: FAIL {int(bad.sum())} values, first {f[i]!r}: "
              f"{got[i]:#06x} != {want[i]:#06x}")
        ok = False
    else:
        print(f"tof16: ok {N} values bit-exact")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
