"""Numpy reference for the GPU decode kernels (lib/Target/GPU/kernels).

Generates the inputs of one kernel (fixed seed), runs it with TOOL
(seqc-vulkan-run or seqc-cuda-run: the same command line), and compares every written binding with this reference,
computed in float64 from the same (float32 / float16 / int8) inputs:

    matvec_f32:  y[r] = sum_k W[r, k] x[k]                  W float32
    matvec_f16:  y[r] = sum_k W[r, k] x[k]                  W float16
    matvec_i8:   y[r] = scale[r] * sum_k W[r, k] x[k]        W int8
    wkv4_step:   the RWKV-4 step in the aa/bb/pp form, `steps` times:
        ww = u + k;  p = max(pp, ww);  e1 = exp(pp - p);  e2 = exp(ww - p)
        y  = (e1 aa + e2 v) / (e1 bb + e2)
        ww = w + pp; p = max(ww, k);   e1 = exp(ww - p);  e2 = exp(k - p)
        aa = e1 aa + e2 v;  bb = e1 bb + e2;  pp = p
    matmul_f32:  Y[m, n] = sum_k X[m, k] W[n, k]             (prefill.mlir)
    matmul_f16:  the same, W float16
    matmul_i8:   Y[m, n] = scale[n] * sum_k X[m, k] W[n, k]  W int8
    matmul_f16_mma: as matmul_f16 with X rounded to float16 (the tensor-core
                 kernel of lib/Target/CUDA/kernels/prefill_mma.mlir)
    attend_kivi2, attend_kivi4: one query per head attending over T tokens
                 of a KIVI cache of 2 or 4 bits (keys grouped per channel
                 over G tokens, values per token over G channels, codes
                 packed lowest bits first in 32-bit words; attend.py):
        out = sum_t softmax_t(q . key_t / sqrt(D)) value_t
                 on the dequantized keys and values (code * scale + min)
    wkv56_step:  the RWKV-5/6 step on the state S [H, N key, N value],
                 `steps` times (rwkv567_ref.py's _wkv56_step):
        y = r (u k^T v + S);  S = diag(w) S + k^T v
    wkv7_step:   the RWKV-7 step on the state S [H, N value, N key], `steps`
                 times (rwkv567_ref.py's _att_v7, with a = -kk, b = kk * a):
        sa = S a;  S = S diag(w) + sa b^T + v k^T;  y = S r

Tolerances. The products sum 256 terms in another order than numpy (64
partial sums, then a tree): each y[r] must be within 1e-5 of
sum_k |W[r, k] x[k]| (the scale of the rounding of a reordered float32 sum;
for int8 times the row's scale); the same for each element of matmul's Y
(256 terms, summed in 16 steps of 16); 1e-4 for the tensor-core product,
whose f32 accumulation is not IEEE round-to-nearest on every GPU. The float16 and int8 weights are exact in
float32, so their kernels get the same bound. WKV: every output and state
element within 1e-5 relative to the magnitudes it sums (y and aa mix signs:
(e1 |aa| + e2 |v|) / (e1 bb + e2) and e1 |aa| + e2 |v|; bb, pp: themselves),
after every step of the last; the state carries over between dispatches.
WKV7: the same, each value's scale the step's sums taken with magnitudes
(|S| w + (|S| |a|) |b| + |v| |k| for S, then |S| |r| for y), the scale
of S carried from step to step like S itself, so the bound covers the
rounding of every earlier step too. WKV56 likewise (|r| (|u k v| + |S|)
for y, |w| |S| + |k v| for S). attend: each output within 1e-5 of
sum_t p_t |value_t| times (1 + the head's largest sum_d |q_d key_d| /
sqrt(D)): a score's absolute rounding error moves its softmax weight by as
much relatively.

Usage: vulkan_kernels_ref.py TOOL ARTIFACT KERNEL WORKDIR [--steps N]
       [--validate]
"""

import os
import subprocess
import sys

import numpy as np

ROWS, COLS, CHANNELS = 512, 256, 1024
TOKENS = 128  # matmul: X is TOKENS x COLS, W COLS x COLS
HEADS, HEAD_SIZE = 16, 64
REL = 1e-5


def matvec_inputs(kind, rng):
    x = rng.standard_normal(COLS).astype(np.float32)
    if kind == "f32":
        w = rng.standard_normal((ROWS, COLS)).astype(np.float32)
        return [w, x], None
    if kind == "f16":
        w = rng.standard_normal((ROWS, COLS)).astype(np.float16)
        return [w, x], None
    w = rng.integers(-127, 128, (ROWS, COLS)).astype(np.int8)
    scale = (rng.random(ROWS) * 0.02 + 0.001).astype(np.float32)
    return [w, scale, x], scale


def check_matvec(kind, inputs, scale, y):
    w = inputs[0].astype(np.float64)
    x = inputs[-1].astype(np.float64)
    terms = w * x[None, :]
    ref = terms.sum(axis=1)
    bound = np.abs(terms).sum(axis=1)
    if scale is not None:
        ref *= scale
        bound *= scale
    err = np.abs(y.astype(np.float64) - ref)
    worst = float((err / bound).max())
    return worst <= REL, f"max |y - ref| / sum|w x| = {worst:.3g}"


def wkv4(k, v, w, u, aa, bb, pp, steps):
    k, v, w, u = (a.astype(np.float64) for a in (k, v, w, u))
    aa, bb, pp = (a.astype(np.float64) for a in (aa, bb, pp))
    for _ in range(steps):
        ww = u + k
        p = np.maximum(pp, ww)
        e1, e2 = np.exp(pp - p), np.exp(ww - p)
        y = (e1 * aa + e2 * v) / (e1 * bb + e2)
        y_scale = (e1 * np.abs(aa) + e2 * np.abs(v)) / (e1 * bb + e2)
        ww = w + pp
        p = np.maximum(ww, k)
        e1, e2 = np.exp(ww - p), np.exp(k - p)
        aa_scale = e1 * np.abs(aa) + e2 * np.abs(v)
        aa, bb, pp = e1 * aa + e2 * v, e1 * bb + e2, p
    # The scale each value's rounding is relative to: the magnitudes of the
    # terms it sums (y and aa mix signs; bb and pp do not).
    return (y, aa, bb, pp), (y_scale, aa_scale, np.abs(bb), np.abs(pp))


ATT_H, ATT_D, ATT_T, ATT_G = 8, 64, 512, 32


def kivi_quantize(x, bits, axis):
    """KIVI's asymmetric grid over groups of ATT_G along `axis` (1: tokens,
    keys per channel; 2: channels, values per token) of x [H, T, D]: the
    codes, scales and minima (float32, as the cache stores them)."""
    h, t, d = x.shape
    if axis == 1:
        g = x.reshape(h, t // ATT_G, ATT_G, d)
        mn, mx = g.min(axis=2), g.max(axis=2)            # [H, T/G, D]
        rep = lambda a: np.repeat(a, ATT_G, axis=1)      # noqa: E731
    else:
        g = x.reshape(h, t, d // ATT_G, ATT_G)
        mn, mx = g.min(axis=3), g.max(axis=3)            # [H, T, D/G]
        rep = lambda a: np.repeat(a, ATT_G, axis=2)      # noqa: E731
    top = (1 << bits) - 1
    scale = ((mx - mn) / top).astype(np.float32)
    scale[scale == 0] = 1
    mn = mn.astype(np.float32)
    codes = np.clip(np.rint((x - rep(mn)) / rep(scale)), 0, top).astype(
        np.uint32)
    return codes, scale, mn


def kivi_pack(codes, bits):
    """Codes [H, T, D] into 32-bit words, channel d at bits
    bits * (d % (32 / bits)) of word d / (32 / bits)."""
    per = 32 // bits
    h, t, d = codes.shape
    c = codes.reshape(h, t, d // per, per)
    words = np.zeros((h, t, d // per), np.uint32)
    for k in range(per):
        words |= c[..., k] << np.uint32(bits * k)
    return words


def attend_inputs(bits, rng):
    h, t, d = ATT_H, ATT_T, ATT_D
    q = (rng.standard_normal((h, d)) * 2).astype(np.float32)
    k = rng.standard_normal((h, t, d))
    k[:, :, :4] *= 8  # outlier channels, the reason keys group per channel
    v = rng.standard_normal((h, t, d))
    kc, ks, km = kivi_quantize(k, bits, 1)
    vc, vs, vm = kivi_quantize(v, bits, 2)
    return [q, kivi_pack(kc, bits), ks, km, kivi_pack(vc, bits), vs, vm]


def attend(bits, q, kw, ks, km, vw, vs, vm):
    per = 32 // bits
    unpack = lambda w: np.stack(                          # noqa: E731
        [(w >> np.uint32(bits * k)) & np.uint32((1 << bits) - 1)
         for k in range(per)], axis=-1).reshape(w.shape[0], w.shape[1], -1)
    f = lambda a: a.astype(np.float64)                    # noqa: E731
    key = (f(unpack(kw)) * np.repeat(f(ks), ATT_G, axis=1)
           + np.repeat(f(km), ATT_G, axis=1))
    value = (f(unpack(vw)) * np.repeat(f(vs), ATT_G, axis=2)
             + np.repeat(f(vm), ATT_G, axis=2))
    scores = np.einsum("hd,htd->ht", f(q), key) / np.sqrt(ATT_D)
    p = np.exp(scores - scores.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    out = np.einsum("ht,htd->hd", p, value)
    # The scale of each output's rounding: the magnitudes it sums, and the
    # scores' (an error in a score moves its weight by as much, relatively).
    mag = np.einsum("ht,htd->hd", p, np.abs(value))
    smag = np.einsum("hd,htd->ht", np.abs(f(q)), np.abs(key)).max(
        axis=1, keepdims=True) / np.sqrt(ATT_D)          # per head
    return out, mag * (1 + smag)


def wkv56(r, k, v, w, u, s, steps):
    r, k, v, w, u, s = (z.astype(np.float64) for z in (r, k, v, w, u, s))
    scale = np.abs(s)
    for _ in range(steps):
        kv = k[:, :, None] * v[:, None, :]
        y = np.einsum("hi,hij->hj", r, u[:, :, None] * kv + s)
        y_scale = np.einsum("hi,hij->hj", np.abs(r),
                            np.abs(u[:, :, None] * kv) + scale)
        s = w[:, :, None] * s + kv
        scale = np.abs(w)[:, :, None] * scale + np.abs(kv)
    return (y, s), (y_scale, scale)


def wkv7(r, w, k, v, a, b, s, steps):
    r, w, k, v, a, b, s = (z.astype(np.float64) for z in (r, w, k, v, a, b, s))
    scale = np.abs(s)
    for _ in range(steps):
        sa = np.einsum("hvk,hk->hv", s, a)
        sa_scale = np.einsum("hvk,hk->hv", scale, np.abs(a))
        s = (s * w[:, None, :] + sa[:, :, None] * b[:, None, :]
             + v[:, :, None] * k[:, None, :])
        scale = (scale * w[:, None, :] + sa_scale[:, :, None] * np.abs(b)[:, None, :]
                 + np.abs(v[:, :, None] * k[:, None, :]))
        y = np.einsum("hvk,hk->hv", s, r)
        y_scale = np.einsum("hvk,hk->hv", scale, np.abs(r))
    return (y, s), (y_scale, scale)


def main(argv):
    args = [a for a in argv if not a.startswith("--")]
    tool, artifact, kernel, work = args[:4]
    steps = 1
    if "--steps" in argv:
        steps = int(argv[argv.index("--steps") + 1])
    os.makedirs(work, exist_ok=True)
    rng = np.random.default_rng(20261204)
    if kernel.startswith("matvec_"):
        kind = kernel.split("_")[1]
        inputs, scale = matvec_inputs(kind, rng)
        outputs = {len(inputs): ROWS}
    elif kernel.startswith("matmul_"):
        kind = kernel.split("_")[1]
        x = rng.standard_normal((TOKENS, COLS)).astype(np.float32)
        if kernel.endswith("_mma"):
            # The kernel rounds X to f16 on load: give it values that are
            # exact in f16, so the reference is exact too.
            x = x.astype(np.float16).astype(np.float32)
        if kind == "i8":
            w = rng.integers(-127, 128, (COLS, COLS)).astype(np.int8)
            scale = (rng.random(COLS) * 0.02 + 0.001).astype(np.float32)
            inputs = [x, w, scale]
        else:
            w = rng.standard_normal((COLS, COLS)).astype(
                np.float16 if kind == "f16" else np.float32)
            scale = None
            inputs = [x, w]
        outputs = {len(inputs): TOKENS * COLS}
    elif kernel == "wkv4_step":
        c = CHANNELS
        k = rng.standard_normal(c).astype(np.float32)
        v = rng.standard_normal(c).astype(np.float32)
        w = -np.exp(rng.standard_normal(c) * 0.5).astype(np.float32)
        u = (rng.standard_normal(c) * 0.5).astype(np.float32)
        aa = rng.standard_normal(c).astype(np.float32)
        bb = (np.abs(rng.standard_normal(c)) + 0.1).astype(np.float32)
        pp = rng.standard_normal(c).astype(np.float32)
        inputs = [k, v, w, u, aa, bb, pp]
        outputs = {4: c, 5: c, 6: c, 7: c}
    elif kernel.startswith("attend_kivi"):
        bits = int(kernel[len("attend_kivi"):])
        inputs = attend_inputs(bits, rng)
        outputs = {7: ATT_H * ATT_D}
    elif kernel == "wkv56_step":
        h, n = HEADS, HEAD_SIZE
        # As the models make them: RWKV-6's decay exp(-exp(x)) of a
        # data-dependent x (RWKV-5.2's is the same of a constant), the
        # bonus u (time_faaaa) of either sign.
        r, k, v = (rng.standard_normal((h, n)).astype(np.float32)
                   for _ in range(3))
        w = np.exp(-np.exp(rng.standard_normal((h, n)) - 1.0)).astype(
            np.float32)
        u = (rng.standard_normal((h, n)) * 0.5).astype(np.float32)
        s = (rng.standard_normal((h, n, n)) * 0.5).astype(np.float32)
        inputs = [r, k, v, w, u, s]
        outputs = {5: h * n * n, 6: h * n}
    elif kernel == "wkv7_step":
        h, n = HEADS, HEAD_SIZE
        # As the model makes them: decay exp(-exp(-softplus(-x) - 0.5)),
        # kk a unit vector per head, the learning rate a sigmoid.
        x = rng.standard_normal((h, n))
        w = np.exp(-np.exp(-np.logaddexp(0.0, -x) - 0.5)).astype(np.float32)
        r, k, v = (rng.standard_normal((h, n)).astype(np.float32)
                   for _ in range(3))
        kk = rng.standard_normal((h, n))
        kk /= np.linalg.norm(kk, axis=1, keepdims=True)
        lr = 1.0 / (1.0 + np.exp(-rng.standard_normal((h, n))))
        a = (-kk).astype(np.float32)
        b = (kk * lr).astype(np.float32)
        s = (rng.standard_normal((h, n, n)) * 0.5).astype(np.float32)
        inputs = [r, w, k, v, a, b, s]
        outputs = {6: h * n * n, 7: h * n}
    else:
        sys.exit(f"vulkan_kernels_ref.py: unknown kernel {kernel}")

    cmd = [tool, artifact, kernel]
    for i, a in enumerate(inputs):
        path = os.path.join(work, f"{kernel}.in{i}.bin")
        a.tofile(path)
        cmd += ["--in", f"{i}={path}"]
    for i in outputs:
        cmd += ["--out", f"{i}={os.path.join(work, f'{kernel}.out{i}.bin')}"]
    if steps > 1:
        cmd += ["--repeat", str(steps)]
    if "--validate" in argv:
        cmd += ["--validate"]
    run = subprocess.run(cmd, capture_output=True, text=True)
    sys.stderr.write(run.stderr)
    if run.returncode != 0:
        print(f"{kernel}: {os.path.basename(tool)} failed ({run.returncode})")
        return 1
    got = {i: np.fromfile(os.path.join(work, f"{kernel}.out{i}.bin"),
                          np.float32) for i in outputs}
    for i, n in outputs.items():
        if got[i].size != n or not np.all(np.isfinite(got[i])):
            print(f"{kernel}: binding {i}: {got[i].size} values, "
                  f"expected {n} finite ones")
            return 1

    if kernel.startswith("matvec_"):
        ok, what = check_matvec(kind, inputs, scale, got[len(inputs)])
    elif kernel.startswith("attend_kivi"):
        ref, mag = attend(bits, *inputs)
        y = got[7].astype(np.float64).reshape(ref.shape)
        worst = float((np.abs(y - ref) / mag).max())
        ok, what = worst <= REL, f"max |out - ref| / scale = {worst:.3g}"
    elif kernel.startswith("matmul_"):
        x, w = (a.astype(np.float64) for a in inputs[:2])
        ref = x @ w.T
        bound = np.abs(x) @ np.abs(w).T
        if scale is not None:
            ref *= scale[None, :]
            bound *= scale[None, :]
        y = got[len(inputs)].astype(np.float64).reshape(ref.shape)
        worst = float((np.abs(y - ref) / bound).max())
        tol = 1e-4 if kernel.endswith("_mma") else REL
        ok, what = worst <= tol, f"max |y - ref| / sum|x w| = {worst:.3g}"
    else:
        if kernel == "wkv7_step":
            ref, scale = wkv7(*inputs, steps)
            written = (7, 6)
        elif kernel == "wkv56_step":
            ref, scale = wkv56(*inputs, steps)
            written = (6, 5)
        else:
            ref, scale = wkv4(*inputs, steps)
            written = (7, 4, 5, 6)
        worst = 0.0
        for r, sc, i in zip(ref, scale, written):
            r, sc = r.reshape(-1), sc.reshape(-1)
            err = np.abs(got[i].astype(np.float64) - r) / (sc + 1e-30)
            worst = max(worst, float(err.max()))
        ok, what = worst <= REL, f"max relative error {worst:.3g}"
    tol = 1e-4 if kernel.endswith("_mma") else REL
    print(f"{kernel}: {what} (tolerance {tol:g}): {'ok' if ok else 'MISMATCH'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
