"""Simulate model.nir's populations in snnTorch on the currents seqc feeds
them, and compare the spike trains with seqc's.

  snn_check.py MODEL.nir CKPT --tokens 1,2,3 --state S.f32 [--label X]

S.f32 is `seqc-run logits --all --step --state S.f32` of the --target=neuro
artifact: the state after every token, [T, L, 9, C] f32, whose rows 7 and 8
count the att and ffn neurons' spikes (a step's spikes are the difference).
The currents come from the numpy reference (test/reference/spikegpt_ref.py),
which computes what seqc computes in f32 and fires exactly when seqc does
(checked here first). Each population is taken out of model.nir as its own
Input -> LIF -> Output graph, imported with snntorch.import_nir and run one
step per token.

snnTorch follows NIR: it fires on v > threshold, and its import makes the
discrete update from the float32 tau (beta = 1 - 1e-4 / tau, the input scale
folded into the threshold), within ~1e-7 of SpikeGPT's arithmetic. So the
trains must be equal except at ties: a step where seqc's membrane h (before
the reset) is within 1e-5 of the threshold. Each neuron is compared up to
its first difference, which must be such a tie; after it the two runs
legitimately part (one reset, the other did not). Ties are counted: exact
(h == threshold in f32) and near, with how many of them differed.

Prints "LABEL: OK ..." or "LABEL: FAIL ..." (exit status 1).
"""

import argparse
import contextlib
import io
import os
import sys

import nir
import numpy as np
import torch
from snntorch.import_nir import import_from_nir

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.normpath(os.path.join(HERE, "..", "..", "reference")))
import spikegpt_ref as ref  # noqa: E402

F32 = np.float32
SITES = ("att", "ffn")
COUNT_ROWS = {"att": 7, "ffn": 8}


def reference_currents(ckpt, tokens):
    """[T, L, 2, C] currents and membranes h before the reset, and spikes."""
    model = ref.SpikeGPT(ref.load(ckpt))
    calls = []
    lif = model._lif

    def record(v, x):
        s, nv = lif(v, x)
        o = model.opts
        h = (v + (x - (v - F32(o.v_reset))) / F32(o.tau)).astype(F32)
        calls.append((np.array(x, dtype=F32), h, s))
        return s, nv

    model._lif = record
    state = model.init_state()
    for tok in tokens:
        _, state, _, _ = model.step(tok, state)
    L, C = model.n_layer, model.n_embd
    T = len(tokens)
    x = np.stack([c[0] for c in calls]).reshape(T, L, 2, C)
    h = np.stack([c[1] for c in calls]).reshape(T, L, 2, C)
    s = np.stack([c[2] for c in calls]).reshape(T, L, 2, C)
    return x, h, s, model.opts


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("nir")
    ap.add_argument("checkpoint")
    ap.add_argument("--tokens", required=True)
    ap.add_argument("--state", required=True)
    ap.add_argument("--label", default="snntorch")
    a = ap.parse_args()
    tokens = [int(t) for t in a.tokens.split(",")]
    x, h, ref_spikes, opts = reference_currents(a.checkpoint, tokens)
    T, L, _, C = x.shape
    state = np.fromfile(a.state, dtype="<f4").reshape(T, L, 9, C)
    seqc = np.zeros((T, L, 2, C), dtype=bool)
    for k, site in enumerate(SITES):
        counts = state[:, :, COUNT_ROWS[site], :]
        prev = np.concatenate([np.zeros_like(counts[:1]), counts[:-1]])
        seqc[:, :, k, :] = (counts - prev) == 1
    problems = []
    if not np.array_equal(seqc, ref_spikes):
        problems.append(f"{int((seqc != ref_spikes).sum())} spikes of seqc differ "
                        "from the reference's (the currents would not be seqc's)")

    g = nir.read(a.nir)
    thr = F32(opts.v_threshold)
    compared = differing = 0
    exact_ties = near_ties = tie_diffs = 0
    for layer in range(L):
        for k, site in enumerate(SITES):
            name = f"layer{layer}_{site}"
            sub = nir.NIRGraph(
                nodes={"input": g.nodes[name + "_input"], name: g.nodes[name],
                       "output": g.nodes[name + "_output"]},
                edges=[("input", name), (name, "output")])
            with contextlib.redirect_stdout(io.StringIO()):  # its notes
                net = import_from_nir(sub)
            snn = np.zeros((T, C), dtype=bool)
            with torch.no_grad():
                for t in range(T):
                    out, _ = net(torch.from_numpy(x[t, layer, k][None, :]))
                    snn[t] = out[0].numpy() > 0.5
            for c in range(C):
                for t in range(T):
                    hv = h[t, layer, k, c]
                    tie = abs(float(hv) - float(thr)) <= 1e-5 * max(1.0, abs(float(thr)))
                    if tie:
                        exact_ties += hv == thr
                        near_ties += hv != thr
                    compared += 1
                    if snn[t, c] == seqc[t, layer, k, c]:
                        continue
                    if tie:
                        tie_diffs += 1
                        break  # the runs part here: one reset, one did not
                    differing += 1
                    problems.append(
                        f"{name} neuron {c} token {t}: seqc {int(seqc[t, layer, k, c])}, "
                        f"snnTorch {int(snn[t, c])}, h = {float(hv)!r}")
                    break
    if differing:
        problems.insert(0, f"{differing} neurons' trains differ away from a tie")
    summary = (f"{L * 2} populations x {C} neurons x {T} tokens: {compared} "
               f"steps compared, {int(seqc.sum())} seqc spikes; ties: "
               f"{exact_ties} exact, {near_ties} near, {tie_diffs} of them differ")
    if problems:
        print(f"{a.label}: FAIL {summary}; " + "; ".join(problems[:6]))
        return 1
    print(f"{a.label}: OK spike trains equal except at ties; {summary}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
