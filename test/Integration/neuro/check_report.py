"""Check `seqc-run report` against counts computed here, independently.

  check_report.py CKPT REPORT.json --prompt-tokens 1,2,3 [--label X]

The reference (test/reference/spikegpt_ref.py) runs the report's tokens one
step at a time and gives every population's spikes; the dense MACs are the
sizes of the checkpoint's matrices (each is read once per token: a matrix
[out, in] is out x in multiply-accumulates), the membrane updates every
neuron of every population per token, the ACs one per spike (a spike adds 1
to the residual stream), and so the synaptic events. The event code's own
counters, per token, population and layer (the trace's "counted"), must
equal these counts exactly. Every count must be equal (spikes exactly), an
average over the tokens within 1e-11 relative (the report prints 12
significant digits); the
energies, recomputed from the counts with E_MAC = 4.6 pJ and E_AC = 0.9 pJ,
within 1e-9 relative.

Prints "LABEL: OK ..." or "LABEL: FAIL ..." (exit status 1).
"""

import argparse
import json
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.normpath(os.path.join(HERE, "..", "..", "reference")))
import spikegpt_ref as ref  # noqa: E402

E_MAC, E_AC = 4.6, 0.9


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("checkpoint")
    ap.add_argument("report")
    ap.add_argument("--prompt-tokens", required=True)
    ap.add_argument("--label", default="report")
    a = ap.parse_args()
    weights = ref.load(a.checkpoint)
    with open(a.report) as f:
        rep = json.load(f)
    problems = []

    def expect(what, got, want, rel=0.0):
        if rel == 0.0 and got != want or rel and abs(got - want) > rel * abs(want):
            problems.append(f"{what}: report {got}, expected {want}")

    def expect_list(what, got, want):
        if list(map(int, got)) != [int(w) for w in want] or \
                any(g != int(g) for g in got):
            problems.append(f"{what}: report {got}, expected {list(want)}")

    model = ref.SpikeGPT(weights)
    L, C = model.n_layer, model.n_embd
    # Dense MACs: every matrix of block i (2-D), and the head.
    layer_macs = [sum(int(np.prod(w.shape)) for n, w in weights.items()
                      if n.startswith(f"blocks.{i}.") and np.ndim(w) == 2)
                  for i in range(L)]
    head_macs = int(np.prod(weights["head.weight"].shape))

    prompt = [int(t) for t in a.prompt_tokens.split(",")]
    tokens = [step["token"] for step in rep["trace"]]
    expect("prompt tokens", tokens[:len(prompt)], prompt)
    T = len(tokens)
    expect("tokens", rep["tokens"], T)
    expect("layers", rep["layers"], L)
    expect("populations", rep["populations"], 2 * L)

    state = model.init_state()
    spikes = np.zeros((T, 2, L), dtype=np.int64)  # [token, site, layer]
    for t, tok in enumerate(tokens):
        _, state, s_att, s_ffn = model.step(tok, state)
        spikes[t, 0] = s_att.sum(axis=1)
        spikes[t, 1] = s_ffn.sum(axis=1)
        for k, site in enumerate(("att", "ffn")):
            got = rep["trace"][t]["spikes"][site]
            if list(map(int, got)) != spikes[t, k].tolist() or \
                    any(g != int(g) for g in got):
                problems.append(f"token {t} ({tok}) {site} spikes per layer: "
                                f"report {got}, reference {spikes[t, k].tolist()}")
            # The event code's counters for this token.
            counted = rep["trace"][t]["counted"][site]
            for field in ("spikes", "synaptic_events", "acs"):
                expect_list(f"token {t} {site} counted {field}", counted[field],
                            spikes[t, k].tolist())
            expect_list(f"token {t} {site} counted membrane_updates",
                        counted["membrane_updates"], [C] * L)
        expect_list(f"token {t} counted dense_macs",
                    rep["trace"][t]["counted"]["dense_macs"], layer_macs)
        expect(f"token {t} counted head_macs",
               rep["trace"][t]["counted"]["head_macs"], head_macs)

    total_acs = 0.0
    what_if = head_macs * E_MAC
    for i, layer in enumerate(rep["per_layer"]):
        expect(f"layer {i} index", layer["layer"], i)
        expect(f"layer {i} dense_macs", layer["dense_macs"], layer_macs[i])
        expect(f"layer {i} compiler_dense_macs", layer["compiler_dense_macs"],
               layer_macs[i])
        expect(f"layer {i} membrane_updates", layer["membrane_updates"], 2 * C)
        n = spikes[:, :, i].sum() / T
        expect(f"layer {i} spikes", layer["spikes"], n, 1e-11)
        expect(f"layer {i} acs", layer["acs"], n, 1e-11)
        expect(f"layer {i} synaptic_events", layer["synaptic_events"], n, 1e-11)
        rate = n / (2 * C)
        expect(f"layer {i} firing_rate", layer["firing_rate"], rate, 1e-11)
        for k, site in enumerate(("att", "ffn")):
            pop = layer["populations"][site]
            m = spikes[:, k, i].sum() / T
            expect(f"layer {i} {site} neurons", pop["neurons"], C)
            expect(f"layer {i} {site} spikes", pop["spikes"], m, 1e-11)
            expect(f"layer {i} {site} firing_rate", pop["firing_rate"], m / C, 1e-11)
            expect(f"layer {i} {site} acs", pop["acs"], m, 1e-11)
            expect(f"layer {i} {site} synaptic_events", pop["synaptic_events"],
                   m, 1e-11)
            expect(f"layer {i} {site} membrane_updates", pop["membrane_updates"], C)
        expect(f"layer {i} energy as built", layer["energy_as_built_pj"],
               layer_macs[i] * E_MAC + n * E_AC, 1e-9)
        paper = layer_macs[i] * rate * E_AC + n * E_AC
        expect(f"layer {i} energy what-if", layer["energy_paper_convention_what_if_pj"],
               paper, 1e-9)
        total_acs += n
        what_if += paper
    per = rep["per_token"]
    all_macs = sum(layer_macs) + head_macs
    expect("per-token dense_macs", per["dense_macs"], all_macs)
    expect("per-token head_macs", per["head_macs"], head_macs)
    expect("per-token membrane_updates", per["membrane_updates"], 2 * L * C)
    expect("per-token acs", per["acs"], total_acs, 1e-11)
    expect("per-token synaptic_events", per["synaptic_events"], total_acs, 1e-11)
    expect("per-token spikes", per["spikes"], spikes.sum() / T, 1e-11)
    energy = rep["energy_per_token_pj"]
    expect("energy as built", energy["as_built"]["pj"],
           all_macs * E_MAC + total_acs * E_AC, 1e-9)
    expect("energy what-if", energy["paper_convention_what_if"]["pj"], what_if, 1e-9)
    expect("constants", (rep["constants"]["e_mac_pj"], rep["constants"]["e_ac_pj"]),
           (E_MAC, E_AC))
    if problems:
        print(f"{a.label}: FAIL " + "; ".join(problems[:8]))
        return 1
    print(f"{a.label}: OK {T} tokens, {int(spikes.sum())} spikes equal, "
          f"dense MACs {all_macs} per token, membrane updates {2 * L * C}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
