"""Independent numpy reference of LLaMA inference over a (compressed) KV cache.

    llama_ref.py random DIR [--seed S] [--layers L] [--embd C] [--heads H]
                 [--kv-heads K] [--ffn F] [--vocab V] [--context N] [--tied]
        writes a random LlamaForCausalLM model directory (config.json and
        model.safetensors with the Hugging Face names).
    llama_ref.py logits DIR --tokens 1,2,3 -o OUT.f32 [--int8 BLOCK] [--kv-bits B ...]
        writes the logits of every token ([T, V] float32, raw).
    llama_ref.py ppl DIR FILE --window N [--kv-bits B ...]
        perplexity per byte of FILE's bytes in windows of N (each from an
        empty cache; the first byte of a window is not scored).

The model (Hugging Face LlamaForCausalLM): RMSNorm, rotary embedding with
rotate-half pairing, grouped-query attention, SwiGLU MLP, computed in
float64. Keys and values enter the cache as float32 (the cache's storage
type), and the cache follows seqc's documented semantics (dialect docs of
!seq.kv_cache and #seq.quant, design notes): the first `sinks` tokens and
a ring of the most recent tokens stay at full precision; whenever the ring
holds window + chunk tokens, its oldest `chunk` tokens are quantized
(chunk = the token-axis group size, 1 for per-token grouping). Quantization
is group-wise in float32 exactly as the encoding defines it: asymmetric
s = (max - min) / (2^b - 1), q = clamp(round((x - min) / s), 0, 2^b - 1);
symmetric s = max|x| / (2^(b-1) - 1), q = clamp(round(x / s), -M, M) with
M = 2^(b-1) - 1, code q + 2^(b-1), minimum -2^(b-1) s; a zero range gets
s = 1; rounding is to nearest, ties away from zero; dequantized q s + m.
Keys are grouped per channel (groups of tokens, KIVI) unless
--kv-per-token-keys, values per token (groups of channels).

--kv-evict h2o|roco --kv-budget B [--kv-recent W] [--kv-sinks S]: each KV
head keeps B tokens: the S first, the W most recent and those with the
highest score, the accumulated attention (h2o) or its mean over the queries
that saw the token (roco); the attention a token gets from one query is the
mean softmax weight over the query heads of its KV head. A token arriving at
a full head replaces the unprotected token of lowest score (ties: the
older). RoCo protects only min(W, 10) tokens by recency; the other W -
min(W, 10) protected tokens are the candidates whose attention has the
largest variance over the queries that saw them (ties: the newer), RoCo's
robustness measure. With --kv-bits below 16 that token is quantized per token (groups
of --kv-group channels) and stays visible instead of being dropped (MiKV).
"""

import argparse
import json
import math
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from checkpoint import (GROUP_FORMATS, Int8Projection, group_matrix,  # noqa: E402
                        int8_matrix, write_safetensors)

F32 = np.float32


# --- Model files ------------------------------------------------------------

def random_model(out, seed=0, layers=2, embd=64, heads=4, kv_heads=2, ffn=96,
                 vocab=256, context=64, tied=False, head_dim=None, dtype="fp32"):
    rng = np.random.default_rng(seed)
    D = head_dim or embd // heads
    w = {}

    def mat(rows, cols):
        return rng.standard_normal((rows, cols), dtype=F32) / F32(math.sqrt(cols))

    w["model.embed_tokens.weight"] = rng.standard_normal((vocab, embd), dtype=F32)
    for l in range(layers):
        p = f"model.layers.{l}."
        w[p + "input_layernorm.weight"] = (1 + 0.1 * rng.standard_normal(embd)).astype(F32)
        w[p + "post_attention_layernorm.weight"] = (1 + 0.1 * rng.standard_normal(embd)).astype(F32)
        w[p + "self_attn.q_proj.weight"] = mat(heads * D, embd)
        w[p + "self_attn.k_proj.weight"] = mat(kv_heads * D, embd)
        w[p + "self_attn.v_proj.weight"] = mat(kv_heads * D, embd)
        w[p + "self_attn.o_proj.weight"] = mat(embd, heads * D)
        w[p + "mlp.gate_proj.weight"] = mat(ffn, embd)
        w[p + "mlp.up_proj.weight"] = mat(ffn, embd)
        w[p + "mlp.down_proj.weight"] = mat(embd, ffn)
    w["model.norm.weight"] = (1 + 0.1 * rng.standard_normal(embd)).astype(F32)
    if not tied:
        w["lm_head.weight"] = mat(vocab, embd)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    write_safetensors(out / "model.safetensors", w, dtype=dtype)
    config = {"architectures": ["LlamaForCausalLM"], "model_type": "llama",
              "hidden_size": embd, "intermediate_size": ffn,
              "num_attention_heads": heads, "num_key_value_heads": kv_heads,
              "num_hidden_layers": layers, "head_dim": D,
              "max_position_embeddings": context, "rms_norm_eps": 1e-5,
              "rope_theta": 10000.0, "vocab_size": vocab,
              "tie_word_embeddings": tied, "hidden_act": "silu"}
    (out / "config.json").write_text(json.dumps(config, indent=2) + "\n")


def read_safetensors(path):
    data = Path(path).read_bytes()
    n = int.from_bytes(data[:8], "little")
    header = json.loads(data[8:8 + n])
    body = data[8 + n:]
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        dt = {"F32": np.float32, "F16": np.float16}[info["dtype"]]
        a, b = info["data_offsets"]
        out[name] = np.frombuffer(body[a:b], dtype=dt).reshape(info["shape"]).astype(np.float64)
    return out


def load(model_dir):
    model_dir = Path(model_dir)
    cfg = json.loads((model_dir / "config.json").read_text())
    w = read_safetensors(model_dir / "model.safetensors")
    if "lm_head.weight" not in w:
        w["lm_head.weight"] = w["model.embed_tokens.weight"]
    return cfg, w


# --- KV cache ---------------------------------------------------------------

def round_away(y):
    """Round to nearest, ties away from zero (C's roundf), exactly."""
    t = np.trunc(y)
    frac = y - t
    return t + np.where(np.abs(frac) >= F32(0.5), np.sign(y), F32(0)).astype(y.dtype)


def quant_params(mn, mx, bits, symmetric):
    if symmetric:
        amax = np.maximum(np.abs(mn), np.abs(mx))
        s = (amax / F32(2 ** (bits - 1) - 1)).astype(F32)
        s = np.where(s == 0, F32(1), s).astype(F32)
        m = (s * F32(-(2 ** (bits - 1)))).astype(F32)
    else:
        s = ((mx - mn) / F32(2 ** bits - 1)).astype(F32)
        s = np.where(s == 0, F32(1), s).astype(F32)
        m = mn.astype(F32)
    return s, m


def quantize(x, s, m, bits, symmetric):
    """Codes and dequantized values of x (float32) with broadcastable s, m."""
    if symmetric:
        M = F32(2 ** (bits - 1) - 1)
        q = np.clip(round_away((x / s).astype(F32)), -M, M) + F32(2 ** (bits - 1))
    else:
        q = np.clip(round_away(((x - m) / s).astype(F32)), F32(0), F32(2 ** bits - 1))
    q = q.astype(F32)
    return q.astype(np.int64), ((q * s).astype(F32) + m).astype(F32)


def quantize_block(x, bits, group, per_channel, symmetric):
    """x [n, H, D] float32 -> (codes, dequantized), grouped per channel
    (groups of `group` tokens; n a multiple of group) or per token."""
    n, H, D = x.shape
    if per_channel:
        g = x.reshape(n // group, group, H, D)
        mn, mx = g.min(axis=1, keepdims=True), g.max(axis=1, keepdims=True)
    else:
        g = x.reshape(n, H, D // group, group)
        mn, mx = g.min(axis=3, keepdims=True), g.max(axis=3, keepdims=True)
    s, m = quant_params(mn, mx, bits, symmetric)
    codes, deq = quantize(g, s, m, bits, symmetric)
    if per_channel:  # [n/group, H, D]
        s, m = s[:, 0], m[:, 0]
    else:  # [n, H, D/group]
        s, m = s[..., 0], m[..., 0]
    return codes.reshape(x.shape), deq.reshape(x.shape), s, m


class KVCache:
    def __init__(self, heads, head_dim, capacity, comp=None, storage=F32):
        self.H, self.D, self.cap = heads, head_dim, capacity
        self.comp = comp
        self.storage = storage
        self.K, self.V = [], []  # effective (possibly dequantized) [H, D] rows
        self.nq = 0
        # Per quantized chunk: (key codes, key scales, key minima, value ...).
        self.chunks = []
        if comp and not comp.get("evict"):
            kg = comp["group"] if not comp["per_token_keys"] else 1
            self.chunk = kg  # values are grouped per token
            self.sinks, self.window = comp["sinks"], comp["window"]

    def append(self, k, v):
        assert len(self.K) < self.cap, "cache full"
        self.K.append(k.astype(self.storage).astype(F32))
        self.V.append(v.astype(self.storage).astype(F32))
        if not self.comp or self.comp.get("evict"):
            return
        in_ring = len(self.K) - self.sinks - self.nq
        if in_ring >= self.window + self.chunk:
            a = self.sinks + self.nq
            b = a + self.chunk
            c = self.comp
            kq = quantize_block(np.stack(self.K[a:b]), c["key_bits"], c["group"],
                                not c["per_token_keys"], c["symmetric"])
            vq = quantize_block(np.stack(self.V[a:b]), c["value_bits"], c["group"],
                                False, c["symmetric"])
            self.chunks.append((kq, vq))
            kd, vd = kq[1], vq[1]
            self.K[a:b] = list(kd)
            self.V[a:b] = list(vd)
            self.nq += self.chunk

    def visible(self, rows):
        """Window eviction (StreamingLLM): the sinks and the most recent
        `budget - sinks` tokens; the others are dropped."""
        if self.comp and self.comp.get("evict"):
            s, w = self.comp["sinks"], self.comp["budget"] - self.comp["sinks"]
            if len(rows) > s + w:
                rows = rows[:s] + rows[len(rows) - w:]
        return np.stack(rows).astype(np.float64)

    def keys(self):
        return self.visible(self.K)

    def values(self):
        return self.visible(self.V)


class ScoredCache:
    """H2O / RoCo eviction, or MiKV mixed precision (comp has key_bits)."""

    def __init__(self, heads, head_dim, comp, storage=F32):
        self.H, self.D, self.storage, self.c = heads, head_dim, storage, comp
        B = comp["budget"]
        self.K = np.zeros((heads, B, head_dim), F32)
        self.V = np.zeros((heads, B, head_dim), F32)
        self.pos = np.full((heads, B), -1)
        self.sum = np.zeros((heads, B))
        self.cnt = np.zeros((heads, B))
        self.sq = np.zeros((heads, B))  # sum of squared attention (roco)
        self.low = [{} for _ in range(heads)]  # position -> (key, value)
        self.n = 0

    def quantized(self, x, bits):
        c = self.c
        q = quantize_block(x[None, None, :], bits, c["group"], False, c["symmetric"])
        return q[1][0, 0]

    def append(self, k, v):
        c, p = self.c, self.n
        for h in range(self.H):
            if p < c["budget"]:
                j = p
            else:
                score = self.sum[h].copy()
                if c["evict"] == "roco":
                    score = np.where(self.cnt[h] > 0, score / np.maximum(self.cnt[h], 1), 0)
                roco = c["evict"] == "roco"
                recent = min(c["recent"], 10) if roco else c["recent"]
                cand = [j for j in range(c["budget"])
                        if c["sinks"] <= self.pos[h, j] <= p - recent]
                if roco and c["recent"] > recent:
                    # The rest of the recent budget shields the candidates
                    # whose attention varied most (ties: the newer).
                    cnt = np.maximum(self.cnt[h], 1)
                    mean = self.sum[h] / cnt
                    var = np.where(self.cnt[h] > 0,
                                   np.maximum(self.sq[h] / cnt - mean * mean, 0), 0)
                    shield = sorted(cand, key=lambda j: (var[j], self.pos[h, j]),
                                    reverse=True)[:c["recent"] - recent]
                    cand = [j for j in cand if j not in shield]
                j = min(cand, key=lambda j: (score[j], self.pos[h, j]))
                if c.get("key_bits"):
                    self.low[h][self.pos[h, j]] = (
                        self.quantized(self.K[h, j], c["key_bits"]),
                        self.quantized(self.V[h, j], c["value_bits"]))
            self.K[h, j] = k[h].astype(self.storage).astype(F32)
            self.V[h, j] = v[h].astype(self.storage).astype(F32)
            self.pos[h, j], self.sum[h, j], self.cnt[h, j], self.sq[h, j] = p, 0, 0, 0
        self.n += 1

    def attend(self, q, scale):
        held = min(self.n, self.c["budget"])
        rep = q.shape[0] // self.H
        out = np.empty_like(q)
        for kh in range(self.H):
            low = sorted(self.low[kh])
            K = np.concatenate([self.K[kh, :held]] + [self.low[kh][p][0][None] for p in low])
            V = np.concatenate([self.V[kh, :held]] + [self.low[kh][p][1][None] for p in low])
            K, V = K.astype(np.float64), V.astype(np.float64)
            a_mean = np.zeros(held)
            for h in range(kh * rep, (kh + 1) * rep):
                s = K @ q[h] * scale
                a = np.exp(s - s.max())
                a /= a.sum()
                out[h] = a @ V
                a_mean += a[:held] / rep
            self.sum[kh, :held] += a_mean
            self.sq[kh, :held] += a_mean * a_mean
            self.cnt[kh, :held] += 1
        return out


def attend(q, cache, scale, keys=None, values=None):
    """q [Hq, D] float64 over the whole cache (causal: it holds the past);
    `keys` and `values` replace the cache's (as read back from another
    form)."""
    if isinstance(cache, ScoredCache):
        return cache.attend(q, scale)
    K = cache.keys() if keys is None else keys  # [n, H, D]
    V = cache.values() if values is None else values
    rep = q.shape[0] // K.shape[1]
    out = np.empty_like(q)
    for h in range(q.shape[0]):
        kh = h // rep
        s = K[:, kh, :] @ q[h] * scale
        a = np.exp(s - s.max())
        a /= a.sum()
        out[h] = a @ V[:, kh, :]
    return out


# --- Forward ----------------------------------------------------------------

def set_dims(model, c):
    """L, C, Hq, Hk, D, eps, theta of `model` from config.json's `c`."""
    model.L, model.C = c["num_hidden_layers"], c["hidden_size"]
    model.Hq = c["num_attention_heads"]
    model.Hk = c.get("num_key_value_heads", model.Hq)
    model.D = c.get("head_dim", model.C // model.Hq)
    model.eps, model.theta = c.get("rms_norm_eps", 1e-5), c.get("rope_theta", 10000.0)


def rms_norm(x, w, eps):
    return x / np.sqrt((x * x).mean() + eps) * w


def rope(x, pos, theta):
    """x [H, D] at position pos, or [n, H, D] at positions pos [n];
    rotate-half pairing."""
    D = x.shape[-1]
    half = D // 2
    f = theta ** (-2.0 * np.arange(half) / D)
    a = np.asarray(pos, dtype=np.float64)[..., None, None] * f
    c, s = np.cos(a), np.sin(a)
    x1, x2 = x[..., :half], x[..., half:]
    return np.concatenate([x1 * c - x2 * s, x1 * s + x2 * c], axis=-1)


def principal_basis(cov, rank):
    """The `rank` leading eigenvectors of the symmetric matrix `cov` as
    columns (eigenvalues descending), each signed so that its component of
    largest magnitude (the first, on ties) is positive."""
    w, u = np.linalg.eigh(np.asarray(cov, dtype=np.float64))
    u = u[:, np.argsort(-w, kind="stable")[:rank]]
    for k in range(rank):
        if u[np.argmax(np.abs(u[:, k])), k] < 0:
            u[:, k] = -u[:, k]
    return u


def zigzag(mag, block):
    """Channels by decreasing magnitude dealt to blocks of `block` channels
    in the order 0, 1, .., n-1, n-1, .., 0, 0, 1, ...; returns the new
    channel order (new position -> old channel)."""
    n = len(mag) // block
    blocks = [[] for _ in range(n)]
    for r, c in enumerate(np.argsort(-np.asarray(mag), kind="stable")):
        rnd, at = divmod(r, n)
        blocks[at if rnd % 2 == 0 else n - 1 - at].append(int(c))
    return np.array(sum(blocks, []))


def hadamard(n):
    """Normalized Sylvester Hadamard matrix of order n (a power of two)."""
    assert n & (n - 1) == 0, "the reference rotates power-of-two heads only"
    h = np.ones((1, 1))
    while h.shape[0] < n:
        h = np.block([[h, h], [h, -h]])
    return h / math.sqrt(n)


# The matrices `seqc compile --weights=int8` stores as int8.
INT8_MATRICES = ("q_proj.weight", "k_proj.weight", "v_proj.weight", "o_proj.weight",
                 "gate_proj.weight", "up_proj.weight", "down_proj.weight", "lm_head.weight")


class Llama:
    def __init__(self, model_dir, comp=None, context=None, storage=F32, rotate=False,
                 int8=None, pre_rope_heads=0, key_block=0, calibration=None,
                 balance=None, kv_rank=0, q4=False, activations=0, q4k=False,
                 group=None, kept=False):
        self.cfg, self.w = load(model_dir)
        group = group or ("q4k" if q4k else "q4" if q4 else None)
        if group:
            # Weights of a group format (their products round activations
            # per 32 channels); activations < 0: f32 activations
            # (--int8-dot=none).
            block = None if activations < 0 else 32
            self.w = {k: group_matrix(v, group, block, kept) if k.endswith(INT8_MATRICES)
                      else v for k, v in self.w.items()}
        elif activations > 0:
            # The weights as they are, the activations rounded per block.
            self.w = {k: Int8Projection(v, activations) if k.endswith(INT8_MATRICES)
                      else v for k, v in self.w.items()}
        if int8 is not None:
            # int8 weights; int8 > 0: activations rounded per block of int8
            # channels, as the integer kernels (--int8-dot) do.
            self.w = {k: int8_matrix(v, int8 or None) if k.endswith(INT8_MATRICES) else v
                      for k, v in self.w.items()}
        c = self.cfg
        set_dims(self, c)
        self.context = context or c.get("max_position_embeddings", 2048)
        self.comp, self.storage = comp, storage
        # seq-fuse-hadamard: q, k, v rotated by H (per head), output by H^T.
        self.rot = hadamard(self.D) if rotate else None
        # --rotate-kv-keys pre-rope (RotateKV): keys rotated before RoPE by
        # groups of G heads (order G*D), cached so, rotated back and RoPE-d
        # at their positions when read; queries are not rotated.
        self.G = pre_rope_heads
        self.key_rot = hadamard(self.G * self.D) if self.G else None
        # --rotate-kv-block B: queries and keys (post-RoPE) rotated by
        # blocks of B channels; --kv-calibration: their channels reordered
        # first, per layer and KV head, zigzag by calibrated magnitude.
        self.qk_rot = None
        if rotate and not self.G:
            B = key_block or self.D
            self.qk_rot = np.kron(np.eye(self.D // B), hadamard(B))
        self.orders = None
        # --kv-balance ALPHA (seq-balance-kv): keys divided, queries
        # multiplied per channel by (m / rms(m))^alpha, m the calibrated
        # largest |key| of the channel.
        self.balance = None
        if calibration:
            cal = json.loads(Path(calibration).read_text())
            mag = np.array(cal["key_absmax"], dtype=np.float32).reshape(
                self.L, self.Hk, self.D).astype(np.float64)
        if calibration and balance is not None:
            rms = np.sqrt((mag * mag).mean(axis=2, keepdims=True))
            self.balance = np.where((mag > 0) & (rms > 0),
                                    (mag / np.where(rms > 0, rms, 1)) ** balance, 1.0)
        if calibration and rotate and not self.G:
            self.orders = [[zigzag(mag[l, h], key_block or self.D)
                            for h in range(self.Hk)] for l in range(self.L)]
        # --kv-rank R (seq-low-rank-kv, EliteKV): the cache holds, per token,
        # c = U_l^T [k before RoPE; v] (U_l: the R leading eigenvectors of
        # the layer's calibrated E[x x^T]), c[:R/2] as its key row and
        # c[R/2:] as its value row of one head; keys and values are read
        # back as U_l c, keys then RoPE-d at their positions.
        self.rank, self.bases = kv_rank, None
        if kv_rank:
            N = 2 * self.Hk * self.D
            cov = np.array(cal["kv_covariance"], dtype=np.float32).reshape(
                self.L, N, N).astype(np.float64)
            self.bases = [principal_basis(0.5 * (c + c.T), kv_rank) for c in cov]
        # calibrate: [k before RoPE; v] of every token, per layer.
        self.record = None
        self.reset()

    def reset(self):
        if self.comp and self.comp.get("evict") in ("h2o", "roco"):
            self.caches = [ScoredCache(self.Hk, self.D, self.comp, self.storage)
                           for _ in range(self.L)]
        elif self.rank:
            self.caches = [KVCache(1, self.rank // 2, self.context, self.comp,
                                   self.storage) for _ in range(self.L)]
        else:
            self.caches = [KVCache(self.Hk, self.D, self.context, self.comp,
                                   self.storage) for _ in range(self.L)]
        self.pos = 0

    def step(self, token):
        w, D = self.w, self.D
        x = w["model.embed_tokens.weight"][token].copy()
        for l in range(self.L):
            p = f"model.layers.{l}."
            h = rms_norm(x, w[p + "input_layernorm.weight"], self.eps)
            q = (w[p + "self_attn.q_proj.weight"] @ h).reshape(self.Hq, D)
            k = (w[p + "self_attn.k_proj.weight"] @ h).reshape(self.Hk, D)
            v = (w[p + "self_attn.v_proj.weight"] @ h).reshape(self.Hk, D)
            q = rope(q, self.pos, self.theta)
            keys = values = None
            if self.record is not None:
                self.record[l].append(np.concatenate([k.reshape(-1), v.reshape(-1)]))
            if self.rank:
                U, R, HD = self.bases[l], self.rank, self.Hk * D
                c = U.T @ np.concatenate([k.reshape(-1), v.reshape(-1)])
                self.caches[l].append(c[None, :R // 2], c[None, R // 2:])
                cache = self.caches[l]
                lat = np.concatenate([cache.keys()[:, 0], cache.values()[:, 0]], axis=1)
                n = lat.shape[0]
                kv = lat @ U.T  # [n, 2 Hk D]
                keys = rope(kv[:, :HD].reshape(n, self.Hk, D), np.arange(n), self.theta)
                values = kv[:, HD:].reshape(n, self.Hk, D)
            elif self.G:
                G = self.G
                k = (k.reshape(-1, G * D) @ self.key_rot.T).reshape(self.Hk, D)
                v = v @ self.rot.T
                self.caches[l].append(k, v)
                K = self.caches[l].keys()  # [n, Hk, D], as stored
                n = K.shape[0]
                K = (K.reshape(n, -1, G * D) @ self.key_rot).reshape(n, self.Hk, D)
                keys = rope(K, np.arange(n), self.theta)
            else:
                k = rope(k, self.pos, self.theta)
                if self.balance is not None:
                    rep = self.Hq // self.Hk
                    sc = self.balance[l]
                    q = q * np.repeat(sc, rep, axis=0)
                    k = k / sc
                if self.orders is not None:
                    rep = self.Hq // self.Hk
                    q = np.stack([q[h][self.orders[l][h // rep]] for h in range(self.Hq)])
                    k = np.stack([k[h][self.orders[l][h]] for h in range(self.Hk)])
                if self.rot is not None:
                    q, k, v = q @ self.qk_rot.T, k @ self.qk_rot.T, v @ self.rot.T
                self.caches[l].append(k, v)
            o = attend(q, self.caches[l], 1 / math.sqrt(D), keys, values)
            if self.rot is not None:
                o = o @ self.rot
            o = o.reshape(-1)
            x = x + w[p + "self_attn.o_proj.weight"] @ o
            h = rms_norm(x, w[p + "post_attention_layernorm.weight"], self.eps)
            g = w[p + "mlp.gate_proj.weight"] @ h
            u = w[p + "mlp.up_proj.weight"] @ h
            x = x + w[p + "mlp.down_proj.weight"] @ (g / (1 + np.exp(-g)) * u)
        self.pos += 1
        return w["lm_head.weight"] @ rms_norm(x, w["model.norm.weight"], self.eps)


def comp_from_args(args):
    kb = args.key_bits or args.kv_bits
    vb = args.value_bits or args.kv_bits
    if args.kv_evict in ("h2o", "roco"):
        c = {"evict": args.kv_evict, "budget": args.kv_budget, "sinks": args.kv_sinks,
             "recent": args.kv_recent}
        if kb != 16:  # mixed precision: evicted tokens quantized per token
            c.update(key_bits=kb, value_bits=vb, group=args.kv_group,
                     symmetric=args.kv_symmetric)
        return c
    if args.kv_evict:
        return {"evict": args.kv_evict, "budget": args.kv_budget, "sinks": args.kv_sinks}
    if kb == 16:
        return None
    return {"key_bits": kb, "value_bits": vb, "group": args.kv_group,
            "window": args.kv_window, "sinks": args.kv_sinks,
            "per_token_keys": args.kv_per_token_keys, "symmetric": args.kv_symmetric}


def add_kv_args(p):
    p.add_argument("--kv-bits", type=int, default=16)
    p.add_argument("--key-bits", type=int, default=0)
    p.add_argument("--value-bits", type=int, default=0)
    p.add_argument("--kv-group", type=int, default=32)
    p.add_argument("--kv-window", type=int, default=32)
    p.add_argument("--kv-sinks", type=int, default=0)
    p.add_argument("--kv-per-token-keys", action="store_true")
    p.add_argument("--kv-symmetric", action="store_true")
    p.add_argument("--kv-f16", action="store_true")
    p.add_argument("--context", type=int, default=0)
    p.add_argument("--rotate-kv", action="store_true")
    p.add_argument("--rotate-kv-keys", choices=["post-rope", "pre-rope"],
                   default="post-rope")
    p.add_argument("--rotate-kv-heads", type=int, default=1)
    p.add_argument("--rotate-kv-block", type=int, default=0)
    p.add_argument("--kv-calibration")
    p.add_argument("--kv-balance", type=float)
    p.add_argument("--kv-rank", type=int, default=0)
    p.add_argument("--kv-evict", choices=["window", "h2o", "roco"])
    p.add_argument("--kv-budget", type=int, default=0)
    p.add_argument("--kv-recent", type=int, default=0)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("random")
    r.add_argument("dir")
    for name, default in [("seed", 0), ("layers", 2), ("embd", 64), ("heads", 4),
                          ("kv-heads", 2), ("ffn", 96), ("vocab", 256), ("context", 64),
                          ("head-dim", 0)]:
        r.add_argument("--" + name, type=int, default=default)
    r.add_argument("--tied", action="store_true")
    lg = sub.add_parser("logits")
    lg.add_argument("dir")
    lg.add_argument("--tokens", required=True)
    lg.add_argument("-o", required=True)
    lg.add_argument("--int8", type=int, metavar="BLOCK",
                    help="the projections and head as seqc's int8 weights store them; "
                         "BLOCK > 0 also rounds their activations per BLOCK channels as "
                         "the integer kernels do (0: f32 activations)")
    lg.add_argument("--activations", type=int, default=0, metavar="BLOCK",
                    help="the projections' weights as they are, their activations "
                         "rounded per BLOCK channels as the integer kernels do; "
                         "with --q4 or --q4k, -1 keeps the activations f32 "
                         "(--int8-dot=none)")
    lg.add_argument("--q4", action="store_true",
                    help="the projections and head as seqc's q4 weights store and "
                         "compute them")
    lg.add_argument("--group", choices=GROUP_FORMATS,
                    help="the projections and head as seqc's weights of that group "
                         "format store and compute them")
    lg.add_argument("--kept-groups", action="store_true",
                    help="with --group q4 .. q8: groups lying exactly on a grid seqc's "
                         "encoder tries are kept as they are (checkpoint.kept_groups)")
    lg.add_argument("--q4k", action="store_true",
                    help="the projections and head as seqc's q4k weights store and "
                         "compute them")
    add_kv_args(lg)
    cb = sub.add_parser("calibrate", help="largest |key| per layer, KV head and channel "
                        "(post-RoPE, full-precision cache), as seqc-run calibrate")
    cb.add_argument("dir")
    cb.add_argument("--tokens", required=True)
    cb.add_argument("--window", type=int, required=True)
    cb.add_argument("-o", required=True)
    add_kv_args(cb)
    pp = sub.add_parser("ppl")
    pp.add_argument("dir")
    pp.add_argument("file")
    pp.add_argument("--window", type=int, required=True)
    pp.add_argument("--limit", type=int, default=0, help="score only the first N bytes")
    add_kv_args(pp)
    args = ap.parse_args()
    if args.cmd == "random":
        random_model(args.dir, args.seed, args.layers, args.embd, args.heads, args.kv_heads,
                     args.ffn, args.vocab, args.context, args.tied, args.head_dim or None)
        return
    storage = np.float16 if args.kv_f16 else F32
    m = Llama(args.dir, comp_from_args(args), args.context or None, storage,
              args.rotate_kv, getattr(args, "int8", None),
              args.rotate_kv_heads if args.rotate_kv_keys == "pre-rope" else 0,
              args.rotate_kv_block, args.kv_calibration, args.kv_balance,
              args.kv_rank, getattr(args, "q4", False), getattr(args, "activations", 0),
              getattr(args, "q4k", False), getattr(args, "group", None),
              getattr(args, "kept_groups", False))
    if args.cmd == "calibrate":
        toks = [int(t) for t in args.tokens.split(",")]
        absmax = np.zeros((m.L, m.Hk, m.D))
        m.record = [[] for _ in range(m.L)]
        for start in range(0, len(toks), args.window):
            m.reset()
            for t in toks[start:start + args.window]:
                m.step(t)
            for l, cache in enumerate(m.caches):
                absmax[l] = np.maximum(absmax[l], np.abs(np.stack(cache.K)).max(axis=0))
        # Second moment of [k before RoPE; v], taken from the forward pass
        # (seqc-run undoes RoPE on the cached keys instead).
        cov = np.stack([np.stack(x).T @ np.stack(x) / len(x) for x in m.record])
        Path(args.o).write_text(json.dumps({"key_absmax": absmax.reshape(-1).tolist(),
                                            "kv_covariance": cov.reshape(-1).tolist()}))
        return
    if args.cmd == "logits":
        toks = [int(t) for t in args.tokens.split(",")]
        out = np.stack([m.step(t) for t in toks]).astype(F32)
        out.tofile(args.o)
        return
    data = np.frombuffer(Path(args.file).read_bytes(), dtype=np.uint8)
    if args.limit:
        data = data[:args.limit]
    nll, n = 0.0, 0
    for start in range(0, len(data) - 1, args.window):
        win = data[start:start + args.window]
        m.reset()
        for i in range(len(win) - 1):
            logits = m.step(int(win[i]))
            mx = logits.max()
            lse = mx + math.log(np.exp(logits - mx).sum())
            nll += lse - logits[win[i + 1]]
            n += 1
    print(f"{math.exp(nll / n):.6f} {n}")


if __name__ == "__main__":
    main()
