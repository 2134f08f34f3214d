"""Reference for a WKV state kept quantized between tokens (`seqc compile
--state=int8|int4`), written from the `state_quant` description of the
seq.wkv ops (docs/generated/Seq.md), not from the lowering.

`store(x, bits, group, axis)` is what the state holds after a token:
groups of `group` consecutive values along `axis`, each with the scale
s = max|x| / (2^(bits-1) - 1) (1 for a group of zeros), codes
clamp(round(x / s)) rounded half away from zero, and the values s * code.
The scale, the division and the product are rounded to float32 as the
compiled model computes them, so that the reference lands on the same
codes except where float32 and float64 states straddle a rounding
boundary.
"""

import numpy as np


def round_away(x):
    return np.sign(x) * np.floor(np.abs(x) + 0.5)


def hadamard(n):
    """The normalized Sylvester Hadamard matrix of order n (a power of two),
    seq.hadamard's for such orders."""
    h = np.array([[1.0]])
    while h.shape[0] < n:
        h = np.block([[h, h], [h, -h]])
    if h.shape[0] != n:
        raise ValueError(f"{n} is not a power of two")
    return h / np.sqrt(n)


def store(x, bits, group, axis=-1, rotate=False):
    """x (any float array) as a state quantized along `axis` stores it;
    with `rotate`, the vectors along `axis` are quantized rotated by
    hadamard(n) and rotated back (seqc compile --state-rotate keeps the
    state rotated; its values are the same)."""
    x = np.moveaxis(np.asarray(x, dtype=np.float64), axis, -1)
    if rotate:
        r = hadamard(x.shape[-1])
        return np.moveaxis(store(x @ r.T, bits, group) @ r, -1, axis)
    shape = x.shape
    if shape[-1] % group:
        raise ValueError(f"group {group} does not divide {shape[-1]}")
    g = x.reshape(*shape[:-1], shape[-1] // group, group).astype(np.float32)
    m = np.float32(2 ** (bits - 1) - 1)
    s = (np.abs(g).max(axis=-1, keepdims=True) / m).astype(np.float32)
    s = np.where(s == 0, np.float32(1), s).astype(np.float32)
    q = np.clip(round_away((g / s).astype(np.float32)), -m, m)
    out = (s * q.astype(np.float32)).astype(np.float64).reshape(shape)
    return np.moveaxis(out, -1, axis)


def selfcheck():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(3, 64))
    for bits in (8, 4):
        y = store(x, bits, 32)
        m = 2 ** (bits - 1) - 1
        # Each group takes at most 2m + 1 values, its largest magnitude is
        # kept exactly (up to f32) and the error is at most half a step.
        for g in range(2):
            xs, ys = x[:, 32 * g:32 * g + 32], y[:, 32 * g:32 * g + 32]
            step = np.abs(xs).max(axis=1, keepdims=True) / m
            assert np.all(np.abs(xs - ys) <= step * 0.5 + 1e-6)
            assert np.allclose(np.abs(ys).max(axis=1), np.abs(xs).max(axis=1),
                               rtol=1e-6)
    assert np.array_equal(store(np.zeros((2, 32)), 8, 32), np.zeros((2, 32)))
    # Along another axis: the same as moving the axis last.
    z = rng.normal(size=(2, 32, 8))
    assert np.array_equal(store(z, 8, 16, axis=1),
                          np.moveaxis(store(np.moveaxis(z, 1, -1), 8, 16), -1, 1))
    print("state_quant_ref selfcheck ok")


if __name__ == "__main__":
    selfcheck()
