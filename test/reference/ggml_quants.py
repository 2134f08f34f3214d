"""GGML's block-quantized tensor types in numpy, written from llama.cpp's
block layouts (ggml-common.h) independently of seqc: an encoder (any valid
encoding: simple absmax / min-max scales, not llama.cpp's search for the
best ones; for q4_K, q5_K and q6_K, llama.cpp's reference quantizers,
their searches included)
and a decoder, row by row (blocks run along the last axis).

    encode(x, name) -> uint8 array [rows, bytes per row]
    decode(raw, name, cols) -> float64 array [rows, cols]

Types (GGML id, values per block, bytes per block):
  q4_0 (2, 32, 18):  f16 d; 16 bytes of nibbles: x = (q - 8) d
  q4_1 (3, 32, 20):  f16 d, f16 m; nibbles: x = q d + m
  q5_0 (6, 32, 22):  f16 d; u32 high bits; nibbles: x = (q - 16) d
  q5_1 (7, 32, 24):  f16 d, f16 m; u32 high bits; nibbles: x = q d + m
  q8_0 (8, 32, 34):  f16 d; 32 int8: x = q d
  q4_K (12, 256, 144): f16 d, f16 dmin; 12 bytes of 6-bit scales and mins of
                       8 sub-blocks of 32; 128 bytes of nibbles:
                       x = d sc q - dmin m
  q5_K (13, 256, 176): as q4_K plus 32 bytes of fifth bits
  q6_K (14, 256, 210): 128 bytes of low nibbles, 64 bytes of 2-bit highs,
                       16 int8 scales of sub-blocks of 16, f16 d:
                       x = d sc (q - 32)
  q2_K (10, 256, 84):  16 bytes of 4-bit scales (low) and mins (high) of
                       sub-blocks of 16, 64 bytes of 2-bit codes, f16 d,
                       f16 dmin: x = d sc q - dmin m
  q3_K (11, 256, 110): 32 bytes of high bits, 64 bytes of 2-bit codes, 12
                       bytes of 6-bit scales of sub-blocks of 16, f16 d:
                       x = d (sc - 32) (q - 4 h'), h' = 1 where the high
                       bit is clear
In the nibble types of block 32, byte j holds value j (low nibble) and value
j + 16 (high nibble); in the K types each 64 values use 32 bytes: value l in
the low nibbles, value 32 + l in the high ones.
"""

import numpy as np

TYPES = {"q4_0": (2, 32, 18), "q4_1": (3, 32, 20), "q5_0": (6, 32, 22),
         "q5_1": (7, 32, 24), "q8_0": (8, 32, 34), "q4_K": (12, 256, 144),
         "q5_K": (13, 256, 176), "q6_K": (14, 256, 210),
         "q2_K": (10, 256, 84), "q3_K": (11, 256, 110)}


def f16(v):
    return np.asarray(v, np.float16)


def f16bytes(v):
    return f16(v).reshape(-1, 1).view(np.uint8)


def rnd(x):
    return np.floor(x + 0.5)


def encode(x, name):
    x = np.asarray(x, np.float64)
    rows, cols = x.shape
    _, n, nbytes = TYPES[name]
    assert cols % n == 0, f"{name}: {cols} columns are not a multiple of {n}"
    b = x.reshape(-1, n)
    out = globals()["_enc_" + name](b)
    assert out.shape == (b.shape[0], nbytes)
    return out.reshape(rows, -1)


def decode(raw, name, cols):
    _, n, nbytes = TYPES[name]
    rows = raw.shape[0]
    b = np.asarray(raw, np.uint8).reshape(-1, nbytes)
    return globals()["_dec_" + name](b).reshape(rows, cols)


def _nibbles(q):  # q [blocks, 32] in 0..15
    return (q[:, :16] | (q[:, 16:] << 4)).astype(np.uint8)


def _unnibble(qs):  # [blocks, 16] -> [blocks, 32]
    return np.concatenate([qs & 15, qs >> 4], axis=1).astype(np.int64)


def _highbits(q):  # bit 4 of each of 32 values -> u32 little-endian bytes
    bits = ((q >> 4) & 1).astype(np.uint64) << np.arange(32, dtype=np.uint64)
    return bits.sum(axis=1).astype(np.uint32).reshape(-1, 1).view(np.uint8)


def _unhighbits(qh):  # [blocks, 4] -> [blocks, 32] of 0/16
    word = qh.copy().view(np.uint32).reshape(-1, 1).astype(np.int64)
    return ((word >> np.arange(32)) & 1) << 4


def _enc_q8_0(b):
    d = f16(np.abs(b).max(axis=1) / Q8_0_LEVELS)
    df = d.astype(np.float64)
    q = np.clip(rnd(b / np.where(df > 0, df, 1)[:, None]), -127, 127).astype(np.int8)
    return np.concatenate([f16bytes(d), q.view(np.uint8)], axis=1)


def _dec_q8_0(b):
    d = b[:, :2].copy().view(np.float16).astype(np.float64)
    return b[:, 2:].view(np.int8).astype(np.float64) * d


def _signed_scale(b, levels):
    """d with the largest-magnitude value at -levels (llama.cpp's choice)."""
    idx = np.abs(b).argmax(axis=1)
    mx = b[np.arange(len(b)), idx]
    return f16(mx / -levels)


# The level Q4_0's largest magnitude maps to: 8 (code 0) as llama.cpp's
# reference quantizer does; 7 writes blocks without a code 0, as
# importance-matrix quantization can (gguf_writer.py --q4-0-levels).
Q4_0_LEVELS = 8


def _enc_q4_0(b):
    d = _signed_scale(b, Q4_0_LEVELS)
    df = d.astype(np.float64)
    q = np.clip(rnd(b / np.where(df != 0, df, 1)[:, None]) + 8, 0, 15).astype(np.int64)
    return np.concatenate([f16bytes(d), _nibbles(q)], axis=1)


def _dec_q4_0(b):
    d = b[:, :2].copy().view(np.float16).astype(np.float64)
    return (_unnibble(b[:, 2:]) - 8) * d


# Likewise for Q5_0 (16: code 0) and Q8_0 (127: codes -127..127); fewer
# levels write blocks whose largest code is not the extreme one
# (gguf_writer.py --q5-0-levels, --q8-0-levels).
Q5_0_LEVELS = 16
Q8_0_LEVELS = 127


def _enc_q5_0(b):
    d = _signed_scale(b, Q5_0_LEVELS)
    df = d.astype(np.float64)
    q = np.clip(rnd(b / np.where(df != 0, df, 1)[:, None]) + 16, 0, 31).astype(np.int64)
    return np.concatenate([f16bytes(d), _highbits(q), _nibbles(q & 15)], axis=1)


def _dec_q5_0(b):
    d = b[:, :2].copy().view(np.float16).astype(np.float64)
    q = _unnibble(b[:, 6:]) | _unhighbits(b[:, 2:6])
    return (q - 16) * d


def _minmax(b, levels):
    mn, mx = b.min(axis=1), b.max(axis=1)
    d, m = f16((mx - mn) / levels), f16(mn)
    df = d.astype(np.float64)
    q = np.clip(rnd((b - m.astype(np.float64)[:, None]) / np.where(df > 0, df, 1)[:, None]),
                0, levels).astype(np.int64)
    return d, m, q


def _enc_q4_1(b):
    d, m, q = _minmax(b, 15)
    return np.concatenate([f16bytes(d), f16bytes(m), _nibbles(q)], axis=1)


def _dec_q4_1(b):
    d = b[:, :2].copy().view(np.float16).astype(np.float64)
    m = b[:, 2:4].copy().view(np.float16).astype(np.float64)
    return _unnibble(b[:, 4:]) * d + m


def _enc_q5_1(b):
    d, m, q = _minmax(b, 31)
    return np.concatenate([f16bytes(d), f16bytes(m), _highbits(q), _nibbles(q & 15)], axis=1)


def _dec_q5_1(b):
    d = b[:, :2].copy().view(np.float16).astype(np.float64)
    m = b[:, 2:4].copy().view(np.float16).astype(np.float64)
    q = _unnibble(b[:, 8:]) | _unhighbits(b[:, 4:8])
    return q * d + m


# --- K types: super-blocks of 256 ----------------------------------------

def _k_scales(b, levels):
    """6-bit scales and mins of 8 sub-blocks of 32 and the codes:
    x ~ d sc q - dmin m, q in 0..levels."""
    sub = b.reshape(-1, 8, 32)
    mn = np.minimum(sub.min(axis=2), 0)  # mins are subtracted: m >= 0
    scale = (sub.max(axis=2) - mn) / levels
    d = f16(scale.max(axis=1) / 63)
    dmin = f16(-mn.min(axis=1) / 63)
    df, dminf = d.astype(np.float64), dmin.astype(np.float64)
    sc = np.clip(rnd(scale / np.where(df > 0, df, 1)[:, None]), 0, 63).astype(np.int64)
    m = np.clip(rnd(-mn / np.where(dminf > 0, dminf, 1)[:, None]), 0, 63).astype(np.int64)
    step = df[:, None] * sc
    off = dminf[:, None] * m
    q = rnd((sub + off[:, :, None]) / np.where(step > 0, step, 1)[:, :, None])
    q = np.clip(q, 0, levels).astype(np.int64).reshape(-1, 256)
    packed = np.zeros((len(b), 12), np.int64)
    packed[:, 0:4] = sc[:, 0:4] | ((sc[:, 4:8] >> 4) << 6)
    packed[:, 4:8] = m[:, 0:4] | ((m[:, 4:8] >> 4) << 6)
    packed[:, 8:12] = (sc[:, 4:8] & 15) | ((m[:, 4:8] & 15) << 4)
    return d, dmin, packed.astype(np.uint8), q


def _k_unscales(s):
    s = s.astype(np.int64)
    sc = np.concatenate([s[:, 0:4] & 63, (s[:, 8:12] & 15) | ((s[:, 0:4] >> 6) << 4)], axis=1)
    m = np.concatenate([s[:, 4:8] & 63, (s[:, 8:12] >> 4) | ((s[:, 4:8] >> 6) << 4)], axis=1)
    return sc, m


def _k_nibbles(q):  # [blocks, 256] 0..15 -> 128 bytes
    c = q.reshape(-1, 4, 2, 32)
    return (c[:, :, 0] | (c[:, :, 1] << 4)).reshape(-1, 128).astype(np.uint8)


def _k_unnibble(qs):  # 128 bytes -> [blocks, 256]
    c = qs.reshape(-1, 4, 1, 32).astype(np.int64)
    return np.concatenate([c & 15, c >> 4], axis=2).reshape(-1, 256)


def _k_dequant(d, dmin, scales, q):
    sc, m = _k_unscales(scales)
    d = d.copy().view(np.float16).astype(np.float64).reshape(-1)
    dmin = dmin.copy().view(np.float16).astype(np.float64).reshape(-1)
    sub = q.reshape(-1, 8, 32)
    return ((d[:, None] * sc)[:, :, None] * sub
            - (dmin[:, None] * m)[:, :, None]).reshape(-1, 256)


# Q4_K's encoder: None for llama.cpp's reference quantizer (_q4_K_ggml);
# a number of levels for the min-max encoding (_k_scales) whose sub-block
# maxima map to that code: 13 writes blocks whose codes never reach 14 or
# 15 (gguf_writer.py --q4-k-levels).
Q4_K_LEVELS = None


def _f(v):
    return np.float32(v)


def _qkx2(x, w, nmax=15):
    """GGML's make_qkx2_quants(32, nmax, x, w, ..., rdelta 0.1, squared
    errors) as Q4_K (nmax 15, rmin -1, nstep 20) and Q5_K (nmax 31, rmin
    -0.5, nstep 15) call it, on the rows of x [B, 32], in float32 and in its
    order of operations (sums run over the 32 values in turn): returns the
    scale, the minimum's magnitude and the codes."""
    f32 = np.float32
    rmin, nstep = (-1, 20) if nmax == 15 else (-0.5, 15)
    x, w = x.astype(f32), w.astype(f32)
    B = len(x)
    mn, mx = x[:, 0].copy(), x[:, 0].copy()
    sum_w, sum_x = w[:, 0].copy(), w[:, 0] * x[:, 0]
    for i in range(1, 32):
        mn = np.minimum(mn, x[:, i])
        mx = np.maximum(mx, x[:, i])
        sum_w = sum_w + w[:, i]
        sum_x = sum_x + w[:, i] * x[:, i]
    mn = np.where(mn > 0, f32(0), mn)
    flat = mx == mn
    rng = np.where(flat, f32(1), mx - mn)
    iscale = f32(nmax) / rng
    scale = f32(1) / iscale
    L = np.clip(np.rint(iscale[:, None] * (x - mn[:, None])), 0, nmax).astype(f32)
    flat_min = mn.copy()
    best = np.zeros(B, f32)
    for i in range(32):
        diff = scale * L[:, i] + mn - x[:, i]
        best = best + w[:, i] * (diff * diff)
    for step in range(nstep + 1):
        # GGML's loop divides by max - min with the minimum it has kept.
        isc = (_f(rmin) + _f(0.1) * f32(step) + f32(nmax)) / np.where(flat, f32(1), mx - mn)
        aux = np.clip(np.rint(isc[:, None] * (x - mn[:, None])), 0, nmax).astype(f32)
        sl = np.zeros(B, f32)
        sl2 = np.zeros(B, f32)
        sxl = np.zeros(B, f32)
        for i in range(32):
            wl = w[:, i] * aux[:, i]
            sl = sl + wl
            sl2 = sl2 + wl * aux[:, i]
            sxl = sxl + wl * x[:, i]
        D = sum_w * sl2 - sl * sl
        ok = D > 0
        Dd = np.where(ok, D, f32(1))
        ts = (sum_w * sxl - sum_x * sl) / Dd
        tm = (sl2 * sum_x - sl * sxl) / Dd
        pos = tm > 0
        tm = np.where(pos, f32(0), tm)
        ts = np.where(pos, sxl / np.where(sl2 != 0, sl2, f32(1)), ts)
        err = np.zeros(B, f32)
        for i in range(32):
            diff = ts * aux[:, i] + tm - x[:, i]
            err = err + w[:, i] * (diff * diff)
        better = ok & (err < best)
        best = np.where(better, err, best)
        scale = np.where(better, ts, scale)
        mn = np.where(better, tm, mn)
        L = np.where(better[:, None], aux, L)
    scale = np.where(flat, f32(0), scale)
    mn = np.where(flat, flat_min, mn)
    L = np.where(flat[:, None], f32(0), L)
    return scale, -mn, L.astype(np.int64)


def _q4_K_ggml(b, nmax=15):
    """llama.cpp's quantize_row_q4_K_ref (nmax 31: quantize_row_q5_K_ref),
    in float32: per sub-block _qkx2 weighted by rms(x) + |x|, the 6-bit
    scales and minima rounded against the largest of each, then the codes
    (0..nmax) again against the rounded step and minimum (a sub-block of
    zero step keeps _qkx2's codes)."""
    f32 = np.float32
    x = b.astype(f32).reshape(-1, 8, 32)
    B = len(x)
    sub = x.reshape(-1, 32)
    sx2 = np.zeros(len(sub), f32)
    for i in range(32):
        sx2 = sx2 + sub[:, i] * sub[:, i]
    av = np.sqrt(sx2 / f32(32))
    scale, mins, L = _qkx2(sub, av[:, None] + np.abs(sub), nmax)
    scale, mins, L = scale.reshape(B, 8), mins.reshape(B, 8), L.reshape(B, 8, 32)
    max_scale = np.maximum(scale.max(axis=1), f32(0))
    max_min = np.maximum(mins.max(axis=1), f32(0))
    inv_s = np.where(max_scale > 0, f32(63) / np.where(max_scale > 0, max_scale, f32(1)), f32(0))
    inv_m = np.where(max_min > 0, f32(63) / np.where(max_min > 0, max_min, f32(1)), f32(0))
    sc = np.minimum(63, np.rint(inv_s[:, None] * scale).astype(np.int64) & 255)
    m = np.minimum(63, np.rint(inv_m[:, None] * mins).astype(np.int64) & 255)
    d = f16(max_scale / f32(63))
    dmin = f16(max_min / f32(63))
    step = d.astype(f32)[:, None] * sc.astype(f32)
    off = dmin.astype(f32)[:, None] * m.astype(f32)
    q = np.clip(np.rint((x + off[:, :, None]) / np.where(step > 0, step, f32(1))[:, :, None]),
                0, nmax).astype(np.int64)
    q = np.where((step > 0)[:, :, None], q, L).reshape(B, 256)
    packed = np.zeros((B, 12), np.int64)
    packed[:, 0:4] = sc[:, 0:4] | ((sc[:, 4:8] >> 4) << 6)
    packed[:, 4:8] = m[:, 0:4] | ((m[:, 4:8] >> 4) << 6)
    packed[:, 8:12] = (sc[:, 4:8] & 15) | ((m[:, 4:8] & 15) << 4)
    return d, dmin, packed.astype(np.uint8), q


def _enc_q4_K(b):
    if Q4_K_LEVELS is None:
        d, dmin, scales, q = _q4_K_ggml(b)
    else:
        d, dmin, scales, q = _k_scales(b, Q4_K_LEVELS)
    return np.concatenate([f16bytes(d), f16bytes(dmin), scales, _k_nibbles(q)], axis=1)


def _dec_q4_K(b):
    return _k_dequant(b[:, 0:2], b[:, 2:4], b[:, 4:16], _k_unnibble(b[:, 16:144]))


# Q5_K blocks by the min-max encoding with codes up to this level
# (gguf_writer.py --q5-k-levels); None: llama.cpp's reference quantizer.
Q5_K_LEVELS = None


def _enc_q5_K(b):
    if Q5_K_LEVELS is None:
        d, dmin, scales, q = _q4_K_ggml(b, 31)
    else:
        d, dmin, scales, q = _k_scales(b, Q5_K_LEVELS)
    # Fifth bits: bit 2c of byte l for value l of the c-th 64 (low half),
    # bit 2c + 1 for value 32 + l.
    hi = ((q >> 4) & 1).reshape(-1, 4, 2, 32)
    qh = np.zeros((len(b), 32), np.int64)
    for c in range(4):
        qh |= hi[:, c, 0] << (2 * c)
        qh |= hi[:, c, 1] << (2 * c + 1)
    return np.concatenate([f16bytes(d), f16bytes(dmin), scales, qh.astype(np.uint8),
                           _k_nibbles(q & 15)], axis=1)


def _dec_q5_K(b):
    qh = b[:, 16:48].astype(np.int64)
    hi = np.zeros((len(b), 4, 2, 32), np.int64)
    for c in range(4):
        hi[:, c, 0] = (qh >> (2 * c)) & 1
        hi[:, c, 1] = (qh >> (2 * c + 1)) & 1
    q = _k_unnibble(b[:, 48:176]) | (hi.reshape(-1, 256) << 4)
    return _k_dequant(b[:, 0:2], b[:, 2:4], b[:, 4:16], q)


# Q6_K blocks by the absmax encoding, sub-block maxima mapped to this code
# magnitude (gguf_writer.py --q6-k-levels: blocks llama.cpp's quantizer
# would not write); None: llama.cpp's reference quantizer.
Q6_K_LEVELS = None


def _qx(x):
    """GGML's make_qx_quants(16, 32, x, L, rmse_type 1, no weights) on the
    rows of x [B, 16], in float32 and in its order of operations: the grid
    whose extreme code (-32) is the value of largest magnitude, then 18 grids
    of steps -(32 + 0.1 is) / max, keeping the one of largest
    (sum w x l)^2 / sum w l^2 (w = x^2) with its least-squares scale.
    Returns the scale and the codes l + 32 (0 for an all-zero row)."""
    f32 = np.float32
    x = x.astype(f32)
    B = len(x)
    rows = np.arange(B)
    at = np.abs(x).argmax(axis=1)  # the first of largest magnitude
    mx, amax = x[rows, at], np.abs(x[rows, at])
    zero = amax < f32(1e-15)
    mxs = np.where(zero, f32(1), mx)

    def grid(iscale):
        l = np.clip(np.rint(iscale[:, None] * x), -32, 31).astype(f32)
        sumlx = np.zeros(B, f32)
        suml2 = np.zeros(B, f32)
        for i in range(16):
            w = x[:, i] * x[:, i]
            sumlx = sumlx + w * x[:, i] * l[:, i]
            suml2 = suml2 + w * l[:, i] * l[:, i]
        return l, sumlx, suml2

    L, sumlx, suml2 = grid(f32(-32) / mxs)
    scale = np.where(suml2 != 0, sumlx / np.where(suml2 != 0, suml2, f32(1)), f32(0))
    best = scale * sumlx
    for step in range(-9, 10):
        if step == 0:
            continue
        l, sumlx, suml2 = grid(-(f32(32) + f32(0.1) * f32(step)) / mxs)
        better = (suml2 > 0) & (sumlx * sumlx > best * suml2)
        L = np.where(better[:, None], l, L)
        scale = np.where(better, sumlx / np.where(suml2 > 0, suml2, f32(1)), scale)
        best = np.where(better, scale * sumlx, best)
    L = np.where(zero[:, None], f32(-32), L)
    return np.where(zero, f32(0), scale), L.astype(np.int64) + 32


def _q6_K_ggml(b):
    """llama.cpp's quantize_row_q6_K_ref, in float32: per sub-block of 16
    _qx; the int8 scales rounded against the one of largest magnitude
    (iscale = -128 / max, d = f16(1 / iscale), sc = min(127,
    rint(iscale scale))); then the codes again against each rounded step d
    sc (a sub-block of zero step keeps _qx's codes; an all-zero block is
    all zeros). Returns d, sc [B, 16] and the codes [B, 256] in 0..63."""
    f32 = np.float32
    x = b.astype(f32).reshape(-1, 16, 16)
    B = len(x)
    scale, L = _qx(x.reshape(-1, 16))
    scale, L = scale.reshape(B, 16), L.reshape(B, 16, 16)
    at = np.abs(scale).argmax(axis=1)
    max_scale = scale[np.arange(B), at]
    zero = np.abs(max_scale) < f32(1e-15)
    iscale = f32(-128) / np.where(zero, f32(1), max_scale)
    d = f16(np.where(zero, f32(0), f32(1) / iscale))
    sc = np.minimum(127, np.rint(iscale[:, None] * scale)).astype(np.int64)
    sc = np.where(zero[:, None], 0, sc)
    step = d.astype(f32)[:, None] * sc.astype(f32)
    q = np.clip(np.rint(x / np.where(step != 0, step, f32(1))[:, :, None]), -32, 31) + 32
    q = np.where((step != 0)[:, :, None], q.astype(np.int64), L)
    q = np.where(zero[:, None, None], 0, q)
    return d, sc, q.reshape(B, 256)


def _q6_K_levels(b, levels):
    sub = b.reshape(-1, 16, 16)
    scale = np.abs(sub).max(axis=2) / levels
    d = f16(scale.max(axis=1) / 127)
    df = d.astype(np.float64)
    sc = np.clip(rnd(scale / np.where(df > 0, df, 1)[:, None]), -128, 127).astype(np.int64)
    step = df[:, None] * sc
    q = np.clip(rnd(sub / np.where(step != 0, step, 1)[:, :, None]), -32, 31) + 32
    return d, sc, q.astype(np.int64).reshape(-1, 256)


def _enc_q6_K(b):
    if Q6_K_LEVELS is None:
        d, sc, q = _q6_K_ggml(b)
    else:
        d, sc, q = _q6_K_levels(b, Q6_K_LEVELS)
    L = q.reshape(-1, 2, 128)  # two halves of 128
    ql = np.zeros((len(b), 2, 64), np.int64)
    qh = np.zeros((len(b), 2, 32), np.int64)
    ql[:, :, :32] = (L[:, :, 0:32] & 15) | ((L[:, :, 64:96] & 15) << 4)
    ql[:, :, 32:] = (L[:, :, 32:64] & 15) | ((L[:, :, 96:128] & 15) << 4)
    qh[:] = ((L[:, :, 0:32] >> 4) | ((L[:, :, 32:64] >> 4) << 2)
             | ((L[:, :, 64:96] >> 4) << 4) | ((L[:, :, 96:128] >> 4) << 6))
    return np.concatenate([ql.reshape(-1, 128).astype(np.uint8),
                           qh.reshape(-1, 64).astype(np.uint8),
                           sc.astype(np.int8).view(np.uint8), f16bytes(d)], axis=1)


def _dec_q6_K(b):
    ql = b[:, 0:128].astype(np.int64).reshape(-1, 2, 64)
    qh = b[:, 128:192].astype(np.int64).reshape(-1, 2, 32)
    sc = b[:, 192:208].view(np.int8).astype(np.float64).reshape(-1, 16)
    d = b[:, 208:210].copy().view(np.float16).astype(np.float64).reshape(-1)
    q = np.zeros((len(b), 2, 128), np.int64)
    q[:, :, 0:32] = (ql[:, :, :32] & 15) | (((qh >> 0) & 3) << 4)
    q[:, :, 32:64] = (ql[:, :, 32:] & 15) | (((qh >> 2) & 3) << 4)
    q[:, :, 64:96] = (ql[:, :, :32] >> 4) | (((qh >> 4) & 3) << 4)
    q[:, :, 96:128] = (ql[:, :, 32:] >> 4) | (((qh >> 6) & 3) << 4)
    q = (q - 32).reshape(-1, 16, 16)
    return (d[:, None, None] * sc[:, :, None] * q).reshape(-1, 256)


# q2_K and q3_K: 2-bit codes in 64 bytes per 256 values; value v = 128 n +
# 32 j + 16 h + l (n < 2, j < 4, h < 2, l < 16) is at bits 2j of byte
# 32 n + 16 h + l, and is in sub-block 8 n + 2 j + h (the sub-blocks of 16
# run in value order). q3_K's high bit of v is bit 4 n + j of byte 16 h + l.

def _k2_index():
    v = np.arange(256)
    n, r = v // 128, v % 128
    j, h, l = r // 32, (r % 32) // 16, r % 16
    return 32 * n + 16 * h + l, 2 * j, 16 * h + l, 4 * n + j


def _pack2(q):  # [B, 256] in 0..3 -> [B, 64]
    byte, shift, _, _ = _k2_index()
    out = np.zeros((len(q), 64), np.int64)
    for v in range(256):
        out[:, byte[v]] |= q[:, v] << shift[v]
    return out.astype(np.uint8)


def _unpack2(qs):  # [B, 64] -> [B, 256]
    byte, shift, _, _ = _k2_index()
    return (qs.astype(np.int64)[:, byte] >> shift) & 3


def _enc_q2_K(b):
    """Per sub-block of 16: the minimum (at most 0) and a step of a third
    of the range; the steps and minima in 4 bits against d = max step / 15
    and dmin = max minimum / 15."""
    sub = b.reshape(-1, 16, 16)
    lo = np.minimum(sub.min(axis=2), 0)
    step = (sub.max(axis=2) - lo) / 3
    d = f16(step.max(axis=1) / 15)
    dmin = f16(-lo.min(axis=1) / 15)
    df, mf = d.astype(np.float64), dmin.astype(np.float64)
    sc = np.clip(rnd(step / np.where(df > 0, df, 1)[:, None]), 0, 15)
    m = np.clip(rnd(-lo / np.where(mf > 0, mf, 1)[:, None]), 0, 15)
    dl, ml = df[:, None] * sc, mf[:, None] * m
    q = np.clip(rnd((sub + ml[:, :, None]) /
                    np.where(dl > 0, dl, 1)[:, :, None]), 0, 3)
    q = np.where((dl > 0)[:, :, None], q, 0).astype(np.int64).reshape(-1, 256)
    scales = (sc.astype(np.int64) | (m.astype(np.int64) << 4)).astype(np.uint8)
    return np.concatenate([scales, _pack2(q), f16bytes(d), f16bytes(dmin)],
                          axis=1)


def _dec_q2_K(b):
    scales = b[:, 0:16].astype(np.int64)
    q = _unpack2(b[:, 16:80])
    d = b[:, 80:82].copy().view(np.float16).astype(np.float64).reshape(-1)
    dmin = b[:, 82:84].copy().view(np.float16).astype(np.float64).reshape(-1)
    dl = d[:, None] * (scales & 15)
    ml = dmin[:, None] * (scales >> 4)
    q = q.reshape(-1, 16, 16)
    return (dl[:, :, None] * q - ml[:, :, None]).reshape(-1, 256)


def _enc_q3_K(b):
    """Per sub-block of 16 a signed step (the value of largest magnitude is
    -4 steps), in 6 bits (-32 .. 31) against d = max |step| / 31; codes
    -4 .. 3."""
    sub = b.reshape(-1, 16, 16)
    at = np.abs(sub).argmax(axis=2)
    step = np.take_along_axis(sub, at[:, :, None], axis=2)[:, :, 0] / -4
    d = f16(np.abs(step).max(axis=1) / 31)
    df = d.astype(np.float64)
    sc = np.clip(rnd(step / np.where(df > 0, df, 1)[:, None]), -32, 31)
    dl = df[:, None] * sc
    q = np.clip(rnd(sub / np.where(dl != 0, dl, 1)[:, :, None]), -4, 3)
    q = np.where((dl != 0)[:, :, None], q, 0).astype(np.int64).reshape(-1, 256)
    s6 = sc.astype(np.int64) + 32  # 0 .. 63
    scales = np.zeros((len(b), 12), np.int64)
    for k in range(4):
        scales[:, k] = (s6[:, k] & 15) | ((s6[:, 8 + k] & 15) << 4)
        scales[:, 4 + k] = (s6[:, 4 + k] & 15) | ((s6[:, 12 + k] & 15) << 4)
        scales[:, 8 + k] = ((s6[:, k] >> 4) | ((s6[:, 4 + k] >> 4) << 2)
                            | ((s6[:, 8 + k] >> 4) << 4)
                            | ((s6[:, 12 + k] >> 4) << 6))
    _, _, hbyte, hbit = _k2_index()
    hmask = np.zeros((len(b), 32), np.int64)
    high = q >= 0  # the bit is set where 4 is not subtracted
    for v in range(256):
        hmask[:, hbyte[v]] |= high[:, v].astype(np.int64) << hbit[v]
    low = np.where(high, q, q + 4)
    return np.concatenate([hmask.astype(np.uint8), _pack2(low),
                           scales.astype(np.uint8), f16bytes(d)], axis=1)


def _dec_q3_K(b):
    hm = b[:, 0:32].astype(np.int64)
    low = _unpack2(b[:, 32:96])
    raw = b[:, 96:108].astype(np.int64)
    d = b[:, 108:110].copy().view(np.float16).astype(np.float64).reshape(-1)
    s6 = np.zeros((len(b), 16), np.int64)
    for k in range(4):
        s6[:, k] = (raw[:, k] & 15) | (((raw[:, 8 + k] >> 0) & 3) << 4)
        s6[:, 4 + k] = (raw[:, 4 + k] & 15) | (((raw[:, 8 + k] >> 2) & 3) << 4)
        s6[:, 8 + k] = (raw[:, k] >> 4) | (((raw[:, 8 + k] >> 4) & 3) << 4)
        s6[:, 12 + k] = (raw[:, 4 + k] >> 4) | (((raw[:, 8 + k] >> 6) & 3) << 4)
    _, _, hbyte, hbit = _k2_index()
    high = (hm[:, hbyte] >> hbit) & 1
    q = (low - np.where(high == 1, 0, 4)).reshape(-1, 16, 16)
    dl = d[:, None] * (s6 - 32)
    return (dl[:, :, None] * q).reshape(-1, 256)
