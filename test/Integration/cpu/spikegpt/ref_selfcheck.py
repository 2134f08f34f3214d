"""Self-checks of the SpikeGPT reference (test/reference/spikegpt_ref.py).

    ref_selfcheck.py parallel --vocab V --layers L --embd C --seed S --tokens T
    ref_selfcheck.py ties
    ref_selfcheck.py persistence --vocab V --seed S --tokens T --split K
    ref_selfcheck.py roundtrip DIR

parallel: a second formulation, SpikeGPT's training (GPT) mode as model.py
  computes it: every layer over the whole sequence at once, the WKV as one
  masked softmax per channel over all earlier tokens (float64, direct sums,
  no max trick), the LIF as a multi-step node over time from a zero
  membrane. With rescale off and the same embedding this equals the RNN
  mode token by token: spikes exactly, logits to LOGIT_TOL. Prints the
  smallest distance of a membrane to the threshold (how far the check is
  from a float rounding deciding a spike).
ties: a checkpoint whose layer-0 ffn LIF input is exactly 2.0 at every
  token, so that h = 0 + (2 - 0) / 2 lands exactly on the threshold 1.0:
  with 'ge' every neuron fires at every token; with 'gt' none fires at
  token 0 (h = 1), all fire at token 1 (h = 1 + (2 - 1) / 2 = 1.5), and so on.
persistence: a run split in two calls (the state of the first passed to the
  second) equals one run bit for bit; the membranes at the split are not
  all zero, and zeroing them changes the later spikes (so they matter).
roundtrip: .pth (torch zip, written without torch) and .safetensors files
  load back to the same weights; a file written by torch.save too when torch
  is importable.
"""

import argparse
import os
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "..", "reference"))
import spikegpt_ref as ref  # noqa: E402

LOGIT_TOL = 1e-5  # max |fp32 RNN - fp64 parallel| / (1 + max |logit|)


def ln64(x, w, b, eps=1e-5):
    mean = x.mean(-1, keepdims=True)
    var = ((x - mean) ** 2).mean(-1, keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * w + b


def wkv_parallel(time_decay, u, k, v):
    """y[t] = (sum_{i<t} e^{(t-1-i) w + k_i} v_i + e^{u + k_t} v_t) / (same, v = 1)."""
    n = k.shape[0]
    w = -np.exp(time_decay)                                       # [C]
    t = np.arange(n)
    lag = (t[:, None] - 1 - t[None, :]).astype(np.float64)         # [T, T]
    logits = lag[:, :, None] * w[None, None, :] + k[None, :, :]    # [t, i, C]
    diag = t[:, None] == t[None, :]
    logits = np.where(diag[:, :, None], u[None, None, :] + k[None, :, :], logits)
    logits = np.where((t[None, :] > t[:, None])[:, :, None], -np.inf, logits)
    m = logits.max(1, keepdims=True)
    e = np.exp(logits - m)
    return (e * v[None, :, :]).sum(1) / e.sum(1)


def lif_multistep(x, opts):
    """Multi-step LIF over x [T, C] from v = v_reset; spikes and margins."""
    v = np.full(x.shape[1], opts.v_reset)
    spikes, margin = np.zeros(x.shape, dtype=bool), np.inf
    for t in range(x.shape[0]):
        h = v + (x[t] - (v - opts.v_reset)) / opts.tau
        margin = min(margin, float(np.abs(h - opts.v_threshold).min()))
        s = h >= opts.v_threshold if opts.fire == "ge" else h > opts.v_threshold
        v = np.where(s, opts.v_reset, h)
        spikes[t] = s
    return spikes, margin


def parallel_forward(weights, tokens, opts, binary):
    p = {k: np.asarray(v, dtype=np.float64) for k, v in weights.items()}
    n_layer = ref.n_layers(p)
    x = p["emb.weight"][np.asarray(tokens)]
    if binary:
        x = (x >= 0).astype(np.float64)
    shift = lambda a: np.concatenate([np.zeros_like(a[:1]), a[:-1]])  # noqa: E731
    sig = lambda z: 1 / (1 + np.exp(-z))  # noqa: E731
    spikes_att, spikes_ffn, margin = [], [], np.inf
    for i in range(n_layer):
        b = f"blocks.{i}."
        if i == 0:
            x = ln64(x, p[b + "ln0.weight"], p[b + "ln0.bias"])
        a = ln64(x, p[b + "ln1.weight"], p[b + "ln1.bias"])
        sa = shift(a)
        mk, mv, mr = (p[b + "att.time_mix_" + m].reshape(-1) for m in "kvr")
        k = (a * mk + sa * (1 - mk)) @ p[b + "att.key.weight"].T
        v = (a * mv + sa * (1 - mv)) @ p[b + "att.value.weight"].T
        r = sig((a * mr + sa * (1 - mr)) @ p[b + "att.receptance.weight"].T)
        y = wkv_parallel(p[b + "att.time_decay"], p[b + "att.time_first"], k, v)
        s, m1 = lif_multistep((r * y) @ p[b + "att.output.weight"].T, opts)
        x = x + s
        spikes_att.append(s)
        a = ln64(x, p[b + "ln2.weight"], p[b + "ln2.bias"])
        sa = shift(a)
        mk, mr = (p[b + "ffn.time_mix_" + m].reshape(-1) for m in "kr")
        kk = np.maximum((a * mk + sa * (1 - mk)) @ p[b + "ffn.key.weight"].T, 0) ** 2
        r = sig((a * mr + sa * (1 - mr)) @ p[b + "ffn.receptance.weight"].T)
        s, m2 = lif_multistep(r * (kk @ p[b + "ffn.value.weight"].T), opts)
        x = x + s
        spikes_ffn.append(s)
        margin = min(margin, m1, m2)
    logits = ln64(x, p["ln_out.weight"], p["ln_out.bias"]) @ p["head.weight"].T
    return logits, np.stack(spikes_att, 1), np.stack(spikes_ffn, 1), margin


def cmd_parallel(args):
    w = ref.random_checkpoint(args.layers, args.embd, args.vocab, args.seed)
    toks = np.random.default_rng(args.seed + 100).integers(0, args.vocab, args.tokens)
    opts = ref.Options(rescale_every=0)
    model = ref.SpikeGPT(w, opts)
    trace, _ = model.run(toks)
    logits, sa, sf, margin = parallel_forward(w, toks, opts, model.binary)
    err = float(np.abs(trace["logits"] - logits).max() / (1 + np.abs(logits).max()))
    diff = int((trace["spikes_att"] != sa).sum() + (trace["spikes_ffn"] != sf).sum())
    rate = (sa.mean() + sf.mean()) / 2
    ok = diff == 0 and err <= LOGIT_TOL and 0.02 < rate < 0.6
    print(f"parallel V{args.vocab} L{args.layers} C{args.embd} T{args.tokens} "
          f"binary={model.binary}: spikes differ {diff} of {sa.size + sf.size}, "
          f"firing rate {rate:.3f}, logit err {err:.1e} (tol {LOGIT_TOL:.0e}), "
          f"min |h - v_th| {margin:.1e}")
    print("parallel: " + ("OK" if ok else "FAIL"))
    return 0 if ok else 1


def tie_checkpoint(c=16, vocab=256):
    w = ref.random_checkpoint(2, c, vocab, seed=7)
    b = "blocks.0."
    w[b + "ln2.weight"] = np.zeros(c, np.float32)   # LN output = bias = 1 exactly
    w[b + "ln2.bias"] = np.ones(c, np.float32)
    w[b + "ffn.time_mix_k"] = np.ones((1, 1, c), np.float32)
    w[b + "ffn.time_mix_r"] = np.ones((1, 1, c), np.float32)
    w[b + "ffn.receptance.weight"] = np.zeros((c, c), np.float32)  # r = 0.5
    key = np.zeros((4 * c, c), np.float32)
    key[np.arange(4 * c), np.arange(4 * c) % c] = 1              # relu(k)^2 = 1
    w[b + "ffn.key.weight"] = key
    value = np.zeros((c, 4 * c), np.float32)
    value[np.arange(4 * c) % c, np.arange(4 * c)] = 1            # 4 ones a row: kv = 4
    w[b + "ffn.value.weight"] = value
    return w


def cmd_ties(_):
    w = tie_checkpoint()
    toks = [3, 1, 4, 1, 5, 9]
    ok = True
    for fire, expect in (("ge", [1, 1, 1, 1, 1, 1]), ("gt", [0, 1, 0, 1, 0, 1])):
        trace, _ = ref.SpikeGPT(w, ref.Options(fire=fire)).run(toks)
        per_tok = trace["spikes_ffn"][:, 0].mean(1)
        mem = trace["mem_ffn"][:, 0]
        got = [float(r) for r in per_tok]
        good = got == [float(e) for e in expect]
        ok &= good
        print(f"ties {fire}: layer-0 ffn firing fraction per token {got}, "
              f"membranes {sorted(set(mem.ravel().tolist()))}: {'as expected' if good else 'WRONG'}")
    print("ties: " + ("OK" if ok else "FAIL"))
    return 0 if ok else 1


def cmd_persistence(args):
    w = ref.random_checkpoint(2, 32, args.vocab, args.seed)
    toks = np.random.default_rng(args.seed + 200).integers(0, args.vocab, args.tokens)
    model = ref.SpikeGPT(w)
    one, final_one = model.run(toks)
    first, mid = model.run(toks[:args.split])
    second, final_two = model.run(toks[args.split:], mid)
    ok = True
    for key in one:
        joined = np.concatenate([first[key], second[key]])
        same = np.array_equal(joined, one[key])
        ok &= same
        if not same:
            print(f"persistence: {key} differs between one and two calls")
    for f in ref.STATE_FIELDS:
        ok &= np.array_equal(getattr(final_one, f), getattr(final_two, f))
    live = int(np.count_nonzero(mid.mem_att) + np.count_nonzero(mid.mem_ffn))
    reset = mid.copy()
    reset.mem_att[:] = 0
    reset.mem_ffn[:] = 0
    third, _ = model.run(toks[args.split:], reset)
    changed = int((third["spikes_att"] != second["spikes_att"]).sum()
                  + (third["spikes_ffn"] != second["spikes_ffn"]).sum())
    ok &= live > 0 and changed > 0
    print(f"persistence: two calls == one call: {ok}; nonzero membranes at the split "
          f"{live}; zeroing them changes {changed} later spikes")
    print("persistence: " + ("OK" if ok else "FAIL"))
    return 0 if ok else 1


def cmd_roundtrip(args):
    w = ref.random_checkpoint(2, 32, 77, 3)
    ok = True
    for name in ("a.pth", "a.safetensors"):
        path = os.path.join(args.dir, name)
        ref.save(path, w)
        back = ref.load(path)
        same = back.keys() == w.keys() and all(np.array_equal(back[k], w[k]) for k in w)
        print(f"roundtrip {name}: {'same' if same else 'DIFFERENT'}")
        ok &= same
    try:
        import torch
    except ImportError:
        torch = None
    if torch is not None:
        path = os.path.join(args.dir, "torch.pth")
        torch.save({k: torch.from_numpy(v.copy()).half() for k, v in w.items()}, path)
        back = ref.load(path)
        same = all(np.array_equal(back[k], w[k].astype(np.float16).astype(np.float32))
                   for k in w)
        print(f"roundtrip torch.save fp16: {'same' if same else 'DIFFERENT'}")
        ok &= same
    print("roundtrip: " + ("OK" if ok else "FAIL"))
    return 0 if ok else 1


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("parallel")
    p.add_argument("--vocab", type=int, default=256)
    p.add_argument("--layers", type=int, default=2)
    p.add_argument("--embd", type=int, default=32)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--tokens", type=int, default=24)
    sub.add_parser("ties")
    q = sub.add_parser("persistence")
    q.add_argument("--vocab", type=int, default=256)
    q.add_argument("--seed", type=int, default=0)
    q.add_argument("--tokens", type=int, default=16)
    q.add_argument("--split", type=int, default=7)
    r = sub.add_parser("roundtrip")
    r.add_argument("dir")
    args = ap.parse_args()
    return {"parallel": cmd_parallel, "ties": cmd_ties, "persistence": cmd_persistence,
            "roundtrip": cmd_roundtrip}[args.cmd](args)


if __name__ == "__main__":
    sys.exit(main())
