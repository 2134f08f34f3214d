"""Held-out perplexity of an RWKV-4 model whose WKV state (aa, bb) is stored
quantized between tokens, against the float state, in one numpy run:

    python3 bench/rwkv_state_quant.py [--model models/rwkv4-tiny-shakespeare.pth]
        [--data ../shared/data/tinyshakespeare.txt] [--start-byte 1003855]
        [--bytes 20000] [-o bench/results/rwkv_state_quant.json]

The recurrence runs in the numerically stable form the compiled code uses
(aa, bb, pp with pp the running maximum exponent; seqc's WKV-4 lowering and
the official RWKV-4 RNN code), float64 arithmetic. After every token each
layer's aa and bb rows are replaced by what a quantized store would give
back: groups of 32 channels, symmetric (scale max|x| / (2^(b-1) - 1), codes
rounded half away from zero), optionally rotated first by the normalized
Hadamard matrix of order 32 (and rotated back after dequantizing). pp and the
token-shift rows stay float. Two forms of the state are compared: the
stable form (aa and bb both stored) and a mean form in which bb is folded
into pp after every update (aa <- aa / bb, pp <- pp + log bb, bb = 1, so aa
is a convex combination of past values and bb need not be stored). Every configuration runs as one column of a
batched forward over the same continuous byte stream from a fresh state (no
resets: the state carries the whole stream), so the figures are comparable
to the last digit. The gate the project set for a quantized state: within 1%
of the float state's perplexity over contexts of at least 4x the training
context (128 bytes here).
"""

import argparse
import json
import math
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "test" / "reference"))
from rwkv_ref import layer_norm, rwkv4_n_layer, sigmoid  # noqa: E402
from spikegpt_ref import load as load_checkpoint  # noqa: E402

GROUP = 32


def hadamard(n):
    h = np.array([[1.0]])
    while h.shape[0] < n:
        h = np.block([[h, h], [h, -h]])
    return h / math.sqrt(n)


def round_away(x):
    return np.sign(x) * np.floor(np.abs(x) + 0.5)


def store(x, bits, rotate):
    """x [C, B] as a quantized store gives it back (None bits: unchanged)."""
    if bits is None:
        return x
    C = x.shape[0]
    g = x.reshape(C // GROUP, GROUP, -1)
    H = hadamard(GROUP)
    if rotate:
        g = np.einsum("ij,gjb->gib", H, g)
    m = 2 ** (bits - 1) - 1
    s = np.abs(g).max(axis=1, keepdims=True) / m
    s = np.where(s > 0, s, 1.0)
    g = np.clip(round_away(g / s), -m, m) * s
    if rotate:
        g = np.einsum("ji,gjb->gib", H, g)
    return g.reshape(C, -1)


def run(weights, data, configs):
    p = {k: np.asarray(v, dtype=np.float64) for k, v in weights.items()}
    L, C = rwkv4_n_layer(p), p["emb.weight"].shape[1]
    B = len(configs)
    att_x = np.zeros((L, C, B))
    ffn_x = np.zeros((L, C, B))
    aa = np.zeros((L, C, B))
    bb = np.zeros((L, C, B))
    pp = np.full((L, C, B), -1e30)
    nll = np.zeros(B)
    col = lambda v: v.reshape(-1, 1)  # noqa: E731
    for t in range(len(data) - 1):
        x = np.repeat(col(layer_norm(p["emb.weight"][data[t]], p["blocks.0.ln0.weight"],
                                     p["blocks.0.ln0.bias"])), B, axis=1)
        for i in range(L):
            b = f"blocks.{i}."
            xx = layer_norm(x.T, p[b + "ln1.weight"], p[b + "ln1.bias"]).T
            mk, mv, mr = (col(p[b + "att.time_mix_" + m].reshape(-1)) for m in "kvr")
            xk = xx * mk + att_x[i] * (1 - mk)
            xv = xx * mv + att_x[i] * (1 - mv)
            xr = xx * mr + att_x[i] * (1 - mr)
            att_x[i] = xx
            r = sigmoid(p[b + "att.receptance.weight"] @ xr)
            k = p[b + "att.key.weight"] @ xk
            v = p[b + "att.value.weight"] @ xv
            w = col(-np.exp(p[b + "att.time_decay"]))
            u = col(p[b + "att.time_first"])
            ww = u + k
            q = np.maximum(pp[i], ww)
            e1, e2 = np.exp(pp[i] - q), np.exp(ww - q)
            y = (e1 * aa[i] + e2 * v) / (e1 * bb[i] + e2)
            ww = pp[i] + w
            q = np.maximum(ww, k)
            e1, e2 = np.exp(ww - q), np.exp(k - q)
            new_aa, new_bb = e1 * aa[i] + e2 * v, e1 * bb[i] + e2
            new_pp = q
            for j, (form, bits, rotate) in enumerate(configs):
                if form == "mean":
                    # bb folded into pp: aa holds A / B, a convex combination
                    # of past values, and bb is 1 (not stored).
                    a_j, b_j = new_aa[:, j], new_bb[:, j]
                    aa[i][:, j] = store((a_j / b_j)[:, None], bits, rotate)[:, 0]
                    bb[i][:, j] = 1.0
                    pp[i][:, j] = new_pp[:, j] + np.log(b_j)
                else:
                    aa[i][:, j] = store(new_aa[:, j:j + 1], bits, rotate)[:, 0]
                    bb[i][:, j] = store(new_bb[:, j:j + 1], bits, rotate)[:, 0]
                    pp[i][:, j] = new_pp[:, j]
            x = x + p[b + "att.output.weight"] @ (r * y)
            xx = layer_norm(x.T, p[b + "ln2.weight"], p[b + "ln2.bias"]).T
            mk, mr = (col(p[b + "ffn.time_mix_" + m].reshape(-1)) for m in "kr")
            xk = xx * mk + ffn_x[i] * (1 - mk)
            xr = xx * mr + ffn_x[i] * (1 - mr)
            ffn_x[i] = xx
            r = sigmoid(p[b + "ffn.receptance.weight"] @ xr)
            kk = np.maximum(p[b + "ffn.key.weight"] @ xk, 0.0) ** 2
            x = x + r * (p[b + "ffn.value.weight"] @ kk)
        x = layer_norm(x.T, p["ln_out.weight"], p["ln_out.bias"]).T
        logits = p["head.weight"] @ x  # [V, B]
        mx = logits.max(axis=0)
        lse = mx + np.log(np.exp(logits - mx).sum(axis=0))
        nll += lse - logits[data[t + 1]]
    return nll / (len(data) - 1)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default=str(ROOT / "models" / "rwkv4-tiny-shakespeare.pth"))
    ap.add_argument("--data", default=str(ROOT.parent / "shared" / "data" / "tinyshakespeare.txt"))
    ap.add_argument("--start-byte", type=int, default=1003855)
    ap.add_argument("--bytes", type=int, default=20000)
    ap.add_argument("-o", "--output")
    a = ap.parse_args()
    weights = load_checkpoint(a.model)
    data = np.frombuffer(Path(a.data).read_bytes(), dtype=np.uint8)[
        a.start_byte:a.start_byte + a.bytes].astype(np.int64)
    configs = [("stable", None, False)]
    for form in ("stable", "mean"):
        for bits in (8, 6, 4):
            for rotate in (False, True):
                configs.append((form, bits, rotate))
    t0 = time.time()
    nll = run(weights, data, configs)
    C = np.asarray(weights["emb.weight"]).shape[1]
    L = rwkv4_n_layer(weights)
    rows = []
    for (form, bits, rotate), n in zip(configs, nll):
        # aa (and bb in the stable form) per layer: codes plus one f32 scale
        # per group; pp and the two token-shift rows stay f32.
        rows_q = 1 if form == "mean" else 2
        aabb = rows_q * L * (C * 4 if bits is None else C * bits / 8 + C // GROUP * 4)
        other = 3 * L * C * 4
        name = "f32" if bits is None else f"{form} int{bits}" + ("+hadamard" if rotate else "")
        rows.append({"state": name,
                     "nll": float(n), "ppl": float(math.exp(n)),
                     "ppl_vs_f32": float(math.exp(n - nll[0])),
                     "quantized_row_bytes": aabb, "state_bytes": aabb + other})
    out = {"model": a.model, "data": a.data, "start_byte": a.start_byte,
           "scored_bytes": int(len(data) - 1), "group": GROUP,
           "seconds": round(time.time() - t0, 1), "rows": rows}
    text = json.dumps(out, indent=1)
    print(text)
    if a.output:
        Path(a.output).write_text(text + "\n")


if __name__ == "__main__":
    main()
