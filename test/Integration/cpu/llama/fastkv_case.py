"""Checks a model compiled with `seqc compile --kv-select=fastkv` against the
numpy reference of prefill-time KV selection (test/reference/kv_select_ref.py,
Model.prefill(method="fastkv") then Model.decode, float64).

    fastkv_case.py MODEL_DIR ARTIFACT --tokens 1,2,... --prompt N
                   (--keep M | --rate R) [--window WS] [--kernel K]
                   [--pool avg|max] [--tsp-layer L (--tsp-keep T | --tsp-rate R)]
                   --logits GOT.f32 --state STATES.bin
                   [--tol T]

GOT.f32 is `seqc-run logits --all --step --step-from N -o` (or
`--after-prompt` instead of `--all`, the prefill generation uses, which
runs token-selective propagation) over the tokens: its rows from N - 1 on (the prompt's last logits, then one per decoded token)
must equal the reference's within T (absolute). STATES.bin is the same run's
`--state`: its first state, right after the prompt's prefill, must hold per
layer and KV head exactly the reference's kept positions (compared as sets:
seqc keeps them in position order, the reference in score order), found by
matching the stored keys to the reference's kept keys (after RoPE).
With --tsp-layer, the layers after it run on the tokens FastKV's
token-selective propagation carries on (the reference's, compared through
the logits and each later layer's kept keys). The check also
reports the smallest gap between the last kept and the first dropped score,
relative to the largest score: a gap near float32 precision would make the
selection itself ambiguous, and the case is refused.
"""

import argparse
import json
import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "..", "reference"))
import kv_select_ref  # noqa: E402

# Below this relative gap at the selection boundary, f32 scores could order
# tokens differently from the float64 reference.
MIN_GAP = 1e-4


def manifest(artifact):
    with open(os.path.join(artifact, "manifest.json")) as f:
        return json.load(f)


def kv_desc(m):
    fields = dict(kv.split("=", 1) for kv in m["kv_desc"].split())
    return int(fields["heads"]), int(fields["head_dim"]), int(fields["capacity"])


def main():
    p = argparse.ArgumentParser()
    p.add_argument("model")
    p.add_argument("artifact")
    p.add_argument("--tokens", required=True)
    p.add_argument("--prompt", type=int, required=True)
    p.add_argument("--keep", type=int)
    p.add_argument("--rate", type=float)
    p.add_argument("--window", type=int, default=8)
    p.add_argument("--kernel", type=int, default=7)
    p.add_argument("--pool", default="max")
    p.add_argument("--method", choices=("fastkv", "dynamickv"), default="fastkv")
    p.add_argument("--ratio-max", type=float, default=10.0)
    p.add_argument("--tsp-layer", type=int, default=-1)
    p.add_argument("--tsp-keep", type=int)
    p.add_argument("--tsp-rate", type=float)
    p.add_argument("--logits", required=True)
    p.add_argument("--state", required=True)
    p.add_argument("--tol", type=float, default=1e-4)
    a = p.parse_args()
    tokens = [int(t) for t in a.tokens.split(",")]
    n = a.prompt
    model = kv_select_ref.Model(a.model)
    opts = dict(ws=a.window, kernel=a.kernel, pool=a.pool)
    if a.rate:
        opts["retain_rate"] = a.rate
    else:
        opts["capacity"] = a.keep
    if a.tsp_layer >= 0:
        opts["tsp_layer"] = a.tsp_layer
        if a.tsp_rate:
            opts["tsp_rate"] = a.tsp_rate
        else:
            opts["tsp_len"] = a.tsp_keep
    if a.method == "dynamickv":
        opts.update(ratio_max=a.ratio_max, repair=True)
    model.tsp = None
    ref = [model.prefill(tokens[:n], a.method, **opts)]
    caches = [(rows.copy(), K.copy()) for _, rows, K, _ in model.caches]
    gaps = []
    if a.method == "dynamickv" and model.dyn.scores[0] is not None:
        # The same for each layer's final selection of its own scores.
        for l, sc in enumerate(model.dyn.scores):
            kept = caches[l][0].shape[1] - a.window
            for row in sc:
                if kept < row.size:
                    v = -np.sort(-row)[kept - 1] if kept else np.inf
                    other = np.abs(row[row != v] - v)
                    if kept and other.size:
                        gaps.append(float(other.min() / np.max(sc)))
    for l, (s, s_kv) in sorted((getattr(model, "s_kv", {}) if a.method == "fastkv"
                                else {}).items()):
        kept = caches[l][0].shape[1] - a.window
        if kept >= s_kv.shape[1]:
            continue
        # Equal scores (max pooling repeats a window's maximum) are equal in
        # float32 too and go by position in both; what could differ is a
        # different score close to the last one kept.
        for row in s_kv:
            v = -np.sort(-row)[kept - 1]
            other = np.abs(row[row != v] - v)
            if other.size:
                gaps.append(float(other.min() / np.max(s_kv)))
    if model.tsp is not None:
        # The same for the tokens carried on: their total score at the
        # selecting layer.
        tok = model.s_kv[a.tsp_layer][1].sum(axis=0)
        v = -np.sort(-tok)[len(model.tsp) - a.window - 1]
        other = np.abs(tok[tok != v] - v)
        if other.size:
            gaps.append(float(other.min() / np.max(tok)))
    for t in tokens[n:]:
        ref.append(model.decode(t))
    ref = np.array(ref)

    m = manifest(a.artifact)
    vocab = int(m["vocab"])
    got = np.fromfile(a.logits, dtype="<f4").reshape(-1, vocab)
    if got.shape[0] == len(tokens):  # --all: every row.
        got = got[n - 1:]
    if got.shape != ref.shape:
        sys.exit(f"expected {ref.shape[0]} rows from position {n - 1}, got {got.shape[0]}")
    err = float(np.max(np.abs(got - ref)))
    gap = min(gaps) if gaps else float("inf")
    carried = "" if model.tsp is None else f", {len(model.tsp)} of {n} tokens carried on"
    layers = (len(getattr(model, "s_kv", {})) if a.method == "fastkv" else
              sum(r is not None for r in model.dyn.rows))
    if a.method == "dynamickv":
        carried = f", rows per layer {[int(c[0].shape[1]) for c in caches]}"
    print(f"{a.method}: {layers} layers compressed{carried}, smallest "
          f"boundary gap {gap:.3g} of the largest score; logits max abs error {err:.3g} "
          f"(tolerance {a.tol:g})")
    if gap < MIN_GAP:
        sys.exit(f"{a.method}: the selection boundary gap {gap:.3g} is below {MIN_GAP:g}: "
                 "choose another case")

    # The kept rows, read from the state after the prefill.
    H, D, cap = kv_desc(m)
    slot = int(m["kv_slot_bytes"])
    layers = int(m["kv_layers"])
    state = np.fromfile(a.state, dtype=np.uint8)[:slot * layers]
    bad = 0
    for l in range(layers):
        raw = state[l * slot:(l + 1) * slot]
        rows, dropped = (int(x) for x in raw[:16].view("<i8"))
        keys = raw[64:64 + H * cap * D * 4].view("<f4").reshape(H, cap, D)
        want_pos, _ = caches[l]
        if rows != want_pos.shape[1] or rows + dropped != n:
            print(f"layer {l}: {rows} rows + {dropped} dropped, expected "
                  f"{want_pos.shape[1]} rows of {n} positions")
            bad += 1
            continue
        for h in range(H):
            want = set(int(x) for x in want_pos[h])
            stored = keys[h, :rows].astype(np.float64)
            # The reference's kept keys (after RoPE), each with its position.
            ref_k = caches[l][1][h]
            dist = np.abs(stored[:, None, :] - ref_k[None, :, :]).max(axis=2)
            pos = want_pos[h][dist.argmin(axis=1)]
            found = set(int(x) for x in pos)
            if dist.min(axis=1).max() > 1e-3 * max(1.0, np.abs(ref_k).max()) or found != want:
                print(f"layer {l} head {h}: kept {sorted(found)}, expected {sorted(want)}")
                bad += 1
            elif list(pos) != sorted(pos):
                print(f"layer {l} head {h}: rows not in position order: {list(pos)}")
                bad += 1
    if bad or not err <= a.tol:
        sys.exit(f"{a.method}: FAIL")
    print(f"{a.method}: OK")


if __name__ == "__main__":
    main()
