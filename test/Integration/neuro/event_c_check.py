#!/usr/bin/env python3
"""Runs the event.c of a --target=neuro artifact outside seqc and its
runtime: compiled alone into a shared library with the system's C compiler,
each event function is called through ctypes on random currents, membranes
and residual rows of sizes other than the model's, held in strided and
offset views (one of them column-major), and compared with a numpy LIF
written from the equations (float32, one operation at a time, as the C),
with a few membranes landing exactly on the threshold (>= fires, > not):

    h = v + (I - (v - v_reset)) / tau          (decay_input)
    h = (v - (v - v_reset) / tau) + I          (otherwise)
    fired = h >= v_threshold  (or >)
    v' = v_reset where fired, else h           (hard reset)
    v' = h - fired * v_threshold               (soft reset)
    next = x, plus 1 at each spike (the event queue's accumulates)

Spikes, membranes and the residual must be equal bit for bit; the counters
must be the spikes, synaptic events, accumulates and membrane updates of
the call (synaptic events and accumulates only where there is a residual).

usage: event_c_check.py EVENT_C WORKDIR --tau T --threshold V --reset R
           [--fire ge|gt] [--reset-mode hard|soft] [--decay-input true|false]
"""

import argparse
import ctypes
import os
import re
import subprocess
import sys

import numpy as np

SIZE_T = ctypes.c_size_t
F32P = ctypes.POINTER(ctypes.c_float)


class View:
    """A strided view of a flat numpy buffer, passed as MLIR's memref
    calling convention: allocated, aligned, offset, sizes, strides."""

    def __init__(self, flat, offset, sizes, strides):
        self.flat, self.offset = flat, offset
        self.sizes, self.strides = list(sizes), list(strides)

    def args(self):
        p = self.flat.ctypes.data_as(ctypes.c_void_p)
        return [p, p, self.offset] + self.sizes + self.strides

    def array(self):
        item = self.flat.itemsize
        return np.lib.stride_tricks.as_strided(
            self.flat[self.offset:], shape=self.sizes,
            strides=[s * item for s in self.strides])


def view(rng, dtype, sizes, layout, fill=None):
    """A view of `sizes` in a larger buffer: 'padded' rows with a gap and a
    leading offset, or 'columns' (column-major)."""
    if len(sizes) == 1:
        n = sizes[0]
        flat = np.zeros(2 * n + 5, dtype)
        v = View(flat, 3, [n], [2])  # every other element
    elif layout == "columns":
        t, n = sizes
        flat = np.zeros(t * n + 2, dtype)
        v = View(flat, 2, [t, n], [1, t])
    else:
        t, n = sizes
        flat = np.zeros(t * (n + 3) + 4, dtype)
        v = View(flat, 4, [t, n], [n + 3, 1])
    if fill is not None:
        v.array()[...] = fill
    return v


def first_h(i, v, o):
    """The membrane before firing, for input i and membrane v (float32)."""
    f32 = np.float32
    tau, rst = f32(o.tau), f32(o.reset)
    if o.decay_input == "true":
        return v + (i - (v - rst)) / tau
    return (v - (v - rst) / tau) + i


def make_ties(cur, v0, o, count=4):
    """Sets the first tick's input of the first `count` neurons so that the
    membrane lands exactly on the threshold (>= fires there, > does not)."""
    f32 = np.float32
    thr = f32(o.threshold)
    ties = 0
    for j in range(count):
        v = v0[j]
        if o.decay_input == "true":
            guess = f32((thr - v) * f32(o.tau) + (v - f32(o.reset)))
        else:
            guess = f32(thr - first_h(f32(0), v, o))
        for _ in range(64):
            if first_h(guess, v, o) == thr:
                cur[0, j] = guess
                ties += 1
                break
            guess = np.nextafter(guess, f32(np.inf) if first_h(guess, v, o)
                                 < thr else f32(-np.inf))
    return ties


def lif_reference(cur, v0, x, o):
    f32 = np.float32
    tau, thr, rst = f32(o.tau), f32(o.threshold), f32(o.reset)
    v = v0.copy()
    T = cur.shape[0]
    spikes = np.zeros_like(cur)
    nxt = None if x is None else x.copy()
    for t in range(T):
        if o.decay_input == "true":
            h = v + (cur[t] - (v - rst)) / tau
        else:
            h = (v - (v - rst) / tau) + cur[t]
        fired = h >= thr if o.fire == "ge" else h > thr
        s = np.where(fired, f32(1), f32(0)).astype(np.float32)
        if o.reset_mode == "hard":
            v = np.where(fired, rst, h).astype(np.float32)
        else:
            v = (h - s * thr).astype(np.float32)
        spikes[t] = s
        if nxt is not None:
            nxt[t, fired] += f32(1)
    return spikes, v, nxt


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("event_c")
    ap.add_argument("workdir")
    ap.add_argument("--tau", type=float, required=True)
    ap.add_argument("--threshold", type=float, required=True)
    ap.add_argument("--reset", type=float, required=True)
    ap.add_argument("--fire", default="ge", choices=["ge", "gt"])
    ap.add_argument("--reset-mode", default="hard", choices=["hard", "soft"])
    ap.add_argument("--decay-input", default="true", choices=["true", "false"])
    ap.add_argument("--seed", type=int, default=0)
    o = ap.parse_args()

    text = open(o.event_c).read()
    functions = re.findall(r"^void (seqc_event_(\w+)_site(\d+))\(([^)]*)\)",
                           text, re.M)
    if not functions:
        sys.exit("event_c_check: no event functions in " + o.event_c)
    sites = len({k for _, _, k, _ in functions})
    lib_path = os.path.join(o.workdir, "event_c_check.so")
    subprocess.run(["cc", "-std=c99", "-O2", "-fPIC", "-shared",
                    "-ffp-contract=off", "-o", lib_path, o.event_c],
                   check=True)
    lib = ctypes.CDLL(lib_path)

    rng = np.random.default_rng(o.seed)
    checked = ties = 0
    for name, _, site, params in functions:
        count = len(params.split(","))
        residual = {35: False, 49: True}.get(count)
        if residual is None:
            sys.exit(f"event_c_check: {name} has {count} parameters, "
                     "expected 35 or 49")
        site = int(site)
        for T, N, layer, layout in [(1, 37, 0, "padded"), (6, 20, 1, "columns"),
                                    (3, 129, 2, "padded")]:
            cur = (rng.standard_normal((T, N)) * 1.5).astype(np.float32)
            v0 = (rng.standard_normal(N) * 0.5).astype(np.float32)
            ties += make_ties(cur, v0, o)
            x = rng.standard_normal((T, N)).astype(np.float32)
            cnt = max(4 * ((layer + 1) * sites), 8)
            bufs = [view(rng, np.float32, [T, N], layout, cur),
                    view(rng, np.float32, [N], layout, v0),
                    view(rng, np.float32, [T, N], layout),
                    view(rng, np.float32, [N], layout),
                    View(np.zeros(N, np.uint64), 0, [N], [1]),
                    View(np.zeros(cnt, np.int64), 0, [cnt], [1])]
            args = []
            for b in bufs:
                args += b.args()
            args.append(layer)
            if residual:
                xs = view(rng, np.float32, [T, N], "padded", x)
                nx = view(rng, np.float32, [T, N], layout)
                args += xs.args() + nx.args()
            fn = getattr(lib, name)
            fn.restype = None
            fn(*[a if isinstance(a, ctypes.c_void_p) else SIZE_T(a)
                 for a in args])

            spikes, v, nxt = lif_reference(cur, v0, x if residual else None, o)
            got_spikes, got_v = bufs[2].array(), bufs[3].array()
            where = f"{name} T={T} N={N} layer={layer} {layout}"
            for what, a, b in [("spikes", got_spikes, spikes),
                               ("membranes", got_v, v)] + (
                    [("residual", nx.array(), nxt)] if residual else []):
                if a.tobytes() != np.ascontiguousarray(b).tobytes():
                    bad = np.argwhere(a != b)
                    sys.exit(f"event_c_check: {where}: {what} differ at "
                             f"{bad[:4].tolist()}")
            if not np.array_equal(bufs[1].array(), v0):
                sys.exit(f"event_c_check: {where}: the input membrane changed")
            total = int(spikes.sum())
            base = 4 * (layer * sites + site)
            want = np.zeros(cnt, np.int64)
            want[base:base + 4] = [total, total if residual else 0,
                                   total if residual else 0, T * N]
            got = bufs[5].flat
            if not np.array_equal(got, want):
                sys.exit(f"event_c_check: {where}: counters {got.tolist()}, "
                         f"expected {want.tolist()}")
            checked += 1
    print(f"event_c_check: OK {len(functions)} functions, {checked} calls, "
          f"{sites} sites per layer, {ties} membranes exactly on the "
          "threshold")


if __name__ == "__main__":
    main()
