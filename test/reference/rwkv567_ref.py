"""Float64 numpy references for RWKV-5 ("Eagle": 5.0, 5.1, 5.2), RWKV-6
("Finch") and RWKV-7 ("Goose", x070), in RNN form (one token at a time).

Written from the papers and the semantics of the official inference code
(BlinkDL's `rwkv` package: att_one_v5 / att_one_v5_1 / att_one_v6_0 /
ffn_one / ffn_one_v6,
and the RWKV-7 RNN demo: time_mixing / channel_mixing), with the official
checkpoint names and shapes. Nothing here needs torch.

Notation: C = n_embd, H heads, N = C / H head size, F ffn width, V vocabulary.
LayerNorms use eps 1e-5; ln_x is a GroupNorm with H groups of N channels,
eps 64e-5, then the per-channel weight and bias.

Common skeleton (all three versions):
    x = ln0(emb[token])                        blocks.0.ln0, layer 0 only
    per block i:  x = x + att(ln1(x));  x = x + ffn(ln2(x))
    logits = head @ ln_out(x)
Token shift: each block keeps the previous token's ln1 output (att) and ln2
output (ffn), zero before the first token.

RWKV-5.2 time mixing (xa = ln1 output, pa = previous one):
    x_m = xa * mix_m + pa * (1 - mix_m)          m in k, v, r, g (time_mix_m)
    r = Wr x_r, k = Wk x_k, v = Wv x_v, g = silu(Wg x_g)
    per head, S [N key, N value], w = exp(-exp(time_decay)), u = time_faaaa:
        y_j = sum_i r_i (u_i k_i v_j + S_ij);  S_ij = k_i v_j + w_i S_ij
    out = Wo (ln_x(y) * g)
  RWKV-5.0 and 5.1 (the package's version detection: ln_x makes a 5, a gate a
  5.1, a time_decay of [H, N > 1] a 5.2): time_decay [H] and the bonus [H]
  are per head (one w and u for the N channels of a head); the bonus is
  time_faaaa as stored or, named time_first, exp(time_first); 5.0 has no
  gate (no time_mix_g, gate.weight): out = Wo ln_x(y).
  channel mixing: x_m as above for m in k, r;
    out = sigmoid(Wr x_r) * (Wv relu(Wk x_k)^2)

RWKV-6 time mixing (sx = pa - xa):
    xxx = tanh((xa + sx * maa_x) @ maa_w1) as [5, D];  m_j = xxx[j] @ maa_w2[j]
    for j = w, k, v, r, g (that order):  x_j = xa + sx * (maa_j + m_j)
    r, k, v as 5.2, g = silu(Wg x_g)
    w = exp(-exp(time_decay + tanh(x_w @ decay_w1) @ decay_w2))   per token
    WKV as 5.2 with this w; out = Wo (ln_x(y) * g)
  channel mixing (sx = pa - xa): x_k = xa + sx * maa_k, x_r = xa + sx * maa_r;
    out = sigmoid(Wr x_r) * (Wv relu(Wk x_k)^2)

RWKV-7 (x070) time mixing (d = pa - xa):
    x_m = xa + d * x_m                          m in r, w, k, v, a, g
    r = Wr x_r; k = Wk x_k; v = Wv x_v
    w = -softplus(-(w0 + tanh(x_w @ w1) @ w2)) - 0.5
    a = sigmoid(a0 + (x_a @ a1) @ a2);  g = sigmoid(x_g @ g1) @ g2
    kk = normalize(k * k_k) per head (L2, divided by max(norm, 1e-12))
    k = k * (1 + (a - 1) * k_a)
    layer 0: v_first = v;  others: v = v + (v_first - v) * sigmoid(v0 + (x_v @ v1) @ v2)
    per head, S [N value, N key], decay = exp(-exp(w))  (= exp(-e^-0.5 sigmoid(.))):
        S = S diag(decay) + (S (-kk)) (kk * a)^T + v k^T     (all with the old S)
        y = S r
    y = ln_x(y) + (sum over the head of r * k * r_k) * v   per head
    out = Wo (y * g)
  channel mixing: x_k = xa + (pa - xa) * x_k;  out = Wv relu(Wk x_k)^2

Command line:

    rwkv567_ref.py random --version 5|6|7 --layers L --embd C --heads H
        --vocab V [--ffn F] [--lora D] [--seed S] [--dtype fp32|fp16|bf16]
        [--format pth|safetensors] -o PATH [--npz REF.npz --tokens 1,2,3]

writes random weights (random_weights) with checkpoint.write_pth or
write_safetensors and, with --npz, `tokens` and the float64 `logits` [T, V]
of forward() computed on the weights as rounded to the stored dtype.

    rwkv567_ref.py selfcheck

runs the internal consistency checks (RNN form against a separately written
sequence form, determinism, finiteness, sensitivity to the input).
"""

import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import checkpoint  # noqa: E402  (checkpoint writers, no torch)
import state_quant_ref  # noqa: E402

LN_EPS = 1e-5
GN_EPS = 64e-5
NORM_EPS = 1e-12  # torch.nn.functional.normalize


# --- Versions and shapes ------------------------------------------------------

def normalize_version(version):
    """5, '5', '5.0', '5.1', '5.2', 'v5' -> 5; 6, '6.0' -> 6; 7, 'x070' -> 7."""
    s = str(version).strip().lower().lstrip("vx")
    if s in ("5", "5.0", "5.1", "5.2"):
        return 5
    if s in ("6", "6.0", "060"):
        return 6
    if s in ("7", "7.0", "070"):
        return 7
    raise ValueError(f"unsupported RWKV version {version!r} (5.2, 6 or 7)")


def v5_minor(version):
    """The RWKV-5 sub-version: 0, 1 or 2 ('5' is 5.2); None for 6 and 7."""
    if normalize_version(version) != 5:
        return None
    s = str(version).strip().lower().lstrip("vx")
    return {"5.0": 0, "5.1": 1}.get(s, 2)


def default_ffn(version, n_embd):
    """Official ffn widths: int(3.5 C) // 32 * 32 for 5.2 and 6, 4 C for 7."""
    if normalize_version(version) == 7:
        return 4 * n_embd
    return int(n_embd * 3.5) // 32 * 32


def _suggested(c, factor, power):
    return max(32, int(round(factor * c ** power / 32)) * 32)


def lora_dims(version, n_embd, lora=None):
    """LoRA widths by name.

    v6: {'maa': D, 'decay': D2}; official 32 / 64 (64 / 128 for C >= 4096).
    v7: {'w': Dw, 'a': Da, 'v': Dv, 'g': Dg}; official suggestions
        max(32, round(k C^p / 32) * 32) with (k, p) = (1.8, .5), (1.8, .5),
        (1.3, .5), (0.6, .8).
    lora: None for those defaults; an int D (v6: D and 2 D; v7: D for all
    four); a sequence in the order above; or a dict overriding some names.
    v5.2 has none ({}).
    """
    version = normalize_version(version)
    c = n_embd
    if version == 5:
        return {}
    if version == 6:
        names = ("maa", "decay")
        dims = {"maa": 64, "decay": 128} if c >= 4096 else {"maa": 32, "decay": 64}
    else:
        names = ("w", "a", "v", "g")
        dims = {"w": _suggested(c, 1.8, 0.5), "a": _suggested(c, 1.8, 0.5),
                "v": _suggested(c, 1.3, 0.5), "g": _suggested(c, 0.6, 0.8)}
    if lora is None:
        return dims
    if isinstance(lora, dict):
        unknown = set(lora) - set(names)
        if unknown:
            raise ValueError(f"unknown LoRA names {sorted(unknown)} for v{version}")
        dims.update({k: int(v) for k, v in lora.items()})
        return dims
    if isinstance(lora, (int, np.integer)):
        if version == 6:
            return {"maa": int(lora), "decay": 2 * int(lora)}
        return {n: int(lora) for n in names}
    values = [int(v) for v in lora]
    if len(values) == 1:
        return lora_dims(version, n_embd, values[0])
    if len(values) != len(names):
        raise ValueError(f"v{version} takes {len(names)} LoRA widths {names}")
    return dict(zip(names, values))


def shapes(version, layers, embd, heads, vocab, ffn=None, lora=None,
           v7_layer0_v=True):
    """Official parameter names and shapes, in the official state_dict order.

    v7_layer0_v: RWKV-7 checkpoints may or may not carry att.v0/v1/v2 in
    block 0 (the official inference code ignores them there); with True they
    are present in every block.
    """
    minor = v5_minor(version)
    version = normalize_version(version)
    c, h = embd, heads
    if c % h:
        raise ValueError(f"embd {c} is not a multiple of heads {h}")
    n = c // h
    f = ffn or default_ffn(version, c)
    d = lora_dims(version, c, lora)
    out = {"emb.weight": (vocab, c)}
    for i in range(layers):
        b = f"blocks.{i}."
        for ln in ("ln1", "ln2") + (("ln0",) if i == 0 else ()):
            out[b + ln + ".weight"] = (c,)
            out[b + ln + ".bias"] = (c,)
        a = b + "att."
        if version == 5:
            for m in "kvrg" if minor else "kvr":
                out[a + "time_mix_" + m] = (1, 1, c)
            # 5.0 and 5.1: per head; 5.0 under the name time_first.
            out[a + "time_decay"] = (h, n) if minor == 2 else (h,)
            out[a + ("time_first" if minor == 0 else "time_faaaa")] = \
                (h, n) if minor == 2 else (h,)
        elif version == 6:
            for m in "xwkvrg":
                out[a + "time_maa_" + m] = (1, 1, c)
            out[a + "time_maa_w1"] = (c, 5 * d["maa"])
            out[a + "time_maa_w2"] = (5, d["maa"], c)
            out[a + "time_decay"] = (1, 1, c)
            out[a + "time_decay_w1"] = (c, d["decay"])
            out[a + "time_decay_w2"] = (d["decay"], c)
            out[a + "time_faaaa"] = (h, n)
        else:
            for m in "rwkvag":
                out[a + "x_" + m] = (1, 1, c)
            for p in "wav":
                if p == "v" and i == 0 and not v7_layer0_v:
                    continue
                out[a + p + "0"] = (1, 1, c)
                out[a + p + "1"] = (c, d[p])
                out[a + p + "2"] = (d[p], c)
            out[a + "g1"] = (c, d["g"])
            out[a + "g2"] = (d["g"], c)
            out[a + "k_k"] = (1, 1, c)
            out[a + "k_a"] = (1, 1, c)
            out[a + "r_k"] = (h, n)
        for proj in ("receptance", "key", "value", "output"):
            out[a + proj + ".weight"] = (c, c)
        if version == 6 or minor:
            out[a + "gate.weight"] = (c, c)
        out[a + "ln_x.weight"] = (c,)
        out[a + "ln_x.bias"] = (c,)
        fn = b + "ffn."
        if version == 5:
            out[fn + "time_mix_k"] = (1, 1, c)
            out[fn + "time_mix_r"] = (1, 1, c)
        elif version == 6:
            out[fn + "time_maa_k"] = (1, 1, c)
            out[fn + "time_maa_r"] = (1, 1, c)
        else:
            out[fn + "x_k"] = (1, 1, c)
        out[fn + "key.weight"] = (f, c)
        if version in (5, 6):
            out[fn + "receptance.weight"] = (c, c)
        out[fn + "value.weight"] = (c, f)
    out["ln_out.weight"] = (c,)
    out["ln_out.bias"] = (c,)
    out["head.weight"] = (vocab, c)
    return out


def detect(weights):
    """(version, layers, embd, heads, head_size, ffn, vocab) from names/shapes."""
    if "blocks.0.att.r_k" in weights:
        version = 7
        heads, head_size = np.shape(weights["blocks.0.att.r_k"])
    elif "blocks.0.att.time_maa_x" in weights:
        version = 6
        heads, head_size = np.shape(weights["blocks.0.att.time_faaaa"])
    elif "blocks.0.att.ln_x.weight" in weights:
        version = 5
        decay = np.shape(weights["blocks.0.att.time_decay"])
        heads = decay[0]
        head_size = np.shape(weights["emb.weight"])[1] // heads
    else:
        raise ValueError("not an RWKV-5.2, 6 or 7 checkpoint")
    layers = 0
    while f"blocks.{layers}.att.key.weight" in weights:
        layers += 1
    vocab, embd = np.shape(weights["emb.weight"])
    ffn = np.shape(weights["blocks.0.ffn.key.weight"])[0]
    if heads * head_size != embd:
        raise ValueError(f"{heads} heads of {head_size} do not make embd {embd}")
    return version, layers, int(embd), int(heads), int(head_size), int(ffn), int(vocab)


# --- Random weights -------------------------------------------------------------

def random_weights(version, layers, embd, heads, vocab, ffn=None, lora=None,
                   seed=0, v7_layer0_v=True):
    """Random float32 weights with the official names and shapes.

    Magnitudes keep activations O(1) and the recurrences in the ranges of a
    trained model:
      matrices (C x C, ffn, head)  N(0, 1/fan_in)
      emb N(0, 1); layer/group norm weights 1 + N(0, .1^2), biases N(0, .1^2)
      token-shift mixes (time_mix_*, time_maa_*, x_*) U(0, 1)
      v5/v6 time_decay U(-6, -0.5): w = exp(-exp(d)) in [0.54, 0.9975];
        the v6 LoRA moves d by ~0.2 (std)
      time_faaaa U(-0.5, 1)
      v6 maa_w1 N(0, 1/C), maa_w2 N(0, .1^2/D): the mix offsets are ~0.06
      v7 w0 U(-6, 1): decay exp(-e^-0.5 sigmoid(w0 + .)) in [0.64, 0.9985],
        moved by the LoRA (~0.2 std on w0's scale);
        a0, v0 N(0, .5^2); k_k U(.5, 1.2); k_a U(.3, 1.2); r_k N(0, .3^2)
      LoRA inputs (x1) N(0, 1/C), outputs (x2) N(0, .3^2/D); v7 g2 N(0, 1/D)
    """
    raw_version, version = version, normalize_version(version)
    rng = np.random.default_rng(seed)
    out = {}
    table = shapes(raw_version, layers, embd, heads, vocab, ffn, lora, v7_layer0_v)
    for name, shape in table.items():
        parts = name.split(".")
        # 'time_decay', 'w1', ... or 'ln1.weight', 'key.weight', 'ln_x.bias', ...
        leaf = ".".join(parts[-2:]) if parts[-1] in ("weight", "bias") else parts[-1]
        if name == "emb.weight":
            a = rng.normal(0.0, 1.0, shape)
        elif leaf in ("ln0.weight", "ln1.weight", "ln2.weight", "ln_out.weight",
                      "ln_x.weight"):
            a = 1.0 + rng.normal(0.0, 0.1, shape)
        elif leaf.endswith(".bias"):
            a = rng.normal(0.0, 0.1, shape)
        elif leaf.startswith("time_mix_") or leaf in (
                "time_maa_x", "time_maa_w", "time_maa_k", "time_maa_v",
                "time_maa_r", "time_maa_g", "x_r", "x_w", "x_k", "x_v", "x_a",
                "x_g"):
            a = rng.uniform(0.0, 1.0, shape)
        elif leaf == "time_decay":
            a = rng.uniform(-6.0, -0.5, shape)
        elif leaf == "time_faaaa":
            a = rng.uniform(-0.5, 1.0, shape)
        elif leaf == "time_first":  # RWKV-5.0: the bonus is exp(time_first)
            a = rng.uniform(-1.5, 0.0, shape)
        elif leaf in ("time_maa_w1", "time_decay_w1", "w1", "a1", "v1", "g1"):
            a = rng.normal(0.0, 1.0 / np.sqrt(shape[0]), shape)
        elif leaf == "time_maa_w2":
            a = rng.normal(0.0, 0.1 / np.sqrt(shape[1]), shape)
        elif leaf in ("time_decay_w2", "w2", "a2", "v2"):
            a = rng.normal(0.0, 0.3 / np.sqrt(shape[0]), shape)
        elif leaf == "g2":
            a = rng.normal(0.0, 1.0 / np.sqrt(shape[0]), shape)
        elif leaf == "w0":
            a = rng.uniform(-6.0, 1.0, shape)
        elif leaf in ("a0", "v0"):
            a = rng.normal(0.0, 0.5, shape)
        elif leaf == "k_k":
            a = rng.uniform(0.5, 1.2, shape)
        elif leaf == "k_a":
            a = rng.uniform(0.3, 1.2, shape)
        elif leaf == "r_k":
            a = rng.normal(0.0, 0.3, shape)
        elif leaf.endswith(".weight") and len(shape) == 2:
            a = rng.normal(0.0, 1.0 / np.sqrt(shape[1]), shape)
        else:
            raise AssertionError(f"no initializer for {name}")
        out[name] = a.astype(np.float32)
    return out


# --- Building blocks ------------------------------------------------------------

def layer_norm(x, weight, bias, eps=LN_EPS):
    """LayerNorm over the last axis (biased variance)."""
    mean = x.mean(axis=-1, keepdims=True)
    var = ((x - mean) ** 2).mean(axis=-1, keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * weight + bias


def group_norm(y, heads, weight, bias, eps=None):
    """GroupNorm of [..., C] with `heads` groups of C / heads channels (eps
    None: GN_EPS, which --gn-eps sets)."""
    eps = GN_EPS if eps is None else eps
    shape = y.shape
    g = y.reshape(shape[:-1] + (heads, shape[-1] // heads))
    mean = g.mean(axis=-1, keepdims=True)
    var = ((g - mean) ** 2).mean(axis=-1, keepdims=True)
    g = (g - mean) / np.sqrt(var + eps)
    return g.reshape(shape) * weight + bias


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def silu(x):
    return x * sigmoid(x)


def softplus(x):
    return np.logaddexp(0.0, x)


def l2_normalize_heads(x, heads):
    """x [..., C] divided per head by max(L2 norm, 1e-12)."""
    shape = x.shape
    g = x.reshape(shape[:-1] + (heads, shape[-1] // heads))
    norm = np.sqrt((g * g).sum(axis=-1, keepdims=True))
    return (g / np.maximum(norm, NORM_EPS)).reshape(shape)


def _params(weights):
    # Projections that round their activations (checkpoint.Int8Projection)
    # stay objects with `@`.
    return {k: v if hasattr(v, "rounds_activations") else np.asarray(v, dtype=np.float64)
            for k, v in weights.items()}


def _vec(p, name):
    return p[name].reshape(-1)


# --- RNN form ---------------------------------------------------------------------

def init_state(version, weights):
    """A zero state: {'att_x': [L, C], 'wkv': [L, H, N, N], 'ffn_x': [L, C]}.

    wkv is [H, N key, N value] for 5.2 and 6 (as the official code keeps it)
    and [H, N value, N key] for 7.
    """
    _, layers, embd, heads, n, _, _ = detect(weights)
    return {"att_x": np.zeros((layers, embd)),
            "wkv": np.zeros((layers, heads, n, n)),
            "ffn_x": np.zeros((layers, embd))}


def _v5_decay_bonus(p, a, heads, n):
    """log w and u as [H, N]: 5.0/5.1 store one value per head (time_decay
    [H]; the bonus as time_faaaa, or as time_first used through exp)."""
    logw = -np.exp(p[a + "time_decay"].reshape(heads, -1))
    if a + "time_faaaa" in p:
        u = p[a + "time_faaaa"].reshape(heads, -1)
    else:
        u = np.exp(p[a + "time_first"].reshape(heads, -1))
    return np.broadcast_to(logw, (heads, n)), np.broadcast_to(u, (heads, n))


def _v5_gate(p, a, xg):
    """silu(Wg x_g), or 1 for RWKV-5.0, which has no gate."""
    return silu(p[a + "gate.weight"] @ xg) if a + "gate.weight" in p else 1.0


def _att_v5(p, a, x, prev, s, heads):
    n = x.shape[-1] // heads
    mix = {m: _vec(p, a + "time_mix_" + m) for m in "kvrg" if a + "time_mix_" + m in p}
    xm = {m: x * mix[m] + prev * (1 - mix[m]) for m in mix}
    r = (p[a + "receptance.weight"] @ xm["r"]).reshape(heads, n)
    k = (p[a + "key.weight"] @ xm["k"]).reshape(heads, n)
    v = (p[a + "value.weight"] @ xm["v"]).reshape(heads, n)
    g = _v5_gate(p, a, xm.get("g"))
    logw, u = _v5_decay_bonus(p, a, heads, n)
    y, s = _wkv56_step(r, k, v, np.exp(logw), u, s)
    y = group_norm(y.reshape(-1), heads, p[a + "ln_x.weight"], p[a + "ln_x.bias"])
    return p[a + "output.weight"] @ (y * g), s


def _att_v6(p, a, x, prev, s, heads):
    n = x.shape[-1] // heads
    sx = prev - x
    xxx = x + sx * _vec(p, a + "time_maa_x")
    w2 = p[a + "time_maa_w2"]                                   # [5, D, C]
    lo = np.tanh(xxx @ p[a + "time_maa_w1"]).reshape(5, w2.shape[1])
    mw, mk, mv, mr, mg = (lo[j] @ w2[j] for j in range(5))
    xw = x + sx * (_vec(p, a + "time_maa_w") + mw)
    xk = x + sx * (_vec(p, a + "time_maa_k") + mk)
    xv = x + sx * (_vec(p, a + "time_maa_v") + mv)
    xr = x + sx * (_vec(p, a + "time_maa_r") + mr)
    xg = x + sx * (_vec(p, a + "time_maa_g") + mg)
    r = (p[a + "receptance.weight"] @ xr).reshape(heads, n)
    k = (p[a + "key.weight"] @ xk).reshape(heads, n)
    v = (p[a + "value.weight"] @ xv).reshape(heads, n)
    g = silu(p[a + "gate.weight"] @ xg)
    d = _vec(p, a + "time_decay") + \
        np.tanh(xw @ p[a + "time_decay_w1"]) @ p[a + "time_decay_w2"]
    w = np.exp(-np.exp(d)).reshape(heads, n)
    u = p[a + "time_faaaa"].reshape(heads, n)
    y, s = _wkv56_step(r, k, v, w, u, s)
    y = group_norm(y.reshape(-1), heads, p[a + "ln_x.weight"], p[a + "ln_x.bias"])
    return p[a + "output.weight"] @ (y * g), s


def _wkv56_step(r, k, v, w, u, s):
    """One 5.2/6 WKV step per head; s [H, N key, N value]."""
    kv = k[:, :, None] * v[:, None, :]
    y = np.einsum("hi,hij->hj", r, u[:, :, None] * kv + s)
    return y, kv + w[:, :, None] * s


def _ffn_v5(p, f, x, prev):
    mk, mr = _vec(p, f + "time_mix_k"), _vec(p, f + "time_mix_r")
    xk = x * mk + prev * (1 - mk)
    xr = x * mr + prev * (1 - mr)
    r = sigmoid(p[f + "receptance.weight"] @ xr)
    k = np.maximum(p[f + "key.weight"] @ xk, 0.0) ** 2
    return r * (p[f + "value.weight"] @ k)


def _ffn_v6(p, f, x, prev):
    sx = prev - x
    xk = x + sx * _vec(p, f + "time_maa_k")
    xr = x + sx * _vec(p, f + "time_maa_r")
    r = sigmoid(p[f + "receptance.weight"] @ xr)
    k = np.maximum(p[f + "key.weight"] @ xk, 0.0) ** 2
    return r * (p[f + "value.weight"] @ k)


def _att_v7(p, a, layer, x, prev, s, v_first, heads):
    n = x.shape[-1] // heads
    d = prev - x
    xr, xw, xk, xv, xa, xg = (x + d * _vec(p, a + "x_" + m) for m in "rwkvag")
    r = p[a + "receptance.weight"] @ xr
    w = _vec(p, a + "w0") + np.tanh(xw @ p[a + "w1"]) @ p[a + "w2"]
    w = -softplus(-w) - 0.5
    k = p[a + "key.weight"] @ xk
    v = p[a + "value.weight"] @ xv
    aa = sigmoid(_vec(p, a + "a0") + (xa @ p[a + "a1"]) @ p[a + "a2"])
    g = sigmoid(xg @ p[a + "g1"]) @ p[a + "g2"]
    kk = l2_normalize_heads(k * _vec(p, a + "k_k"), heads)
    k = k * (1 + (aa - 1) * _vec(p, a + "k_a"))
    if layer == 0:
        v_first = v
    else:
        v = v + (v_first - v) * sigmoid(_vec(p, a + "v0") + (xv @ p[a + "v1"]) @ p[a + "v2"])
    decay = np.exp(-np.exp(w))
    rh, kh, vh, kkh, ah, dh = (z.reshape(heads, n) for z in (r, k, v, kk, aa, decay))
    sa = np.einsum("hvk,hk->hv", s, -kkh)                       # S (-kk)
    s = (s * dh[:, None, :] + sa[:, :, None] * (kkh * ah)[:, None, :]
         + vh[:, :, None] * kh[:, None, :])
    y = np.einsum("hvk,hk->hv", s, rh).reshape(-1)
    y = group_norm(y, heads, p[a + "ln_x.weight"], p[a + "ln_x.bias"])
    bonus = (rh * kh * p[a + "r_k"].reshape(heads, n)).sum(axis=-1, keepdims=True) * vh
    y = y + bonus.reshape(-1)
    return p[a + "output.weight"] @ (y * g), s, v_first


def _ffn_v7(p, f, x, prev):
    xk = x + (prev - x) * _vec(p, f + "x_k")
    k = np.maximum(p[f + "key.weight"] @ xk, 0.0) ** 2
    return p[f + "value.weight"] @ k


def forward(version, weights, tokens, state=None, return_state=False,
            state_quant=None):
    """Logits [T, V] (float64) of `tokens`, one token at a time.

    version: 5 (5.2), 6 or 7 (also '5.2', 'x070', ...; None to detect).
    weights: official names and shapes (any float dtype; computed in float64).
    state: None for the zero state, else a dict as from init_state (not
    modified). With return_state, returns (logits, final state).
    state_quant: (bits, group[, rotate]) to keep the WKV state quantized
    between tokens as `seqc compile --state=intB --state-group=G
    [--state-rotate]` does, in groups along the value axis
    (state_quant_ref.store).
    """
    version = detect(weights)[0] if version is None else normalize_version(version)
    found = detect(weights)
    if found[0] != version:
        raise ValueError(f"weights are RWKV-{found[0]}, not RWKV-{version}")
    _, layers, embd, heads, _, _, _ = found
    vocab = found[6]
    tokens = [int(t) for t in tokens]
    bad = [t for t in tokens if not 0 <= t < vocab]
    if bad:
        raise ValueError(f"token ids {bad} outside the vocabulary [0, {vocab})")
    p = _params(weights)
    st = init_state(version, weights) if state is None else \
        {k: np.array(v, dtype=np.float64) for k, v in state.items()}
    logits = []
    for tok in tokens:
        x = layer_norm(p["emb.weight"][tok], p["blocks.0.ln0.weight"], p["blocks.0.ln0.bias"])
        v_first = None
        for i in range(layers):
            b = f"blocks.{i}."
            xa = layer_norm(x, p[b + "ln1.weight"], p[b + "ln1.bias"])
            prev, st["att_x"][i] = st["att_x"][i].copy(), xa
            if version == 5:
                out, st["wkv"][i] = _att_v5(p, b + "att.", xa, prev, st["wkv"][i], heads)
            elif version == 6:
                out, st["wkv"][i] = _att_v6(p, b + "att.", xa, prev, st["wkv"][i], heads)
            else:
                out, st["wkv"][i], v_first = _att_v7(p, b + "att.", i, xa, prev,
                                                     st["wkv"][i], v_first, heads)
            if state_quant:
                # The value axis: last for 5.2/6 ([H, key, value]), the
                # middle one for 7 ([H, value, key]).
                bits, group, *rotate = state_quant
                st["wkv"][i] = state_quant_ref.store(
                    st["wkv"][i], bits, group, axis=1 if version == 7 else 2,
                    rotate=bool(rotate and rotate[0]))
            x = x + out
            xf = layer_norm(x, p[b + "ln2.weight"], p[b + "ln2.bias"])
            prev, st["ffn_x"][i] = st["ffn_x"][i].copy(), xf
            ffn = {5: _ffn_v5, 6: _ffn_v6, 7: _ffn_v7}[version]
            x = x + ffn(p, b + "ffn.", xf, prev)
        x = layer_norm(x, p["ln_out.weight"], p["ln_out.bias"])
        logits.append(p["head.weight"] @ x)
    logits = np.array(logits, dtype=np.float64).reshape(len(tokens), -1)
    return (logits, st) if return_state else logits


# --- Sequence form (for self-checks) -----------------------------------------------
#
# Layer by layer over the whole sequence, with the WKV in closed form instead
# of the recurrence:
#   5.2 / 6: y_t = sum_i r_ti (u_i k_ti v_t + sum_{s<t} (prod_{s<q<t} w_qi) k_si v_s)
#   7:       y_t = sum_{s<=t} v_s (k_s^T M_{s+1} ... M_t r_t),
#            M_q = diag(decay_q) - kk_q (kk_q * a_q)^T  (acting on the key index)

def _shift(xs, prev=None):
    first = np.zeros_like(xs[:1]) if prev is None else prev[None, :]
    return np.concatenate([first, xs[:-1]], axis=0)


def forward_sequence(version, weights, tokens):
    """Same logits as forward(), computed in sequence (parallel) form."""
    version = normalize_version(version)
    _, layers, embd, heads, n, _, _ = detect(weights)
    p = _params(weights)
    T = len(tokens)
    x = layer_norm(p["emb.weight"][np.asarray(tokens)], p["blocks.0.ln0.weight"],
                   p["blocks.0.ln0.bias"])
    v_first = None
    for i in range(layers):
        b = f"blocks.{i}."
        a = b + "att."
        xa = layer_norm(x, p[b + "ln1.weight"], p[b + "ln1.bias"])
        pa = _shift(xa)
        if version in (5, 6):
            if version == 5:
                mix = {m: _vec(p, a + "time_mix_" + m) for m in "kvrg"
                       if a + "time_mix_" + m in p}
                xm = {m: xa * mix[m] + pa * (1 - mix[m]) for m in mix}
                logw5, u = _v5_decay_bonus(p, a, heads, n)
                logw = np.broadcast_to(logw5.reshape(-1), (T, embd))
            else:
                sx = pa - xa
                lo = np.tanh((xa + sx * _vec(p, a + "time_maa_x")) @ p[a + "time_maa_w1"])
                w2 = p[a + "time_maa_w2"]
                lo = lo.reshape(T, 5, w2.shape[1])
                xm = {}
                for j, m in enumerate("wkvrg"):
                    xm[m] = xa + sx * (_vec(p, a + "time_maa_" + m) + lo[:, j] @ w2[j])
                d = _vec(p, a + "time_decay") + \
                    np.tanh(xm["w"] @ p[a + "time_decay_w1"]) @ p[a + "time_decay_w2"]
                logw = -np.exp(d)
            r = (xm["r"] @ p[a + "receptance.weight"].T).reshape(T, heads, n)
            k = (xm["k"] @ p[a + "key.weight"].T).reshape(T, heads, n)
            v = (xm["v"] @ p[a + "value.weight"].T).reshape(T, heads, n)
            if version == 5:
                g = silu(xm["g"] @ p[a + "gate.weight"].T) if "g" in xm else 1.0
            else:
                g = silu(xm["g"] @ p[a + "gate.weight"].T)
                u = p[a + "time_faaaa"].reshape(heads, n)
            cum = np.cumsum(logw.reshape(T, heads, n), axis=0)   # L_t = sum_{q<=t} log w_q
            y = np.einsum("thi,hi,thi,thj->thj", r, u, k, v)
            for t in range(T):
                for s_ in range(t):
                    # prod_{s<q<t} w_q = exp(L_{t-1} - L_s)
                    dec = np.exp(cum[t - 1] - cum[s_])
                    y[t] += np.einsum("hi,hi,hi,hj->hj", r[t], dec, k[s_], v[s_])
            y = group_norm(y.reshape(T, embd), heads, p[a + "ln_x.weight"], p[a + "ln_x.bias"])
            x = x + (y * g) @ p[a + "output.weight"].T
        else:
            dd = pa - xa
            xm = {m: xa + dd * _vec(p, a + "x_" + m) for m in "rwkvag"}
            r = xm["r"] @ p[a + "receptance.weight"].T
            k = xm["k"] @ p[a + "key.weight"].T
            v = xm["v"] @ p[a + "value.weight"].T
            z = _vec(p, a + "w0") + np.tanh(xm["w"] @ p[a + "w1"]) @ p[a + "w2"]
            decay = np.exp(-np.exp(-0.5) * sigmoid(z))               # fused form
            aa = sigmoid(_vec(p, a + "a0") + (xm["a"] @ p[a + "a1"]) @ p[a + "a2"])
            g = sigmoid(xm["g"] @ p[a + "g1"]) @ p[a + "g2"]
            kk = l2_normalize_heads(k * _vec(p, a + "k_k"), heads)
            k = k * (1 + (aa - 1) * _vec(p, a + "k_a"))
            if i == 0:
                v_first = v
            else:
                gate = sigmoid(_vec(p, a + "v0") + (xm["v"] @ p[a + "v1"]) @ p[a + "v2"])
                v = v + (v_first - v) * gate
            rh, kh, vh, kkh, ah, dh = (q.reshape(T, heads, n) for q in (r, k, v, kk, aa, decay))
            y = np.zeros((T, heads, n))
            for t in range(T):
                for h in range(heads):
                    zvec = rh[t, h].copy()            # M_{s+1} ... M_t r_t
                    for s_ in range(t, -1, -1):
                        y[t, h] += vh[s_, h] * (kh[s_, h] @ zvec)
                        m = np.diag(dh[s_, h]) - np.outer(kkh[s_, h], kkh[s_, h] * ah[s_, h])
                        zvec = m @ zvec
            y = group_norm(y.reshape(T, embd), heads, p[a + "ln_x.weight"], p[a + "ln_x.bias"])
            bonus = (rh * kh * p[a + "r_k"].reshape(heads, n)).sum(-1, keepdims=True) * vh
            y = y + bonus.reshape(T, embd)
            x = x + (y * g) @ p[a + "output.weight"].T
        fn = b + "ffn."
        xf = layer_norm(x, p[b + "ln2.weight"], p[b + "ln2.bias"])
        pf = _shift(xf)
        if version == 7:
            xk = xf + (pf - xf) * _vec(p, fn + "x_k")
            x = x + (np.maximum(xk @ p[fn + "key.weight"].T, 0.0) ** 2) @ p[fn + "value.weight"].T
        else:
            if version == 5:
                mk, mr = _vec(p, fn + "time_mix_k"), _vec(p, fn + "time_mix_r")
                xk, xr = xf * mk + pf * (1 - mk), xf * mr + pf * (1 - mr)
            else:
                xk = xf + (pf - xf) * _vec(p, fn + "time_maa_k")
                xr = xf + (pf - xf) * _vec(p, fn + "time_maa_r")
            rr = sigmoid(xr @ p[fn + "receptance.weight"].T)
            kf = np.maximum(xk @ p[fn + "key.weight"].T, 0.0) ** 2
            x = x + rr * (kf @ p[fn + "value.weight"].T)
    x = layer_norm(x, p["ln_out.weight"], p["ln_out.bias"])
    return x @ p["head.weight"].T


# --- Self-checks -----------------------------------------------------------------

def selfcheck(verbose=True):
    """Consistency checks of this module; raises AssertionError on failure."""
    cases = [
        (5, dict(layers=2, embd=32, heads=4, vocab=97)),
        ("5.0", dict(layers=2, embd=32, heads=4, vocab=97)),
        ("5.1", dict(layers=2, embd=32, heads=2, vocab=97)),
        (6, dict(layers=2, embd=32, heads=2, vocab=97, lora=8)),
        (7, dict(layers=3, embd=32, heads=4, vocab=97, lora=(8, 8, 8, 16))),
        (7, dict(layers=2, embd=48, heads=3, vocab=50, v7_layer0_v=False)),
    ]
    tokens = [3, 1, 4, 1, 5, 9, 2, 6]
    for version, kw in cases:
        w = random_weights(version, seed=7, **kw)
        got = detect(w)
        assert got[:5] == (normalize_version(version), kw["layers"], kw["embd"], kw["heads"],
                           kw["embd"] // kw["heads"]), got
        assert got[5] == default_ffn(version, kw["embd"]) and got[6] == kw["vocab"], got
        for name, shape in shapes(version, kw["layers"], kw["embd"], kw["heads"],
                                  kw["vocab"], None, kw.get("lora"),
                                  kw.get("v7_layer0_v", True)).items():
            assert w[name].shape == shape and w[name].dtype == np.float32, name
        a = forward(version, w, tokens)
        b = forward(version, w, tokens)
        assert a.shape == (len(tokens), kw["vocab"]) and np.isfinite(a).all()
        assert np.array_equal(a, b), "not deterministic"
        seq = forward_sequence(version, w, tokens)
        err = np.abs(a - seq).max()
        assert err < 1e-9, f"v{version}: RNN vs sequence form differ by {err}"
        # Prefix property and the state hand-over.
        head, st = forward(version, w, tokens[:5], return_state=True)
        tail = forward(version, w, tokens[5:], state=st)
        assert np.abs(np.concatenate([head, tail]) - a).max() < 1e-12
        # Sensitivity: another token changes that row and the later ones.
        other = list(tokens)
        other[2] = 7
        c = forward(version, w, other)
        assert np.array_equal(c[:2], a[:2])
        assert all(np.abs(c[t] - a[t]).max() > 1e-6 for t in range(2, len(tokens)))
        # Another checkpoint changes the logits.
        w2 = random_weights(version, seed=8, **kw)
        assert np.abs(forward(version, w2, tokens) - a).max() > 1e-3
        if verbose:
            print(f"v{version} {kw}: |logits| max {np.abs(a).max():.3f} "
                  f"std {a.std():.3f}, RNN vs sequence {err:.2e}")
    if verbose:
        print("selfcheck ok")


# --- Command line ------------------------------------------------------------------

def _random(args):
    lora = None
    if args.lora:
        lora = [int(d) for d in args.lora.split(",")]
    weights = random_weights(args.version, args.layers, args.embd, args.heads,
                             args.vocab, args.ffn, lora, args.seed,
                             v7_layer0_v=not args.no_layer0_v)
    if args.format == "pth":
        checkpoint.write_pth(args.output, weights, args.dtype)
    else:
        checkpoint.write_safetensors(args.output, weights, args.dtype)
    if args.npz:
        global GN_EPS
        if args.gn_eps is not None:
            GN_EPS = args.gn_eps
        tokens = [int(t) for t in args.tokens.split(",")]
        stored = {k: checkpoint.round_to_dtype(v, args.dtype) for k, v in weights.items()}
        if args.int8_reference:
            stored = checkpoint.int8_roundtrip(stored, args.int8_activations)
        if fmt := checkpoint.reference_group(args):
            stored = checkpoint.group_roundtrip(stored, fmt)
        quant = ((args.state_bits, args.state_group, args.state_rotate)
                 if args.state_bits else None)
        logits = forward(args.version, stored, tokens, state_quant=quant)
        np.savez(args.npz, tokens=np.array(tokens, dtype=np.int64), logits=logits)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    r = sub.add_parser("random", help="random RWKV-5.2/6/7 weights (+ reference logits)")
    r.add_argument("--version", required=True,
                   help="5 (5.2), 5.0, 5.1, 6 or 7 (x070)")
    r.add_argument("--gn-eps", type=float, default=None,
                   help="epsilon of ln_x in the --npz reference (default 64e-5)")
    r.add_argument("--layers", type=int, required=True)
    r.add_argument("--embd", type=int, required=True)
    r.add_argument("--heads", type=int, required=True)
    r.add_argument("--vocab", type=int, required=True)
    r.add_argument("--ffn", type=int, default=None,
                   help="default int(3.5 C)//32*32 (5.2, 6), 4 C (7)")
    r.add_argument("--lora", default=None,
                   help="LoRA width D (v6: D and 2D; v7: D for w, a, v, g) "
                        "or a list: v6 'maa,decay', v7 'w,a,v,g'")
    r.add_argument("--no-layer0-v", action="store_true",
                   help="v7: leave att.v0/v1/v2 out of block 0")
    r.add_argument("--seed", type=int, default=0)
    r.add_argument("--dtype", choices=("fp32", "fp16", "bf16"), default="fp32")
    r.add_argument("--int8-reference", action="store_true",
                   help="compute the --npz logits with the projections as "
                        "seqc's int8 weights store them")
    r.add_argument("--q4-reference", action="store_true",
                   help="compute the --npz logits with the projections as "
                        "seqc's q4 weights store and compute them")
    r.add_argument("--group-reference", choices=checkpoint.GROUP_FORMATS,
                   help="compute the --npz logits with the projections as "
                        "seqc's weights of that group format store and compute them")
    r.add_argument("--q4k-reference", action="store_true",
                   help="compute the --npz logits with the projections as "
                        "seqc's q4k weights store and compute them")
    r.add_argument("--int8-activations", type=int, metavar="BLOCK",
                   help="with --int8-reference: the projections' activations "
                        "rounded to int8 per block of BLOCK channels, as "
                        "seqc's integer kernels (--int8-dot) do")
    r.add_argument("--format", choices=("pth", "safetensors"), default="pth")
    r.add_argument("-o", "--output", required=True)
    r.add_argument("--npz", help="also write tokens and reference logits here")
    r.add_argument("--tokens", default="0", help="comma-separated ids for --npz")
    r.add_argument("--state-bits", type=int, choices=(4, 8),
                   help="the --npz logits with the WKV state kept quantized "
                        "between tokens (seqc compile --state=intB)")
    r.add_argument("--state-group", type=int, default=32)
    r.add_argument("--state-rotate", action="store_true",
                   help="with --state-bits: quantized with each head's values "
                        "rotated (seqc compile --state-rotate)")
    r.set_defaults(run=_random)
    c = sub.add_parser("selfcheck", help="run the internal consistency checks")
    c.set_defaults(run=lambda args: selfcheck())
    args = parser.parse_args(argv)
    args.run(args)


if __name__ == "__main__":
    main()
