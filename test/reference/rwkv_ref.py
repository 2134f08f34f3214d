"""Independent numpy references for the seq dialect's recurrences.

Written from the RWKV papers and the op descriptions in docs/generated/Seq.md,
in float64 and in the direct (not the numerically stabilized) form, so that
they share no code or formulation with the compiler's lowering.
"""

import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import state_quant_ref  # noqa: E402


def token_shift(x, prev):
    """shifted[0] = prev, shifted[t] = x[t-1]; last = x[T-1]."""
    shifted = np.concatenate([prev[None, :], x[:-1]], axis=0)
    return shifted, x[-1].copy()


def wkv4(k, v, w, u, state):
    """RWKV-4 WKV, direct form.

    The stable state (aa, bb, pp) stands for the sums A = aa * exp(pp) and
    B = bb * exp(pp) of exp-weighted past values and weights:
        y[t] = (A + exp(u + k[t]) v[t]) / (B + exp(u + k[t]))
        A    = exp(w) A + exp(k[t]) v[t],   B = exp(w) B + exp(k[t])
    Returns y and the final (A, B).
    """
    k, v, w, u = (np.asarray(a, dtype=np.float64) for a in (k, v, w, u))
    aa, bb, pp = (np.asarray(r, dtype=np.float64) for r in state)
    a_sum, b_sum = aa * np.exp(pp), bb * np.exp(pp)
    y = np.empty_like(k)
    for t in range(k.shape[0]):
        bonus = np.exp(u + k[t])
        y[t] = (a_sum + bonus * v[t]) / (b_sum + bonus)
        a_sum = np.exp(w) * a_sum + np.exp(k[t]) * v[t]
        b_sum = np.exp(w) * b_sum + np.exp(k[t])
    return y, a_sum, b_sum


# --- A whole RWKV-4 model ---------------------------------------------------
#
# Official RWKV-4 checkpoint names and shapes (C = n_embd, F = ffn size,
# V = vocabulary), in the order the official model's state_dict lists them:
#   emb.weight [V, C]
#   blocks.i.ln1.{weight,bias}, blocks.i.ln2.{weight,bias} [C]
#   blocks.0.ln0.{weight,bias} [C]                  (first block only)
#   blocks.i.att.time_decay, .time_first [C]
#   blocks.i.att.time_mix_{k,v,r} [1, 1, C]
#   blocks.i.att.{key,value,receptance,output}.weight [C, C]
#   blocks.i.ffn.time_mix_{k,r} [1, 1, C]
#   blocks.i.ffn.key.weight [F, C], .receptance.weight [C, C],
#   blocks.i.ffn.value.weight [C, F]
#   ln_out.{weight,bias} [C], head.weight [V, C]

LN_EPS = 1e-5
EMPTY_PP = -1e30  # pp of a fresh state: aa = bb = 0 stand for A = B = 0


def rwkv4_shapes(n_layer, n_embd, vocab, ffn=None):
    """Official RWKV-4 parameter names and shapes, in state_dict order."""
    c, f = n_embd, ffn or 4 * n_embd
    shapes = {"emb.weight": (vocab, c)}
    for i in range(n_layer):
        b = f"blocks.{i}."
        for ln in ("ln1", "ln2") + (("ln0",) if i == 0 else ()):
            shapes[b + ln + ".weight"] = (c,)
            shapes[b + ln + ".bias"] = (c,)
        shapes[b + "att.time_decay"] = (c,)
        shapes[b + "att.time_first"] = (c,)
        for m in "kvr":
            shapes[b + "att.time_mix_" + m] = (1, 1, c)
        for proj in ("key", "value", "receptance", "output"):
            shapes[b + f"att.{proj}.weight"] = (c, c)
        for m in "kr":
            shapes[b + "ffn.time_mix_" + m] = (1, 1, c)
        shapes[b + "ffn.key.weight"] = (f, c)
        shapes[b + "ffn.receptance.weight"] = (c, c)
        shapes[b + "ffn.value.weight"] = (c, f)
    shapes["ln_out.weight"] = (c,)
    shapes["ln_out.bias"] = (c,)
    shapes["head.weight"] = (vocab, c)
    return shapes


def random_rwkv4_weights(n_layer, n_embd, vocab, ffn=None, seed=0):
    """Random float32 RWKV-4 weights with the official names and shapes.

    Values are in the ranges a trained model has: log-decays time_decay in
    U(-2, 2) (so w = -exp(time_decay) lies in [-7.4, -0.14]), time_first in
    U(-1, 1), mixes in U(0, 1), matrices N(0, 1/fan_in) (unit-scale outputs),
    layer-norm weights 1 + N(0, 0.1^2) and biases N(0, 0.1^2).
    """
    rng = np.random.default_rng(seed)
    weights = {}
    for name, shape in rwkv4_shapes(n_layer, n_embd, vocab, ffn).items():
        if name == "emb.weight":
            a = rng.normal(0.0, 1.0, shape)
        elif name.endswith("time_decay"):
            a = rng.uniform(-2.0, 2.0, shape)
        elif name.endswith("time_first"):
            a = rng.uniform(-1.0, 1.0, shape)
        elif ".time_mix_" in name:
            a = rng.uniform(0.0, 1.0, shape)
        elif len(shape) == 1:  # layer norms
            base = 1.0 if name.endswith(".weight") else 0.0
            a = base + rng.normal(0.0, 0.1, shape)
        else:
            a = rng.normal(0.0, 1.0 / np.sqrt(shape[1]), shape)
        weights[name] = a.astype(np.float32)
    return weights


def rwkv4_init_state(n_layer, n_embd):
    """A fresh RWKV-4 state [n_layer, 5, C].

    Rows per layer: att_prev_x, aa, bb, pp, ffn_prev_x, where (aa, bb, pp) is
    the numerically stable WKV state: A = aa * exp(pp), B = bb * exp(pp).
    """
    state = np.zeros((n_layer, 5, n_embd), dtype=np.float64)
    state[:, 3, :] = EMPTY_PP
    return state


def stable_to_direct(aa, bb, pp):
    """(aa, bb, pp) -> the sums (A, B); a fresh state (aa = bb = 0) gives 0."""
    scale = np.exp(pp)  # exp(-1e30) is exactly 0
    return aa * scale, bb * scale


def direct_to_stable(a_sum, b_sum):
    """(A, B) -> (aa, bb, pp) with pp = log(B), aa = A / B and bb = 1.

    Channels with B = 0 (nothing seen yet) get the fresh state 0, 0, -1e30.
    """
    seen = b_sum > 0
    safe_b = np.where(seen, b_sum, 1.0)
    aa = np.where(seen, a_sum / safe_b, 0.0)
    bb = np.where(seen, 1.0, 0.0)
    pp = np.where(seen, np.log(safe_b), EMPTY_PP)
    return aa, bb, pp


def layer_norm(x, weight, bias):
    """LayerNorm over the last axis (biased variance, eps 1e-5)."""
    mean = x.mean(axis=-1, keepdims=True)
    var = ((x - mean) ** 2).mean(axis=-1, keepdims=True)
    return (x - mean) / np.sqrt(var + LN_EPS) * weight + bias


def sigmoid(x):
    """Logistic function."""
    return 1.0 / (1.0 + np.exp(-x))


def rwkv4_n_layer(weights):
    """Number of blocks in an RWKV-4 weight dict."""
    n = 0
    while f"blocks.{n}.att.key.weight" in weights:
        n += 1
    return n


def rwkv4_forward(weights, tokens, state=None, state_quant=None):
    """Runs RWKV-4 token by token (RNN form) in float64.

    weights: official names (see rwkv4_shapes), any float dtype.
    tokens:  token ids; state: [L, 5, C] as from rwkv4_init_state (None for a
    fresh one). The WKV recurrence runs on the direct sums A, B, converted
    from and to the stable (aa, bb, pp) rows at the state boundary; a
    returned state therefore has pp = log(B), aa = A / B, bb = 1 and is
    compared with another stable state through stable_to_direct.
    state_quant: (bits, group) to keep the state quantized between tokens
    as `seqc compile --state=intB --state-group=G` does: after every token
    the mean A / B is stored (state_quant_ref.store) and A becomes the
    stored mean times B.
    Returns (logits [T, V] float64, new state [L, 5, C] float64).
    """
    # Projections that round their activations (checkpoint.Int8Projection)
    # stay objects with `@`.
    p = {k: v if hasattr(v, "rounds_activations") else np.asarray(v, dtype=np.float64)
         for k, v in weights.items()}
    n_layer = rwkv4_n_layer(p)
    n_embd = p["emb.weight"].shape[1]
    state = (rwkv4_init_state(n_layer, n_embd) if state is None
             else np.array(state, dtype=np.float64))
    att_x = state[:, 0].copy()
    ffn_x = state[:, 4].copy()
    a_sum, b_sum = stable_to_direct(state[:, 1], state[:, 2], state[:, 3])

    logits = []
    for tok in tokens:
        x = layer_norm(p["emb.weight"][tok], p["blocks.0.ln0.weight"],
                       p["blocks.0.ln0.bias"])
        for i in range(n_layer):
            b = f"blocks.{i}."
            # Time mixing (attention).
            xx = layer_norm(x, p[b + "ln1.weight"], p[b + "ln1.bias"])
            mk, mv, mr = (p[b + "att.time_mix_" + m].reshape(-1) for m in "kvr")
            xk = xx * mk + att_x[i] * (1 - mk)
            xv = xx * mv + att_x[i] * (1 - mv)
            xr = xx * mr + att_x[i] * (1 - mr)
            att_x[i] = xx
            r = sigmoid(p[b + "att.receptance.weight"] @ xr)
            k = p[b + "att.key.weight"] @ xk
            v = p[b + "att.value.weight"] @ xv
            w = -np.exp(p[b + "att.time_decay"])
            u = p[b + "att.time_first"]
            bonus = np.exp(u + k)
            y = (a_sum[i] + bonus * v) / (b_sum[i] + bonus)
            a_sum[i] = np.exp(w) * a_sum[i] + np.exp(k) * v
            b_sum[i] = np.exp(w) * b_sum[i] + np.exp(k)
            if state_quant:
                a_sum[i] = state_quant_ref.store(a_sum[i] / b_sum[i],
                                                 *state_quant) * b_sum[i]
            x = x + p[b + "att.output.weight"] @ (r * y)
            # Channel mixing (feed-forward).
            xx = layer_norm(x, p[b + "ln2.weight"], p[b + "ln2.bias"])
            mk, mr = (p[b + "ffn.time_mix_" + m].reshape(-1) for m in "kr")
            xk = xx * mk + ffn_x[i] * (1 - mk)
            xr = xx * mr + ffn_x[i] * (1 - mr)
            ffn_x[i] = xx
            r = sigmoid(p[b + "ffn.receptance.weight"] @ xr)
            k = np.maximum(p[b + "ffn.key.weight"] @ xk, 0.0) ** 2
            x = x + r * (p[b + "ffn.value.weight"] @ k)
        x = layer_norm(x, p["ln_out.weight"], p["ln_out.bias"])
        logits.append(p["head.weight"] @ x)

    aa, bb, pp = direct_to_stable(a_sum, b_sum)
    new_state = np.stack([att_x, aa, bb, pp, ffn_x], axis=1)
    return np.array(logits).reshape(len(tokens), -1), new_state
