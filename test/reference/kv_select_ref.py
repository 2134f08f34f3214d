"""Independent numpy reference of prefill-time KV selection: DynamicKV and FastKV.

    kv_select_ref.py check
        runs the self-checks of both methods (docs/design.md, "Prefill-time
        KV selection"); prints one line per check and exits 1 on a failure.
    kv_select_ref.py lengths --layers L --heads H --prompt N --capacity M
                     [--window WS] [--ratio-max R] [--seed S]
        the per-layer cache lengths DynamicKV leaves after a prefill of N
        tokens, on random window scores (the allocator alone).
    kv_select_ref.py table MODEL_DIR FILE --start-byte B --prompt N
                     --continue T --windows K [--capacity M ...]
        next-byte NLL over T bytes after a prompt of N bytes, K windows of
        FILE from byte B, for the full cache, DynamicKV and FastKV at each
        capacity M (JSON on stdout).

Both methods choose, at the end of the prompt's prefill, which keys and values
each layer keeps; decode then appends to those caches without evicting. Both
score a token by the SnapKV observation window: the softmax attention of the
last `ws` queries (causal among themselves) over the whole prompt, summed over
those `ws` rows, for the tokens before the window, then pooled along the
sequence (kernel 7, stride 1, zero padding of 3 for the average, as
torch.nn.functional.avg_pool1d counts padding; -inf padding for the maximum).
Top-k order is by descending score, equal scores by ascending position.

DynamicKV (arXiv 2412.14838, `DynamicKVClusterV11`): per query head (keys
and values repeated to the query heads first), capacity M is the mean cache
length per layer, base = M - ws, b_max = min(int(r_max * base), n - ws).
Every layer first keeps its b_max best tokens plus the window. After every
layer l with l % 4 == 3 (j = l + 1 layers so far) the budgets of layers
0..l are re-derived from the stacked pooled scores S [j, H, n - ws]:
c_i = #(top base*H*j entries of S falling in layer i) // j; at the last
layer of the model, when sum(c) differs from H * (n - ws), the last layer's
c gets base*H - sum(c) added; rho_i = c_i / sum(c) (float32, as the torch
tensor division gives); b'_i = int(float32(b_max * rho_i)); sigma =
sum(b') / (base * L); b_i = int(b'_i // sigma); the last of layers 0..l gets
base*L - sum(b); b_i = min(b_i, n - ws); layer i keeps its first b_i rows
and then its last ws rows. A layer's rows are [selected by score..., window],
so a b_i larger than what a layer already holds takes window rows twice (as
the official code's slice does); the reference keeps that and reports it.
The attention of the prefill itself always uses every token.

FastKV (arXiv 2502.01068, `FastKVCluster.update_kv`): per KV head, the pooled
scores of the query heads of a group summed; layer l with n_l tokens keeps
M_l - ws best tokens plus the window when n_l >= M_l (otherwise all), with
M_l = M (constant) or int(n_l * rr) (proportional; rr = retain_rate, and
retain_rate / tsp_rate after the TSP layer). After the TSP layer (when
n > T, T = tsp_len or int(n * tsp_rate)) only the T - ws tokens of highest
total score (summed over KV heads) and the window go on, at their original
positions (RoPE from them); later layers attend causally among those.

The model is llama_ref.py's LLaMA (float64, keys after RoPE). Scores are
computed in float64 (the official code: float32 softmax, then the model's
dtype), so near-ties may order differently from a bf16 run.
"""

import argparse
import json
import math
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from llama_ref import load, random_model, rms_norm, rope, set_dims  # noqa: E402

# --- Scores -----------------------------------------------------------------


def pool1d(s, kernel, pool):
    """s [H, m] pooled along m, stride 1, padding kernel // 2."""
    pad = kernel // 2
    H, m = s.shape
    if pool == "avg":
        p = np.concatenate([np.zeros((H, pad)), s, np.zeros((H, pad))], axis=1)
        return np.stack([p[:, i:i + kernel].sum(axis=1) for i in range(m)], axis=1) / kernel
    if pool == "max":
        p = np.concatenate([np.full((H, pad), -np.inf), s, np.full((H, pad), -np.inf)], axis=1)
        return np.stack([p[:, i:i + kernel].max(axis=1) for i in range(m)], axis=1)
    raise ValueError("pool must be avg or max")


def window_scores(q, k, ws, kernel=7, pool="avg"):
    """q [n, Hq, D], k [n, Hk, D] (after RoPE) -> pooled scores [Hq, n - ws]."""
    n, Hq, D = q.shape
    rep = Hq // k.shape[1]
    kk = np.repeat(k, rep, axis=1)  # [n, Hq, D]
    logits = np.einsum("whd,nhd->hwn", q[n - ws:], kk) / math.sqrt(D)  # [Hq, ws, n]
    # causal inside the window: window row i sees positions <= n - ws + i
    mask = np.arange(n)[None, :] > (n - ws + np.arange(ws))[:, None]
    logits = np.where(mask[None], -np.inf, logits)
    a = np.exp(logits - logits.max(axis=-1, keepdims=True))
    a /= a.sum(axis=-1, keepdims=True)
    return pool1d(a[:, :, :n - ws].sum(axis=1), kernel, pool)


def window_scores_direct(q, k, ws, kernel, pool):
    """The same by explicit loops (check (a))."""
    n, Hq, D = q.shape
    G = Hq // k.shape[1]
    raw = np.zeros((Hq, n - ws))
    for h in range(Hq):
        for i in range(n - ws, n):
            s = [float(q[i, h] @ k[j, h // G]) / math.sqrt(D) for j in range(i + 1)]
            mx = max(s)
            e = [math.exp(x - mx) for x in s]
            tot = sum(e)
            for j in range(n - ws):
                raw[h, j] += e[j] / tot
    out = np.zeros_like(raw)
    for h in range(Hq):
        for j in range(n - ws):
            lo, hi = max(0, j - kernel // 2), min(n - ws, j + kernel // 2 + 1)
            if pool == "avg":
                out[h, j] = raw[h, lo:hi].sum() / kernel
            else:
                out[h, j] = raw[h, lo:hi].max()
    return out


def topk(s, k):
    """Indices of the k largest entries of each row, by descending score,
    equal scores by ascending index."""
    return np.argsort(-s, axis=-1, kind="stable")[..., :k]


# --- DynamicKV's allocator ---------------------------------------------------


class DynamicKV:
    """Per-layer rows (token positions) of every query head, as DynamicKV
    leaves them; `scores` are the pooled window scores [H, n - ws] of each
    layer, fed in layer order."""

    def __init__(self, layers, capacity, ws=8, ratio_max=10.0, kernel=7, pool="avg",
                 repair=False):
        self.L, self.ws, self.kernel, self.pool = layers, ws, kernel, pool
        # repair: a re-normalization never gives a layer more rows than it
        # holds (seqc's seq.kv_budgets), instead of slicing into the window.
        self.repair = repair
        self.base = capacity - ws
        self.ratio_max = ratio_max
        if self.base <= 0:
            raise ValueError("capacity must exceed the window")
        self.rows, self.scores, self.b_max = [], [], None
        self.duplicated = 0  # window rows taken twice by a re-normalization

    def add_layer(self, s, n):
        """s [H, n - ws] (None when n < ws: the layer keeps everything)."""
        l = len(self.rows)
        H = s.shape[0] if s is not None else None
        if s is None:
            self.rows.append(None)
            self.scores.append(None)
        else:
            if self.b_max is None:
                self.b_max = min(int(self.ratio_max * self.base), n - self.ws)
            idx = topk(s, self.b_max)  # [H, b_max]
            window = np.broadcast_to(np.arange(n - self.ws, n), (H, self.ws))
            self.rows.append(np.concatenate([idx, window], axis=1))
            self.scores.append(s)
        if l % 4 == 3 and all(r is not None for r in self.rows):
            self.renormalize(l, n)

    def renormalize(self, l, n):
        j = l + 1
        S = np.stack(self.scores)  # [j, H, n - ws]
        H, m = S.shape[1], S.shape[2]
        flat = S.reshape(-1)
        tk = min(self.base * H * j, flat.size)
        layer_of = topk(flat[None], tk)[0] // (H * m)
        c = np.bincount(layer_of, minlength=j) // j
        if c.sum() != H * m and l == self.L - 1:
            c[-1] += self.base * H * j // self.L - c.sum()
        rho = (c.astype(np.float32) / np.float32(c.sum())).astype(np.float32)
        fix = [int(np.float32(self.b_max) * r) for r in rho]
        need = self.base * self.L
        sigma = sum(fix) / need
        if sigma == 0:
            raise ValueError("DynamicKV: every budget rounds to zero")
        fix = [int(f // sigma) for f in fix]
        fix[-1] += need - sum(fix)
        for i in range(j):
            b = min(fix[i], m)
            r = self.rows[i]
            held = r.shape[1] - self.ws
            if self.repair:
                b = min(b, held)
            if b > held:  # r[:, :b] reaches into the window rows
                self.duplicated += (min(b, r.shape[1]) - held) * r.shape[0]
            self.rows[i] = np.concatenate([r[:, :b], r[:, r.shape[1] - self.ws:]], axis=1)

    def lengths(self):
        return [None if r is None else int(r.shape[1]) for r in self.rows]


# --- LLaMA prefill with selection ---------------------------------------------


class Model:
    def __init__(self, model_dir):
        self.cfg, self.w = load(model_dir)
        set_dims(self, self.cfg)

    def qkv(self, l, X, pos):
        w, p, D = self.w, f"model.layers.{l}.", self.D
        h = np.stack([rms_norm(x, w[p + "input_layernorm.weight"], self.eps) for x in X])
        n = X.shape[0]
        q = (h @ w[p + "self_attn.q_proj.weight"].T).reshape(n, self.Hq, D)
        k = (h @ w[p + "self_attn.k_proj.weight"].T).reshape(n, self.Hk, D)
        v = (h @ w[p + "self_attn.v_proj.weight"].T).reshape(n, self.Hk, D)
        return rope(q, pos, self.theta), rope(k, pos, self.theta), v

    def finish(self, l, X, o):
        """Residual, MLP; o [n, Hq * D]."""
        w, p = self.w, f"model.layers.{l}."
        X = X + o @ w[p + "self_attn.o_proj.weight"].T
        h = np.stack([rms_norm(x, w[p + "post_attention_layernorm.weight"], self.eps)
                      for x in X])
        g = h @ w[p + "mlp.gate_proj.weight"].T
        u = h @ w[p + "mlp.up_proj.weight"].T
        return X + (g / (1 + np.exp(-g)) * u) @ w[p + "mlp.down_proj.weight"].T

    def attend_prefill(self, q, k, v, visible=None):
        """Causal attention of n queries over n keys (positions in order);
        `visible` [n] masks keys out for every query (check (d))."""
        n, G = q.shape[0], self.Hq // self.Hk
        out = np.empty((n, self.Hq, self.D))
        causal = np.tril(np.ones((n, n), dtype=bool))
        if visible is not None:
            causal &= visible[None, :] | np.eye(n, dtype=bool)
        for h in range(self.Hq):
            s = q[:, h] @ k[:, h // G].T / math.sqrt(self.D)
            s = np.where(causal, s, -np.inf)
            a = np.exp(s - s.max(axis=1, keepdims=True))
            a /= a.sum(axis=1, keepdims=True)
            out[:, h] = a @ v[:, h // G]
        return out.reshape(n, -1)

    def logits(self, x):
        return self.w["lm_head.weight"] @ rms_norm(x, self.w["model.norm.weight"], self.eps)

    def embed(self, tokens):
        return self.w["model.embed_tokens.weight"][np.asarray(tokens)].copy()

    # Prefill: returns the last position's logits and one cache per layer:
    # (heads, rows per head [H, m] of positions, K [H, m, D], V [H, m, D]).
    def prefill(self, tokens, method=None, **opts):
        X, pos = self.embed(tokens), np.arange(len(tokens))
        caches, keys, vals = [], [], []
        dyn = None
        if method == "dynamickv":
            dyn = DynamicKV(self.L, opts["capacity"], opts.get("ws", 8),
                            opts.get("ratio_max", 10.0), opts.get("kernel", 7),
                            opts.get("pool", "avg"), opts.get("repair", False))
        self.tsp = None
        for l in range(self.L):
            q, k, v = self.qkv(l, X, pos)
            n = X.shape[0]
            if method == "dynamickv":
                ws = dyn.ws
                dyn.add_layer(window_scores(q, k, ws, dyn.kernel, dyn.pool) if n >= ws else None, n)
                G = self.Hq // self.Hk
                keys.append((pos, np.repeat(k, G, axis=1), np.repeat(v, G, axis=1)))
            elif method == "fastkv":
                cache, sel = self.fastkv_layer(l, q, k, v, pos, **opts)
                caches.append(cache)
            else:
                m = np.broadcast_to(np.arange(n), (self.Hk, n))
                caches.append((self.Hk, pos[m], k.transpose(1, 0, 2), v.transpose(1, 0, 2)))
            X = self.finish(l, X, self.attend_prefill(q, k, v))
            if method == "fastkv" and sel is not None:
                self.tsp = pos[sel]
                X, pos = X[sel], pos[sel]
        if method == "dynamickv":
            self.dyn = dyn
            for (p, K, V), rows in zip(keys, dyn.rows):
                if rows is None:
                    rows = np.broadcast_to(np.arange(len(p)), (self.Hq, len(p)))
                H = rows.shape[0]
                caches.append((H, p[rows], np.stack([K[rows[h], h] for h in range(H)]),
                               np.stack([V[rows[h], h] for h in range(H)])))
        self.caches, self.pos = caches, len(tokens)
        return self.logits(X[-1])

    def fastkv_layer(self, l, q, k, v, pos, capacity=None, retain_rate=None, tsp_layer=-1,
                     tsp_len=None, tsp_rate=None, ws=8, kernel=7, pool="max"):
        n, G = q.shape[0], self.Hq // self.Hk
        rr = retain_rate
        if rr is not None and tsp_rate is not None and l > tsp_layer:
            rr = retain_rate / tsp_rate
        M = capacity if rr is None else int(n * rr)
        kt, vt = k.transpose(1, 0, 2), v.transpose(1, 0, 2)
        if n < M:
            m = np.broadcast_to(np.arange(n), (self.Hk, n))
            return (self.Hk, pos[m], kt, vt), None
        s = window_scores(q, k, ws, kernel, pool)  # [Hq, n - ws]
        s_kv = s.reshape(self.Hk, G, n - ws).sum(axis=1)
        idx = topk(s_kv, M - ws)
        rows = np.concatenate([idx, np.broadcast_to(np.arange(n - ws, n), (self.Hk, ws))], axis=1)
        cache = (self.Hk, pos[rows], np.stack([kt[h, rows[h]] for h in range(self.Hk)]),
                 np.stack([vt[h, rows[h]] for h in range(self.Hk)]))
        sel = None
        if l == tsp_layer:
            T = tsp_len if tsp_rate is None else int(n * tsp_rate)
            if n > T:
                tok = s_kv.sum(axis=0)
                sel = np.sort(np.concatenate([topk(tok[None], T - ws)[0],
                                              np.arange(n - ws, n)]))
        self.s_kv = getattr(self, "s_kv", {})
        self.s_kv[l] = (s, s_kv)
        return cache, sel

    def decode(self, token):
        """One token appended to every layer's cache (no eviction)."""
        x, p = self.embed([token])[0], self.pos
        for l in range(self.L):
            q, k, v = self.qkv(l, x[None], np.array([p]))
            H, rows, K, V = self.caches[l]
            rep = H // self.Hk
            K = np.concatenate([K, np.repeat(k[0], rep, axis=0)[:, None]], axis=1)
            V = np.concatenate([V, np.repeat(v[0], rep, axis=0)[:, None]], axis=1)
            rows = np.concatenate([rows, np.full((H, 1), p)], axis=1)
            self.caches[l] = (H, rows, K, V)
            o = np.empty((self.Hq, self.D))
            G = self.Hq // H
            for h in range(self.Hq):
                s = K[h // G] @ q[0, h] / math.sqrt(self.D)
                a = np.exp(s - s.max())
                o[h] = (a / a.sum()) @ V[h // G]
            x = self.finish(l, x[None], o.reshape(1, -1))[0]
        self.pos += 1
        return self.logits(x)


# --- Checks -----------------------------------------------------------------


class Checks:
    def __init__(self):
        self.failed = 0

    def __call__(self, name, ok, detail=""):
        print(f"{'ok' if ok else 'FAIL'}: {name}{': ' + detail if detail else ''}")
        self.failed += 0 if ok else 1


def full_reference(model_dir, tokens, extra):
    """Logits of the uncompressed model: llama_ref.py's token-by-token
    Llama (an independent forward)."""
    from llama_ref import Llama
    m = Llama(model_dir, context=len(tokens) + len(extra) + 1)
    out = [m.step(t) for t in tokens]
    return out[-1], [m.step(t) for t in extra]


def masked_decode_reference(model, tokens, keep, extra):
    """Decode over a full uncompressed cache with, per layer and cache head,
    a weight per prefill position (0: not kept; 2: kept twice) — the
    compressed cache as multiplicities (checks (f))."""
    out = []
    X = model.embed(tokens)
    pos = np.arange(len(tokens))
    K_all, V_all = [], []
    for l in range(model.L):
        q, k, v = model.qkv(l, X, pos)
        K_all.append(k)
        V_all.append(v)
        X = model.finish(l, X, model.attend_prefill(q, k, v))
    n = len(tokens)
    for t in extra:
        x = model.embed([t])[0]
        for l in range(model.L):
            q, k, v = model.qkv(l, x[None], np.array([n]))
            K_all[l] = np.concatenate([K_all[l], k])
            V_all[l] = np.concatenate([V_all[l], v])
            H = keep[l].shape[0]
            G, rep = model.Hq // H, H // model.Hk
            o = np.empty((model.Hq, model.D))
            for h in range(model.Hq):
                ch = h // G
                wgt = np.concatenate([keep[l][ch], np.ones(n + 1 - len(tokens))])
                s = K_all[l][:, ch // rep] @ q[0, h] / math.sqrt(model.D)
                a = np.exp(s - s.max()) * wgt
                o[h] = (a / a.sum()) @ V_all[l][:, ch // rep]
            x = model.finish(l, x[None], o.reshape(1, -1))[0]
        n += 1
        out.append(model.logits(x))
    return out


def multiplicity(rows, n):
    return np.stack([np.bincount(r[r < n], minlength=n) for r in rows]).astype(np.float64)


def run_checks(tmp):
    ck = Checks()
    rng = np.random.default_rng(3)
    # (a) scores and top-k against explicit loops.
    n, Hq, Hk, D, ws = 40, 4, 2, 8, 8
    q, k = rng.standard_normal((n, Hq, D)), rng.standard_normal((n, Hk, D))
    for pool in ("avg", "max"):
        a, b = window_scores(q, k, ws, 7, pool), window_scores_direct(q, k, ws, 7, pool)
        ck(f"dynamickv (a) window scores ({pool}pool) equal explicit loops",
           np.allclose(a, b, rtol=1e-12, atol=1e-14), f"max diff {np.abs(a - b).max():.1e}")
    s = window_scores(q, k, ws)
    idx = topk(s, 10)
    order_ok = all(sorted(s[h], reverse=True)[:10] == list(s[h][idx[h]]) for h in range(Hq))
    ck("dynamickv (a) top-k holds the 10 highest scores in descending order", order_ok)

    # (c) the allocator on a case worked by hand: L=4, H=1, ws=2, capacity 6
    # (base 4), n = 12 (10 scored positions), ratio_max 10 -> b_max = 10.
    # Layer 0's scores dominate: the top base*H*j = 16 of the 40 entries are
    # 10 of layer 0, 4 of layer 1, 2 of layer 2, 0 of layer 3; c = [10, 4, 2,
    # 0] // 4 = [2, 1, 0, 0], sum 3 != 10 and l is the last layer: c[-1] +=
    # 4*4//4 - 3 = 1 -> [2, 1, 0, 1]; rho = [.5, .25, 0, .25]; b' = [5, 2, 0,
    # 2]; sigma = 9/16; b = [int(5 // .5625), int(2 // .5625), 0, 3] = [8, 3,
    # 0, 3], sum 14; the last gets 16 - 14 = 2 -> [8, 3, 0, 5]; lengths b+ws.
    dk = DynamicKV(4, 6, ws=2)
    S = [np.array([[10.0 + i for i in range(10)]]),
         np.array([[9.5, 9.4, 9.3, 9.2, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1]]),
         np.array([[9.1, 9.05, 0, 0, 0, 0, 0, 0, 0, 0]]),
         np.full((1, 10), -1.0)]
    for sc in S:
        dk.add_layer(sc, 12)
    ck("dynamickv (c) worked example: lengths [10, 5, 2, 7]", dk.lengths() == [10, 5, 2, 7],
       str(dk.lengths()))
    ck("dynamickv (c) worked example: layer 0 keeps its 8 best positions + window",
       list(dk.rows[0][0]) == [9, 8, 7, 6, 5, 4, 3, 2, 10, 11], str(list(dk.rows[0][0])))

    # (c) a second worked example, where a layer cut by the first
    # re-normalization is given more by the second: L=8, H=1, ws=2, base 4,
    # n = 22, b_max = 20. Layer 1 scores ~30, layer 2 ~20, layer 3 ~10,
    # layer 0 ~5, layers 4..7 ~0. After layer 3: the top 16 are all layer
    # 1's -> c = [0, 4, 0, 0] -> b' = [0, 20, 0, 0], sigma = 20/32 ->
    # [0, 32, 0, 0] capped at 20: layers 0, 2, 3 keep only the window.
    # After layer 7: the top 32 are layer 1's 20 and 12 of layer 2 -> c =
    # [0, 2, 1, 0, 0, 0, 0, 0] + 1 for the last -> rho [0, .5, .25, 0, 0, 0,
    # 0, .25] -> b' = [0, 10, 5, 0, 0, 0, 0, 5], sigma = 20/32 -> b = [0,
    # 16, 8, 0, 0, 0, 0, 8]. Layer 2 holds 2 rows (its window), so its
    # first 8 rows are those 2 and the window follows again: 4 rows, 2 of
    # them duplicates; lengths [2, 18, 4, 2, 2, 2, 2, 10] (sum 42 < 48).
    dk = DynamicKV(8, 6, ws=2)
    ramp = 0.01 * np.arange(20)[None]
    for base_score in (5, 30, 20, 10, 0, 0, 0, 0):
        dk.add_layer(base_score + ramp, 22)
    ck("dynamickv (c) worked example 2: lengths [2, 18, 4, 2, 2, 2, 2, 10], 2 rows twice",
       dk.lengths() == [2, 18, 4, 2, 2, 2, 2, 10] and dk.duplicated == 2,
       f"{dk.lengths()}, {dk.duplicated} twice")

    # (b) the final lengths sum to base*L + ws*L when the prompt is long.
    for seed in range(5):
        r = np.random.default_rng(seed)
        L, H, cap, nn = 8, 4, 24, 400
        dk = DynamicKV(L, cap, ws=8)
        for _ in range(L):
            dk.add_layer(r.random((H, nn - 8)) ** (1 + 3 * r.random()), nn)
        ck(f"dynamickv (b) seed {seed}: lengths sum to L*M = {L * cap}",
           sum(dk.lengths()) == L * cap, str(dk.lengths()))

    # A model for the end-to-end checks.
    model_dir = Path(tmp) / "m"
    random_model(model_dir, seed=11, layers=4, embd=64, heads=4, kv_heads=2, ffn=96,
                 vocab=128, context=128)
    model = Model(model_dir)
    toks = list(np.random.default_rng(5).integers(0, 128, 60))
    extra = [7, 99, 3, 42]
    ref_last, ref_dec = full_reference(model_dir, toks, extra)

    # The plain prefill equals llama_ref.py's token-by-token model.
    last = model.prefill(toks)
    dec = [model.decode(t) for t in extra]
    err = max(np.abs(last - ref_last).max(), max(np.abs(a - b).max() for a, b in zip(dec, ref_dec)))
    # (llama_ref.py's cache stores keys and values as float32, this one
    # float64: differences of order 1e-8.)
    ck("prefill + decode equal llama_ref.py's token-by-token model", err < 1e-6, f"{err:.1e}")

    # (d) a prompt no longer than base + ws: every token kept.
    model.prefill(toks[:20], "dynamickv", capacity=40, ws=8)
    kept = all(sorted(set(r.tolist())) == list(range(20)) for _, rows, _, _ in model.caches
               for r in rows)
    ck("dynamickv (d) n - ws <= base keeps every token", kept)

    # (e) cache contents: per head, the set of kept positions is the b best
    # by score plus the window, and the rows hold those positions' keys.
    last = model.prefill(toks, "dynamickv", capacity=20, ws=8, ratio_max=3)
    lens = model.dyn.lengths()
    ok = True
    X, pos = model.embed(toks), np.arange(len(toks))
    for l in range(model.L):
        q, k, v = model.qkv(l, X, pos)
        s = window_scores(q, k, 8)
        H, rows, K, V = model.caches[l]
        window = set(range(len(toks) - 8, len(toks)))
        for h in range(H):
            # a layer given more than it holds takes window rows twice
            b = len(set(rows[h].tolist()) - window)
            want = set(np.argsort(-s[h], kind="stable")[:b].tolist()) | window
            ok &= set(rows[h].tolist()) == want
            ok &= np.allclose(K[h], np.repeat(k, model.Hq // model.Hk, axis=1)[rows[h], h])
        X = model.finish(l, X, model.attend_prefill(q, k, v))
    ck("dynamickv (e) kept positions are each head's best plus the window, rows hold their keys",
       ok, f"lengths {lens}, base*L + ws*L = {12 * 4 + 8 * 4}")
    ck("dynamickv (b) embedded-size prefill: lengths sum to L*M", sum(lens) == 20 * model.L)
    ck("dynamickv: prefill logits equal the full model's (attention uses every token)",
       np.abs(last - ref_last).max() < 1e-6)

    # (f) decode over the compressed cache = attention over the full cache
    # weighted by how often each position is kept.
    keep = [multiplicity(rows, len(toks)) for _, rows, _, _ in model.caches]
    dec = [model.decode(t) for t in extra]
    ref = masked_decode_reference(model, toks, keep, extra)
    err = max(np.abs(a - b).max() for a, b in zip(dec, ref))
    ck("dynamickv (f) decode over the kept entries equals masked full attention", err < 1e-9,
       f"{err:.1e}; window rows taken twice: {model.dyn.duplicated}")

    # FastKV.
    # (a) retain_rate = tsp_rate = 1: the uncompressed model.
    last = model.prefill(toks, "fastkv", retain_rate=1.0, tsp_rate=1.0, tsp_layer=1)
    dec = [model.decode(t) for t in extra]
    err = max(np.abs(last - ref_last).max(), max(np.abs(a - b).max() for a, b in zip(dec, ref_dec)))
    ck("fastkv (a) retain_rate = tsp_rate = 1 equals the uncompressed model", err < 1e-6,
       f"{err:.1e}")

    opts = dict(capacity=24, tsp_layer=1, tsp_len=32, ws=8, pool="max")
    last = model.prefill(toks, "fastkv", **opts)
    # (b) the group sum: KV head h sums the query heads h*G .. h*G + G - 1.
    s, s_kv = model.s_kv[0]
    G = model.Hq // model.Hk
    ck("fastkv (b) GQA group sum follows view(B, Hkv, G, n)",
       all(np.allclose(s_kv[h], sum(s[h * G + g] for g in range(G))) for h in range(model.Hk)))
    # (c) TSP indices ascending, window included, T of them.
    sel = model.tsp
    n = len(toks)
    ck("fastkv (c) TSP indices ascending, T = 32 of them, the last ws included",
       len(sel) == 32 and np.all(np.diff(sel) > 0) and set(range(n - 8, n)) <= set(sel.tolist()))
    # (e) cache sizes: M per layer (M tokens: 24; after TSP the layers hold
    # 24 of the 32 propagated tokens).
    sizes = [rows.shape[1] for _, rows, _, _ in model.caches]
    ck("fastkv (e) cache sizes are M per layer", sizes == [24] * model.L, str(sizes))
    # (d) the layers after TSP on the gathered tokens equal a full-length
    # forward in which those layers see only the selected keys.
    X, pos = model.embed(toks), np.arange(n)
    visible = np.zeros(n, dtype=bool)
    visible[sel] = True
    for l in range(model.L):
        q, k, v = model.qkv(l, X, pos)
        X = model.finish(l, X, model.attend_prefill(q, k, v, visible if l > 1 else None))
    ck("fastkv (d) post-TSP layers on the subset equal masked full-length layers",
       np.abs(model.logits(X[-1]) - last).max() < 1e-9)
    # (f) decode over the compressed cache equals masked attention. The
    # layers after TSP computed their keys from the propagated tokens only,
    # so the check recomputes them as (d) does.
    dec = [model.decode(t) for t in extra]
    keep = [multiplicity(rows, n) for _, rows, _, _ in model.caches]
    X, pos = model.embed(toks), np.arange(n)
    Ks, Vs = [], []
    for l in range(model.L):
        q, k, v = model.qkv(l, X, pos)
        Ks.append(k)
        Vs.append(v)
        X = model.finish(l, X, model.attend_prefill(q, k, v, visible if l > 1 else None))
    ref = []
    for i, t in enumerate(extra):
        x = model.embed([t])[0]
        p = n + i
        for l in range(model.L):
            q, k, v = model.qkv(l, x[None], np.array([p]))
            Ks[l] = np.concatenate([Ks[l], k])
            Vs[l] = np.concatenate([Vs[l], v])
            wgt = np.concatenate([keep[l], np.ones((model.Hk, i + 1))], axis=1)
            o = np.empty((model.Hq, model.D))
            for h in range(model.Hq):
                sc = Ks[l][:, h // G] @ q[0, h] / math.sqrt(model.D)
                a = np.exp(sc - sc.max()) * wgt[h // G]
                o[h] = (a / a.sum()) @ Vs[l][:, h // G]
            x = model.finish(l, x[None], o.reshape(1, -1))[0]
        ref.append(model.logits(x))
    err = max(np.abs(a - b).max() for a, b in zip(dec, ref))
    ck("fastkv (f) decode over the kept entries equals masked full attention", err < 1e-9,
       f"{err:.1e}")
    return ck.failed


# --- Table --------------------------------------------------------------------


def nll_table(model_dir, path, start, prompt, cont, windows, capacities):
    model = Model(model_dir)
    data = np.frombuffer(Path(path).read_bytes(), dtype=np.uint8)[start:]
    span = prompt + cont
    methods = [("full", {})]
    for M in capacities:
        methods.append((f"dynamickv M={M}", dict(method="dynamickv", capacity=M)))
        methods.append((f"fastkv M={M}", dict(method="fastkv", capacity=M,
                                                tsp_layer=model.L // 2 - 1,
                                                tsp_len=max(M, prompt // 2))))
    rows = []
    for name, opts in methods:
        opts = dict(opts)
        method = opts.pop("method", None)
        nll, count, stored = 0.0, 0, 0
        for wi in range(windows):
            seg = data[wi * span:(wi + 1) * span].tolist()
            lg = model.prefill(seg[:prompt], method, **opts)
            stored += sum(rows.size for _, rows, _, _ in model.caches)
            for i in range(prompt, span):
                p = np.exp(lg - lg.max())
                nll -= math.log(p[seg[i]] / p.sum())
                count += 1
                if i + 1 < span:
                    lg = model.decode(seg[i])
        rows.append({"method": name, "nll": nll / count, "ppl": math.exp(nll / count),
                     "kv_rows_after_prefill": stored / windows})
    return rows


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("check")
    c.add_argument("--tmp", required=True, help="a folder for the random model")
    g = sub.add_parser("lengths")
    for name in ("layers", "heads", "prompt", "capacity"):
        g.add_argument("--" + name, type=int, required=True)
    g.add_argument("--window", type=int, default=8)
    g.add_argument("--ratio-max", type=float, default=10.0)
    g.add_argument("--seed", type=int, default=0)
    t = sub.add_parser("table")
    t.add_argument("dir")
    t.add_argument("file")
    t.add_argument("--start-byte", type=int, required=True)
    t.add_argument("--prompt", type=int, required=True)
    t.add_argument("--continue", dest="cont", type=int, required=True)
    t.add_argument("--windows", type=int, required=True)
    t.add_argument("--capacity", type=int, nargs="+", default=[32, 64])
    args = ap.parse_args()
    if args.cmd == "check":
        Path(args.tmp).mkdir(parents=True, exist_ok=True)
        failed = run_checks(args.tmp)
        print(f"{failed} failed")
        sys.exit(1 if failed else 0)
    if args.cmd == "lengths":
        r = np.random.default_rng(args.seed)
        dk = DynamicKV(args.layers, args.capacity, ws=args.window, ratio_max=args.ratio_max)
        m = args.prompt - args.window
        for _ in range(args.layers):
            dk.add_layer(r.random((args.heads, m)) ** (1 + 3 * r.random()), args.prompt)
        print(json.dumps({"lengths": dk.lengths(), "sum": sum(dk.lengths()),
                          "window_rows_taken_twice": dk.duplicated}))
        return
    print(json.dumps(nll_table(args.dir, args.file, args.start_byte, args.prompt, args.cont,
                               args.windows, args.capacity), indent=1))


if __name__ == "__main__":
    main()
