"""Numpy reference for seq.quantize / seq.dequantize and their storage.

Written from the descriptions of `#seq.quant` and of the two ops
(docs/generated/Seq.md), in float32:

    groups: `group` consecutive elements along `axis`
    asymmetric: s = (max - min) / (2^b - 1), m = min,
                q = clamp(round((x - m) / s), 0, 2^b - 1),      x' = s q + m
    symmetric:  s = max|x| / (2^(b-1) - 1),
                q = clamp(round(x / s), -(2^(b-1) - 1), 2^(b-1) - 1), x' = s q
    s and m rounded to the scale type first (s = 1 where that is 0); the
    codes use the rounded values; round = to nearest, ties away from zero.

Storage of the codes: every innermost row padded with zero codes to a
multiple of 8, 8 codes to a little-endian word of b bytes (code j in bits
[j b, (j+1) b)); symmetric codes stored as q + 2^(b-1).
"""

import numpy as np

F32 = np.float32
SCALE_TYPES = {"f32": np.float32, "f16": np.float16}


def round_away(y):
    """To the nearest integer, ties away from zero, in y's dtype."""
    t = np.trunc(y)
    return (t + np.where(np.abs(y - t) >= 0.5, np.sign(y), 0)).astype(y.dtype)


def _grouped(x, group, axis):
    """x with `axis` split into (groups, group); the group axis is axis + 1."""
    shape = x.shape[:axis] + (x.shape[axis] // group, group) + x.shape[axis + 1:]
    return x.reshape(shape)


def quantize(x, bits, group, axis, symmetric, scale_type="f32"):
    """-> (codes (int64, signed for symmetric), scales, minima or None)."""
    st = SCALE_TYPES[scale_type]
    g = _grouped(np.asarray(x).astype(F32), group, axis)
    mn, mx = g.min(axis=axis + 1), g.max(axis=axis + 1)
    if symmetric:
        s = (np.maximum(np.abs(mn), np.abs(mx)) / F32(2 ** (bits - 1) - 1)).astype(F32)
    else:
        s = ((mx - mn) / F32(2 ** bits - 1)).astype(F32)
    s = s.astype(st)
    s = np.where(s == 0, st(1), s).astype(st)
    m = None if symmetric else mn.astype(st)
    s32 = np.expand_dims(s.astype(F32), axis + 1)
    if symmetric:
        lim = F32(2 ** (bits - 1) - 1)
        q = np.clip(round_away((g / s32).astype(F32)), -lim, lim)
    else:
        m32 = np.expand_dims(m.astype(F32), axis + 1)
        q = np.clip(round_away(((g - m32) / s32).astype(F32)), F32(0), F32(2 ** bits - 1))
    return q.astype(np.int64).reshape(np.shape(x)), s, m


def dequantize(codes, scales, minima, bits, group, axis, out=F32):
    g = _grouped(np.asarray(codes), group, axis).astype(F32)
    s = np.expand_dims(np.asarray(scales).astype(F32), axis + 1)
    y = (s * g).astype(F32)
    if minima is not None:
        y = (y + np.expand_dims(np.asarray(minima).astype(F32), axis + 1)).astype(F32)
    return y.reshape(np.shape(codes)).astype(out)


def pack(codes, bits, symmetric):
    """Codes [..., n] -> storage bytes [..., ceil(n / 8) * bits] (uint8)."""
    c = np.asarray(codes, dtype=np.int64)
    if symmetric:
        c = c + 2 ** (bits - 1)
    assert ((c >= 0) & (c < 2 ** bits)).all()
    n = c.shape[-1]
    words = (n + 7) // 8
    c = np.concatenate([c, np.zeros(c.shape[:-1] + (words * 8 - n,), np.int64)], -1)
    rows = c.reshape(-1, words, 8)
    out = np.zeros((rows.shape[0], words * bits), np.uint8)
    for r in range(rows.shape[0]):
        for w in range(words):
            word = sum(int(rows[r, w, j]) << (j * bits) for j in range(8))
            out[r, w * bits:(w + 1) * bits] = list(word.to_bytes(bits, "little"))
    return out.reshape(c.shape[:-1] + (words * bits,))


def unpack(packed, n, bits, symmetric):
    """The inverse of pack: bytes [..., ceil(n / 8) * bits] -> codes [..., n]."""
    p = np.asarray(packed, dtype=np.uint8)
    words = p.shape[-1] // bits
    rows = p.reshape(-1, words, bits)
    out = np.zeros((rows.shape[0], words * 8), np.int64)
    for r in range(rows.shape[0]):
        for w in range(words):
            word = int.from_bytes(bytes(rows[r, w].tolist()), "little")
            for j in range(8):
                out[r, w * 8 + j] = (word >> (j * bits)) & (2 ** bits - 1)
    out = out.reshape(p.shape[:-1] + (words * 8,))[..., :n]
    return out - 2 ** (bits - 1) if symmetric else out
