"""Compare a compiled SpikeGPT with the numpy reference, token by token.

  spike_golden.py check CKPT --tokens 1,2,3 --logits L.f32 --state S.f32
        [--weights fp32|fp16|int8] [--binary-embedding auto|on|off]
        [--rescale-every N] [--threshold T] [--fire ge|gt]
        [--tol 1e-4] [--min-agreement R] [--show L:att|ffn:c,c] [--label X]
      L.f32 and S.f32 are `seqc-run logits --all --step -o L.f32 --state
      S.f32`: every token's logits and the state after it ([L, 9, C] f32:
      att x, aa, bb, pp, ffn x, the att and ffn membranes, their spike
      counts). The spike masks are the steps' differences of the counts.
      The reference (test/reference/spikegpt_ref.py) runs on the weights as
      seqc stores them (fp16 or int8 rounding of the projections), and every
      logit and state value must be within TOL absolute + TOL relative, every
      spike equal. With fp16/int8 the reference also runs on the checkpoint's
      f32 weights: the spike masks' agreement with it is reported and must
      reach --min-agreement.
  spike_golden.py pair S1.f32 S2.f32 --shape L,9,C [--rows N] [--label X]
      The last N states (default 1) of two runs (prefill vs steps): spike
      counts equal, everything else within 1e-5.
  spike_golden.py make-eos IN OUT
      The checkpoint with <|endoftext|> (token 0) the most likely token
      after every token: ln_out gives all ones, head row 0 sums to C.
  spike_golden.py make-tie IN OUT
      A checkpoint whose layer-0 ffn neurons 1..3 get an input of exactly 2.0
      every token (so the membrane lands exactly on the threshold 1.0 from
      rest): ln2 channel 0 is the constant 1 (weight 0, bias 1, time_mix_k
      1), ffn hidden unit 0 reads only it, and rows 1..3 of ffn.value read
      4 x that unit under a receptance of sigmoid(0) = 0.5.

Prints "LABEL: OK ..." or "LABEL: FAIL ..." (exit status 1).
"""

import argparse
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
REFERENCE = os.path.normpath(os.path.join(HERE, "..", "..", "..", "reference"))
sys.path.insert(0, REFERENCE)
import checkpoint  # noqa: E402
import spikegpt_ref as ref  # noqa: E402

F32 = np.float32
# The projections seqc stores in the weight format (lib/Import/RWKV.cpp);
# the embedding, vectors and norms stay f32.
MATRICES = ("att.key.weight", "att.value.weight", "att.receptance.weight",
            "att.output.weight", "ffn.key.weight", "ffn.value.weight",
            "ffn.receptance.weight", "head.weight")
STATE_ROWS = {"att_x": 0, "aa": 1, "bb": 2, "pp": 3, "ffn_x": 4,
              "mem_att": 5, "mem_ffn": 6}


def stored(weights, fmt):
    if fmt == "fp32":
        return weights
    out = {}
    for name, w in weights.items():
        if name.endswith(MATRICES):
            if fmt == "fp16":
                w = w.astype(np.float16).astype(F32)
            else:
                w = checkpoint.int8_matrix(w).astype(F32)
        out[name] = w
    return out


def options(a):
    return ref.Options(binary_embedding=a.binary_embedding,
                       rescale_every=a.rescale_every,
                       v_threshold=a.threshold, fire=a.fire)


def run_reference(weights, opts, tokens):
    model = ref.SpikeGPT(weights, opts)
    trace, _ = model.run(tokens)
    return trace


def masks(state):
    """[T, L, C] bool spike masks per site from the counts of a state dump."""
    out = {}
    for site, row in (("att", 7), ("ffn", 8)):
        counts = state[:, :, row, :]
        prev = np.concatenate([np.zeros_like(counts[:1]), counts[:-1]])
        d = counts - prev
        if not np.all((d == 0) | (d == 1)):
            raise ValueError(f"{site} spike counts do not step by 0 or 1")
        out[site] = d == 1
    return out


def check(a):
    tokens = [int(t) for t in a.tokens.split(",")]
    raw = ref.load(a.checkpoint)
    opts = options(a)
    trace = run_reference(stored(raw, a.weights), opts, tokens)
    T, V = trace["logits"].shape
    L, C = trace["att_x"].shape[1:]
    logits = np.fromfile(a.logits, dtype="<f4").reshape(T, V)
    state = np.fromfile(a.state, dtype="<f4").reshape(T, L, 9, C)
    spikes = masks(state)
    problems = []

    def close(name, got, want):
        err = np.abs(got.astype(np.float64) - want.astype(np.float64))
        bound = a.tol + a.tol * np.abs(want.astype(np.float64))
        if not np.all(np.isfinite(got)) or np.any(err > bound):
            i = np.unravel_index(np.argmax(err - bound), err.shape)
            problems.append(f"{name} at {tuple(int(x) for x in i)}: "
                            f"{got[i]} vs {want[i]}")
        return float(err.max())

    worst = {"logits": close("logits", logits, trace["logits"])}
    for field, row in STATE_ROWS.items():
        worst[field] = close(field, state[:, :, row, :], trace[field])
    for site in ("att", "ffn"):
        want = trace["spikes_" + site]
        bad = spikes[site] != want
        if bad.any():
            t, l, c = np.argwhere(bad)[0]
            problems.append(f"{bad.sum()} {site} spikes differ, first at "
                            f"token {t} layer {l} channel {c}")
    if a.show:
        layer, site, chans = a.show.split(":")
        for c in chans.split(","):
            bits = "".join("1" if s else "0"
                           for s in spikes[site][:, int(layer), int(c)])
            print(f"{a.label}: layer {layer} {site} neuron {c}: {bits}")
    rate = np.mean(np.concatenate([spikes["att"].ravel(), spikes["ffn"].ravel()]))
    summary = (f"logits_err={worst['logits']:.2e} "
               f"state_err={max(v for k, v in worst.items() if k != 'logits'):.2e} "
               f"firing_rate={rate:.3f}")
    if a.weights != "fp32":
        f32 = run_reference(raw, opts, tokens)
        agree = np.mean(np.concatenate(
            [(spikes[s] == f32["spikes_" + s]).ravel() for s in ("att", "ffn")]))
        lerr = float(np.abs(logits - f32["logits"]).max())
        summary += (f" vs_f32_weights: spike_agreement={agree:.4f} "
                    f"logits_err={lerr:.2e}")
        if agree < a.min_agreement:
            problems.append(f"spike agreement with the f32 weights {agree:.4f} "
                            f"< {a.min_agreement}")
    if problems:
        print(f"{a.label}: FAIL {summary}: " + "; ".join(problems[:4]))
        return 1
    print(f"{a.label}: OK {summary}")
    return 0


def pair(a):
    shape = [int(x) for x in a.shape.split(",")]
    n = int(np.prod(shape)) * a.rows
    x = np.fromfile(a.files[0], dtype="<f4")[-n:].reshape([a.rows] + shape)
    y = np.fromfile(a.files[1], dtype="<f4")[-n:].reshape([a.rows] + shape)
    if not np.array_equal(x[..., 7:, :], y[..., 7:, :]):
        print(f"{a.label}: FAIL spike counts differ")
        return 1
    if not np.allclose(x[..., :7, :], y[..., :7, :], rtol=1e-5, atol=1e-5):
        err = float(np.abs(x[..., :7, :] - y[..., :7, :]).max())
        print(f"{a.label}: FAIL state differs by {err:.2e}")
        return 1
    same = np.array_equal(x, y)
    print(f"{a.label}: OK spike counts equal, "
          f"{'bit-identical' if same else 'state within 1e-5'}")
    return 0


def make_tie(a):
    w = ref.load(a.files[0])
    p = "blocks.0."
    w[p + "ln2.weight"][0] = 0.0
    w[p + "ln2.bias"][0] = 1.0
    w[p + "ffn.time_mix_k"].reshape(-1)[0] = 1.0
    w[p + "ffn.key.weight"][0, :] = 0.0
    w[p + "ffn.key.weight"][0, 0] = 1.0
    for c in (1, 2, 3):
        w[p + "ffn.value.weight"][c, :] = 0.0
        w[p + "ffn.value.weight"][c, 0] = 4.0
        w[p + "ffn.receptance.weight"][c, :] = 0.0
    ref.save(a.files[1], w)
    return 0


def make_eos(a):
    w = ref.load(a.files[0])
    w["ln_out.weight"][:] = 0.0
    w["ln_out.bias"][:] = 1.0
    w["head.weight"][0, :] = 1.0
    ref.save(a.files[1], w)
    return 0


def main():
    p = argparse.ArgumentParser()
    p.add_argument("command", choices=("check", "pair", "make-tie", "make-eos"))
    p.add_argument("files", nargs="*")
    p.add_argument("--tokens")
    p.add_argument("--logits")
    p.add_argument("--state")
    p.add_argument("--shape")
    p.add_argument("--rows", type=int, default=1)
    p.add_argument("--weights", default="fp32", choices=("fp32", "fp16", "int8"))
    p.add_argument("--binary-embedding", default="auto")
    p.add_argument("--rescale-every", type=int, default=6)
    p.add_argument("--threshold", type=float, default=1.0)
    p.add_argument("--fire", default="ge", choices=("ge", "gt"))
    p.add_argument("--tol", type=float, default=1e-4)
    p.add_argument("--min-agreement", type=float, default=0.0)
    p.add_argument("--show")
    p.add_argument("--label", default="spikegpt")
    a = p.parse_args()
    if a.command == "check":
        a.checkpoint = a.files[0]
        return check(a)
    if a.command == "pair":
        return pair(a)
    if a.command == "make-eos":
        return make_eos(a)
    return make_tie(a)


if __name__ == "__main__":
    sys.exit(main())
