"""Independent numpy reference for RWKV-4 with multiple temporal perspectives.

Multiple Temporal Perspectives (Dumitru, Peteleaza, Surdeanu, arXiv
2402.02625) runs P parallel copies ("perspectives") of an RWKV-4 residual
stream through every layer. All weights are shared except the token-shift
mixing coefficients, which are stored [P, 1, 1, C] per perspective:
att.time_mix_{k,v,r} and ffn.time_mix_{k,r}. After the last layer a combiner
W_c = convert3.weight [P, C] weighs the perspectives:

    h_p    = LN_out(x_p)                           [P, C]
    alpha  = softmax over p of  W_c . mean_p(h_p)  [P]
    logits = sum_p alpha_p (W_head h_p)            [V]

Everything is float64. The RNN form (persp_forward) runs each perspective
with the same expressions, in the same order, as rwkv_ref.rwkv4_forward
(the direct, not the stabilized, WKV form), so that P = 1 is bit for bit the
stock RWKV-4 reference; the parallel form (persp_forward_parallel) is the
GPT-mode computation of the paper's trainer: whole-sequence token shift and
a WKV written as a masked [T, T] decay matrix per channel. Neither shares
code or formulation with the compiler's lowering.

State layout (the compiled model's, too): [L, 5, P, C], rows per layer
att_prev_x, aa, bb, pp, ffn_prev_x, each with one [C] row per perspective.

Command line:

    perspectives_ref.py selfcheck
        checks (a)-(e) of the design (see `selfcheck`), prints one line each;
    perspectives_ref.py random --layers L --embd C --vocab V --perspectives P
        [--ffn F] [--seed S] [--dtype fp32|fp16|bf16] [--wc-std S] -o OUT.pth
        [--npz REF.npz --tokens 1,2,3 [--int8-reference]]
        a random checkpoint in the official layout, and the reference logits
        [T, V] and final state [L, 5, P, C] on the weights as stored;
    perspectives_ref.py from-rwkv4 IN.pth -P 4 [--seed S] -o OUT.pth
        an RWKV-4 checkpoint turned into a P-perspective one as the paper's
        trainer does: each time_mix cloned P times, convert3.weight drawn
        from N(0, 0.01^2);
    perspectives_ref.py bad DIR
        malformed checkpoints for the import's error tests;
    perspectives_ref.py check CKPT.pth --tokens ... --logits GOT.f32
        [--state GOT.f32] [--weights fp32|fp16|int8|q4] [--tol T] [--label L]
        the compiled model's logits (and final state) against the reference.
"""

import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import checkpoint  # noqa: E402
import rwkv_ref  # noqa: E402
from rwkv_ref import layer_norm, sigmoid  # noqa: E402

ATT_MIX = tuple("att.time_mix_" + m for m in "kvr")
FFN_MIX = tuple("ffn.time_mix_" + m for m in "kr")
COMBINER = "convert3.weight"


# --- Checkpoints --------------------------------------------------------------

def is_mix(name):
    """True for the per-perspective token-shift coefficients."""
    return any(name.endswith(m) for m in ATT_MIX + FFN_MIX)


def num_perspectives(weights):
    """P: the leading dimension of the [P, 1, 1, C] time_mix tensors."""
    return int(np.shape(weights[COMBINER])[0]) if COMBINER in weights else 1


def mix(weights, name, p):
    """Perspective p's [C] coefficients of a time_mix tensor ([P,1,1,C] or
    the stock [1,1,C])."""
    a = np.asarray(weights[name])
    if a.ndim == 4:
        return a[p].reshape(-1)
    return a.reshape(-1)


def random_persp_weights(n_layer, n_embd, vocab, n_persp, ffn=None, seed=0,
                         wc_std=None):
    """Random float32 P-perspective RWKV-4 weights, official layout.

    The shared weights are rwkv_ref.random_rwkv4_weights'; every time_mix is
    [P, 1, 1, C] with independent U(0, 1) values per perspective, and
    convert3.weight [P, C] is N(0, wc_std^2), by default 1/sqrt(C): unit-
    scale combiner scores, so alpha is far from uniform and a wrong
    combiner shows (the trainer's N(0, 0.01^2) makes alpha almost uniform).
    """
    weights = rwkv_ref.random_rwkv4_weights(n_layer, n_embd, vocab, ffn, seed)
    rng = np.random.default_rng(seed + 1000003)
    out = {}
    for name, a in weights.items():
        if is_mix(name):
            a = rng.uniform(0.0, 1.0, (n_persp, 1, 1, n_embd)).astype(np.float32)
        out[name] = a
    std = wc_std if wc_std is not None else 1.0 / np.sqrt(n_embd)
    out[COMBINER] = rng.normal(0.0, std, (n_persp, n_embd)).astype(np.float32)
    return out


def from_rwkv4(weights, n_persp, seed=0, wc_std=0.01):
    """A stock RWKV-4 weight dict as a P-perspective one, as the paper's
    trainer converts it: each time_mix [1, 1, C] becomes P stacked clones
    [P, 1, 1, C] (identical perspectives), convert3.weight ~ N(0, wc_std^2)."""
    out = {}
    for name, a in weights.items():
        a = np.asarray(a)
        if is_mix(name):
            a = np.stack([a.reshape(1, 1, -1)] * n_persp, axis=0)
        out[name] = a
    c = np.shape(weights["emb.weight"])[1]
    rng = np.random.default_rng(seed)
    out[COMBINER] = rng.normal(0.0, wc_std, (n_persp, c)).astype(np.float32)
    return out


def init_state(n_layer, n_embd, n_persp):
    """A fresh state [L, 5, P, C] (pp = -1e30, the rest 0)."""
    state = np.zeros((n_layer, 5, n_persp, n_embd), dtype=np.float64)
    state[:, 3] = rwkv_ref.EMPTY_PP
    return state


# --- The combiner ---------------------------------------------------------------

def combine(h, wc):
    """alpha [P] = softmax over p of W_c . mean_p(h_p); h [P, C], wc [P, C]."""
    scores = wc @ h.mean(axis=0)
    e = np.exp(scores - scores.max())
    return e / e.sum()


def mixed_logits(head, h, alpha):
    """sum_p alpha_p (W_head h_p): each perspective projected, then weighed.
    A head whose products round their activations (the integer kernels'
    int8 head under --weights=q4) sees the mixed vector W_head (sum_p
    alpha_p h_p), as seq-perspective-head-once computes it: the same sum
    in exact arithmetic, not once the activations are rounded."""
    if getattr(head, "rounds_activations", False):
        return head @ (alpha @ h)
    out = np.zeros(head.shape[0])
    for p in range(h.shape[0]):
        out = out + alpha[p] * (head @ h[p])
    return out


# --- RNN mode -------------------------------------------------------------------

def persp_forward(weights, tokens, state=None, return_alpha=False):
    """Token by token (RNN form), float64: logits [T, V], state [L, 5, P, C]
    (and alpha [T, P] with return_alpha).

    Per perspective the block is rwkv_ref.rwkv4_forward's, with that
    perspective's mixing coefficients and state rows.
    """
    p_ = {k: v if hasattr(v, "rounds_activations") else np.asarray(v, dtype=np.float64)
          for k, v in weights.items()}
    n_layer = rwkv_ref.rwkv4_n_layer(p_)
    n_embd = p_["emb.weight"].shape[1]
    n_persp = num_perspectives(p_)
    wc = p_.get(COMBINER, np.zeros((1, n_embd)))
    state = (init_state(n_layer, n_embd, n_persp) if state is None
             else np.array(state, dtype=np.float64).reshape(n_layer, 5, n_persp, n_embd))
    att_x = state[:, 0].copy()
    ffn_x = state[:, 4].copy()
    a_sum, b_sum = rwkv_ref.stable_to_direct(state[:, 1], state[:, 2], state[:, 3])

    logits, alphas = [], []
    for tok in tokens:
        x0 = layer_norm(p_["emb.weight"][tok], p_["blocks.0.ln0.weight"],
                        p_["blocks.0.ln0.bias"])
        h = np.empty((n_persp, n_embd))
        for q in range(n_persp):
            x = x0
            for i in range(n_layer):
                b = f"blocks.{i}."
                xx = layer_norm(x, p_[b + "ln1.weight"], p_[b + "ln1.bias"])
                mk, mv, mr = (mix(p_, b + "att.time_mix_" + m, q) for m in "kvr")
                xk = xx * mk + att_x[i, q] * (1 - mk)
                xv = xx * mv + att_x[i, q] * (1 - mv)
                xr = xx * mr + att_x[i, q] * (1 - mr)
                att_x[i, q] = xx
                r = sigmoid(p_[b + "att.receptance.weight"] @ xr)
                k = p_[b + "att.key.weight"] @ xk
                v = p_[b + "att.value.weight"] @ xv
                w = -np.exp(p_[b + "att.time_decay"])
                u = p_[b + "att.time_first"]
                bonus = np.exp(u + k)
                y = (a_sum[i, q] + bonus * v) / (b_sum[i, q] + bonus)
                a_sum[i, q] = np.exp(w) * a_sum[i, q] + np.exp(k) * v
                b_sum[i, q] = np.exp(w) * b_sum[i, q] + np.exp(k)
                x = x + p_[b + "att.output.weight"] @ (r * y)
                xx = layer_norm(x, p_[b + "ln2.weight"], p_[b + "ln2.bias"])
                mk, mr = (mix(p_, b + "ffn.time_mix_" + m, q) for m in "kr")
                xk = xx * mk + ffn_x[i, q] * (1 - mk)
                xr = xx * mr + ffn_x[i, q] * (1 - mr)
                ffn_x[i, q] = xx
                r = sigmoid(p_[b + "ffn.receptance.weight"] @ xr)
                k = np.maximum(p_[b + "ffn.key.weight"] @ xk, 0.0) ** 2
                x = x + r * (p_[b + "ffn.value.weight"] @ k)
            h[q] = layer_norm(x, p_["ln_out.weight"], p_["ln_out.bias"])
        alpha = combine(h, wc)
        alphas.append(alpha)
        logits.append(mixed_logits(p_["head.weight"], h, alpha))

    aa, bb, pp = rwkv_ref.direct_to_stable(a_sum, b_sum)
    new_state = np.stack([att_x, aa, bb, pp, ffn_x], axis=1)
    logits = np.array(logits).reshape(len(tokens), -1)
    if return_alpha:
        return logits, new_state, np.array(alphas)
    return logits, new_state


# --- GPT mode (parallel over the sequence) ------------------------------------

def _wkv_parallel(k, v, w, u):
    """WKV of a whole sequence at once: [T, C] inputs, fresh state.

    y[t] = (sum_{i<t} e^{(t-1-i) w + k_i} v_i + e^{u + k_t} v_t)
         / (sum_{i<t} e^{(t-1-i) w + k_i}     + e^{u + k_t})
    written as a [T, T, C] weight tensor (masked, upper triangle zero).
    """
    t_len = k.shape[0]
    t = np.arange(t_len)
    lag = (t[:, None] - 1 - t[None, :]).astype(np.float64)  # t-1-i
    past = (t[None, :] < t[:, None])[:, :, None]
    expo = np.where(past, lag[:, :, None] * w[None, None, :] + k[None, :, :], -np.inf)
    weight = np.exp(expo)  # [T, T, C]
    diag = np.exp(u[None, :] + k)
    num = (weight * v[None, :, :]).sum(axis=1) + diag * v
    den = weight.sum(axis=1) + diag
    return num / den


def persp_forward_parallel(weights, tokens):
    """GPT-mode logits [T, V] from a fresh state: each perspective's whole
    sequence per layer (token shift by zero padding), the combiner per
    position."""
    p_ = {k: np.asarray(v, dtype=np.float64) for k, v in weights.items()}
    n_layer = rwkv_ref.rwkv4_n_layer(p_)
    n_embd = p_["emb.weight"].shape[1]
    n_persp = num_perspectives(p_)
    wc = p_.get(COMBINER, np.zeros((1, n_embd)))
    toks = np.asarray(tokens)

    def shift(a):
        return np.concatenate([np.zeros((1, a.shape[1])), a[:-1]], axis=0)

    h = np.empty((n_persp, len(toks), n_embd))
    for q in range(n_persp):
        x = layer_norm(p_["emb.weight"][toks], p_["blocks.0.ln0.weight"],
                       p_["blocks.0.ln0.bias"])
        for i in range(n_layer):
            b = f"blocks.{i}."
            xx = layer_norm(x, p_[b + "ln1.weight"], p_[b + "ln1.bias"])
            sx = shift(xx)
            mk, mv, mr = (mix(p_, b + "att.time_mix_" + m, q) for m in "kvr")
            r = sigmoid((xx * mr + sx * (1 - mr)) @ p_[b + "att.receptance.weight"].T)
            k = (xx * mk + sx * (1 - mk)) @ p_[b + "att.key.weight"].T
            v = (xx * mv + sx * (1 - mv)) @ p_[b + "att.value.weight"].T
            y = _wkv_parallel(k, v, -np.exp(p_[b + "att.time_decay"]),
                              p_[b + "att.time_first"])
            x = x + (r * y) @ p_[b + "att.output.weight"].T
            xx = layer_norm(x, p_[b + "ln2.weight"], p_[b + "ln2.bias"])
            sx = shift(xx)
            mk, mr = (mix(p_, b + "ffn.time_mix_" + m, q) for m in "kr")
            r = sigmoid((xx * mr + sx * (1 - mr)) @ p_[b + "ffn.receptance.weight"].T)
            kk = np.maximum((xx * mk + sx * (1 - mk)) @ p_[b + "ffn.key.weight"].T, 0) ** 2
            x = x + r * (kk @ p_[b + "ffn.value.weight"].T)
        h[q] = layer_norm(x, p_["ln_out.weight"], p_["ln_out.bias"])
    # The combiner per position: scores [T, P], softmax over P (axis 1).
    scores = h.mean(axis=0) @ wc.T
    e = np.exp(scores - scores.max(axis=1, keepdims=True))
    alpha = e / e.sum(axis=1, keepdims=True)
    per_p = np.einsum("ptc,vc->ptv", h, p_["head.weight"])
    return np.einsum("tp,ptv->tv", alpha, per_p), alpha


# --- Self-checks (a)-(e) ---------------------------------------------------------

def selfcheck():
    """The design's checks; returns the number of failures."""
    failures = 0

    def report(name, ok, detail):
        nonlocal failures
        failures += not ok
        print(f"{name}: {'OK' if ok else 'FAIL'} {detail}")

    tokens = [3, 141, 59, 26, 5, 35, 89, 79, 32, 38]
    L, C, V = 2, 24, 160
    stock = rwkv_ref.random_rwkv4_weights(L, C, V, seed=11)
    ref_logits, ref_state = rwkv_ref.rwkv4_forward(stock, tokens)

    # (a) P = 1 is the stock RWKV-4 reference, bit for bit, for any W_c.
    one = from_rwkv4(stock, 1, seed=5, wc_std=3.0)
    logits1, state1 = persp_forward(one, tokens)
    same = (np.array_equal(logits1, ref_logits)
            and np.array_equal(state1[:, :, 0], ref_state))
    report("(a) P=1 equals RWKV-4", same,
           f"max|diff|={np.max(np.abs(logits1 - ref_logits)):.3g}")

    # (b) Equal mixing coefficients: stock RWKV-4 for any W_c (alpha sums
    # to 1 and every perspective is the same stream).
    four = from_rwkv4(stock, 4, seed=6, wc_std=3.0)
    logits4, state4, alpha4 = persp_forward(four, tokens, return_alpha=True)
    err = np.max(np.abs(logits4 - ref_logits))
    spread = np.max(alpha4) - np.min(alpha4)
    report("(b) equal mu equals RWKV-4", err < 1e-10 and spread > 0.05,
           f"max|diff|={err:.3g} (alpha spread {spread:.3f})")

    # (c) RNN mode equals GPT mode at every position (so at the last).
    w = random_persp_weights(L, C, V, 4, seed=12)
    rnn, _, alpha_rnn = persp_forward(w, tokens, return_alpha=True)
    gpt, alpha_gpt = persp_forward_parallel(w, tokens)
    err = max(np.max(np.abs(rnn - gpt)), np.max(np.abs(alpha_rnn - alpha_gpt)))
    report("(c) RNN equals GPT mode", err < 1e-9, f"max|diff|={err:.3g}")

    # (d) The softmax is over P: alpha is [T, P], positive, each row sums to
    # 1, and the logits are sum_p alpha_p times stock RWKV-4 logits run with
    # perspective p's coefficients alone. A softmax over channels or over
    # the vocabulary would break these.
    per_p = []
    for q in range(4):
        single = {k: (v[q] if is_mix(k) else v) for k, v in w.items() if k != COMBINER}
        per_p.append(rwkv_ref.rwkv4_forward(single, tokens)[0])
    expect = np.einsum("tp,ptv->tv", alpha_rnn, np.array(per_p))
    err = np.max(np.abs(expect - rnn))
    rows = np.max(np.abs(alpha_rnn.sum(axis=1) - 1))
    report("(d) softmax over perspectives",
           alpha_rnn.shape == (len(tokens), 4) and rows < 1e-12
           and np.all(alpha_rnn > 0) and err < 1e-10 and np.ptp(alpha_rnn) > 0.05,
           f"alpha {alpha_rnn.shape}, max|sum-1|={rows:.3g}, "
           f"max|logits - sum alpha_p RWKV4_p|={err:.3g}")

    # (e) State carry: a prompt split anywhere and resumed from the carried
    # state gives the same logits and final state.
    worst = 0.0
    full_logits, full_state = persp_forward(w, tokens)
    for split in (1, 4, 9):
        l1, s1 = persp_forward(w, tokens[:split])
        l2, s2 = persp_forward(w, tokens[split:], state=s1)
        worst = max(worst, np.max(np.abs(np.concatenate([l1, l2]) - full_logits)),
                    state_error(s2, full_state))
    report("(e) state round trip", worst < 1e-9, f"max|diff|={worst:.3g}")
    return failures


def state_error(got, ref):
    """Max abs difference of two [L, 5, ...] states, the WKV rows compared as
    the sums A = aa e^pp, B = bb e^pp they stand for (relative to B)."""
    got, ref = (np.asarray(s, dtype=np.float64) for s in (got, ref))
    err = max(np.max(np.abs(got[:, 0] - ref[:, 0])), np.max(np.abs(got[:, 4] - ref[:, 4])))
    ga, gb = rwkv_ref.stable_to_direct(got[:, 1], got[:, 2], got[:, 3])
    ra, rb = rwkv_ref.stable_to_direct(ref[:, 1], ref[:, 2], ref[:, 3])
    scale = np.where(rb > 0, rb, 1.0)
    err = max(err, np.max(np.abs(ga - ra) / scale), np.max(np.abs(gb - rb) / scale))
    return float(err)


# --- Command line ---------------------------------------------------------------

def stored_weights(weights, dtype, int8=None, q4=False):
    """The weights as a compiled model sees them: rounded to the file's
    dtype, then (int8) the projections as seqc's int8 rows store them, or
    (q4) the layers' projections as q4 (their activations rounded per 32,
    as the kernels do) and the head as int8 rows (f32 activations: its
    product runs over the perspectives, which the integer kernels do not
    take)."""
    w = {k: checkpoint.round_to_dtype(v, dtype) for k, v in weights.items()}
    if int8:
        w = checkpoint.int8_roundtrip(w)
    if q4:
        w = {k: checkpoint.int8_matrix(v, 32) if k == "head.weight"
             else checkpoint.q4_matrix(v) if k.endswith(checkpoint.INT8_MATRICES)
             else v for k, v in w.items()}
    return w


def cmd_random(a):
    w = random_persp_weights(a.layers, a.embd, a.vocab, a.perspectives, a.ffn,
                             a.seed, a.wc_std)
    checkpoint.write_pth(a.output, w, a.dtype)
    if a.npz:
        tokens = [int(t) for t in a.tokens.split(",")]
        logits, state = persp_forward(stored_weights(w, a.dtype, a.int8_reference), tokens)
        np.savez(a.npz, tokens=np.array(tokens), logits=logits, state=state)
    return 0


def cmd_from_rwkv4(a):
    import spikegpt_ref
    w = spikegpt_ref.read_pth(a.input)
    if COMBINER in w:
        print(f"{a.input}: already has {COMBINER}", file=sys.stderr)
        return 1
    checkpoint.write_pth(a.output, from_rwkv4(w, a.perspectives, a.seed), "fp32")
    return 0


def cmd_check(a):
    import spikegpt_ref
    w = spikegpt_ref.read_pth(a.checkpoint)
    tokens = [int(t) for t in a.tokens.split(",")]
    ref = stored_weights(w, "fp32", a.weights == "int8", a.weights == "q4")
    if a.weights == "fp16":
        ref = {k: (checkpoint.round_to_dtype(v, "fp16") if np.ndim(v) == 2
                   and not k.startswith(("emb.", COMBINER)) else v)
               for k, v in ref.items()}
    # The reference token by token, with the state after each token.
    logits, states, state = [], [], None
    for t in tokens:
        lg, state = persp_forward(ref, [t], state)
        logits.append(lg[0])
        states.append(state)
    logits = np.array(logits)
    v = logits.shape[1]
    got = np.fromfile(a.logits, dtype="<f4").astype(np.float64).reshape(-1, v)
    want = logits[-got.shape[0]:]
    ok = got.shape == want.shape and np.all(np.isfinite(got))
    err = float(np.max(np.abs(got - want) / (a.tol + a.tol * np.abs(want)))) if ok else np.inf
    msg = f"logits max|err|/(tol+tol|ref|)={err:.3g}"
    ok = ok and err <= 1.0
    if a.state:
        # One state per call: after the last token (prefill), or after each
        # token of the steps (the last k states of the reference).
        gs = np.fromfile(a.state, dtype="<f4").astype(np.float64)
        k = gs.size // state.size
        if k < 1 or k > len(tokens) or gs.size != k * state.size:
            ok, serr = False, np.inf
        else:
            gs = gs.reshape((k,) + state.shape)
            serr = max(state_error(g, r) for g, r in zip(gs, states[-k:]))
        msg += f", {k} state(s) max|err|={serr:.3g}"
        ok = ok and serr <= a.state_tol
    print(f"{a.label}: {'OK' if ok else 'FAIL'} {msg}")
    return 0 if ok else 1


def cmd_bad(a):
    """Malformed P-perspective checkpoints for the import's error tests."""
    base = random_persp_weights(2, 16, 64, 4, seed=3)
    c = 16
    cases = {
        # One tensor with another P than convert3's.
        "mismatch": dict(base, **{"blocks.1.ffn.time_mix_r":
                                  np.zeros((3, 1, 1, c), np.float32)}),
        # Per-perspective mixes without the combiner.
        "nocombiner": {k: v for k, v in base.items() if k != COMBINER},
        # A combiner of the wrong width, and of the wrong rank.
        "widecombiner": dict(base, **{COMBINER: np.zeros((4, c + 1), np.float32)}),
        "flatcombiner": dict(base, **{COMBINER: np.zeros((4 * c,), np.float32)}),
        # A combiner beside stock [1, 1, C] mixes.
        "stockmix": {k: (v[:1, 0] if is_mix(k) else v) for k, v in base.items()},
    }
    for name, w in cases.items():
        checkpoint.write_pth(os.path.join(a.dir, name + ".pth"), w)
    return 0


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    s = sub.add_parser("selfcheck")
    s.set_defaults(run=lambda a: 1 if selfcheck() else 0)
    r = sub.add_parser("random")
    r.add_argument("--layers", type=int, required=True)
    r.add_argument("--embd", type=int, required=True)
    r.add_argument("--vocab", type=int, required=True)
    r.add_argument("--perspectives", "-P", type=int, required=True)
    r.add_argument("--ffn", type=int)
    r.add_argument("--seed", type=int, default=0)
    r.add_argument("--wc-std", type=float)
    r.add_argument("--dtype", choices=sorted(checkpoint.DTYPES), default="fp32")
    r.add_argument("-o", "--output", required=True)
    r.add_argument("--npz")
    r.add_argument("--tokens", default="0")
    r.add_argument("--int8-reference", action="store_true")
    r.set_defaults(run=cmd_random)
    f = sub.add_parser("from-rwkv4")
    f.add_argument("input")
    f.add_argument("--perspectives", "-P", type=int, required=True)
    f.add_argument("--seed", type=int, default=0)
    f.add_argument("-o", "--output", required=True)
    f.set_defaults(run=cmd_from_rwkv4)
    c = sub.add_parser("check")
    c.add_argument("checkpoint")
    c.add_argument("--tokens", required=True)
    c.add_argument("--logits", required=True)
    c.add_argument("--state")
    c.add_argument("--weights", choices=("fp32", "fp16", "int8", "q4"), default="fp32")
    c.add_argument("--tol", type=float, default=1e-4)
    c.add_argument("--state-tol", type=float, default=1e-4)
    c.add_argument("--label", default="check")
    c.set_defaults(run=cmd_check)
    d = sub.add_parser("bad")
    d.add_argument("dir")
    d.set_defaults(run=cmd_bad)
    a = parser.parse_args()
    return a.run(a)


if __name__ == "__main__":
    sys.exit(main())
