"""Next-byte perplexity of the embedded tiny LLaMA after a prompt whose KV
cache was compressed by FastKV (per-layer selection, with and without
token-selective propagation), beside H2O, RoCo and a window at the same
budgets, and the full cache.

    /usr/bin/python3 bench/kv_select_ppl.py [--build build] [--windows 32]
        [--prompt 192] [--continue 64] [--capacity 32 64 128] [--out DIR]
        [--check]

Each of --windows consecutive spans of held-out text (from byte 1003854 of
../shared/data/tinyshakespeare.txt, the first the model was not trained on)
is a prompt of --prompt bytes, fed in one prefill (`seqc-run logits
--step-from P --after-prompt`, as generation feeds a prompt), then
--continue bytes decoded one at a time; the score is the mean negative
log-likelihood of those bytes. Configurations, for each capacity M:

- FastKV: every layer keeps M rows per KV head of the prompt
  (`--kv-select=fastkv --kv-select-keep=M`), decode appends;
- FastKV with token-selective propagation after layer 1 of 4, carrying
  max(M, P / 2) tokens (`--kv-tsp-layer=1 --kv-tsp-keep=...`);
- DynamicKV: caches per query head (2x the rows of a KV-head cache here),
  M rows per layer on average, spread over the layers by their scores
  (average pooling, as the official Llama configuration);
- H2O and RoCo (8 recent tokens protected) and a window, M tokens per KV
  head during the prompt and the decode.

Writes kv_select_ppl.json (every configuration, with KV rows per layer and
head after the prompt and at the end), kv_select_ppl.md (the table) and
kv_select_ppl.svg (the plot). With --check, the full cache's, FastKV's and
DynamicKV's mean NLLs must equal those of the numpy reference
(test/reference/kv_select_ref.py, float64) on the same spans within 1e-4;
exits 1 otherwise.
"""

import argparse
import json
import math
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "test" / "reference"))
sys.path.insert(0, str(REPO / "bench"))
import kv_select_ref  # noqa: E402
from machine import machine  # noqa: E402

HELDOUT = 1003854
MODEL = REPO / "models" / "llama-tiny-shakespeare"


def run(cmd):
    r = subprocess.run([str(c) for c in cmd], capture_output=True, text=True)
    if r.returncode:
        sys.exit(f"{' '.join(map(str, cmd))} failed:\n{r.stderr}")
    return r.stdout


def configs(capacities, prompt):
    out = [("full cache", "full", None, [], None)]
    for M in capacities:
        tsp = max(M, prompt // 2)
        out += [
            (f"FastKV, {M} rows", "fastkv", M,
             ["--kv-select=fastkv", f"--kv-select-keep={M}"], dict(capacity=M)),
            (f"FastKV, {M} rows, {tsp} tokens after layer 1", "fastkv+tsp", M,
             ["--kv-select=fastkv", f"--kv-select-keep={M}", "--kv-tsp-layer=1",
              f"--kv-tsp-keep={tsp}"], dict(capacity=M, tsp_layer=1, tsp_len=tsp)),
            (f"DynamicKV, {M} rows per layer on average", "dynamickv", M,
             ["--kv-select=dynamickv", f"--kv-select-keep={M}", "--kv-select-pool=avg"],
             dict(capacity=M, pool="avg", repair=True)),
            (f"H2O, {M} tokens", "h2o", M,
             ["--kv-evict", "h2o", "--kv-budget", str(M), "--kv-recent", "8"], None),
            (f"RoCo, {M} tokens", "roco", M,
             ["--kv-evict", "roco", "--kv-budget", str(M), "--kv-recent", "8"], None),
            (f"window, {M} tokens", "window", M,
             ["--kv-evict", "window", "--kv-budget", str(M)], None),
        ]
    return out


def nll_of(rows, seg, prompt):
    """Mean NLL of seg[prompt:] from logits rows (row i predicts seg[prompt + i])."""
    total = 0.0
    for i, tok in enumerate(seg[prompt:]):
        lg = rows[i].astype(np.float64)
        m = lg.max()
        total -= lg[tok] - m - math.log(np.exp(lg - m).sum())
    return total / (len(seg) - prompt)


def svg(rows, path):
    """Bars of each configuration's perplexity relative to the full cache."""
    w, h, left, top, bar = 760, 50 + 20 * len(rows), 330, 30, 14
    base = rows[0]["ppl"]
    ratios = [r["ppl"] / base for r in rows]
    hi = max(max(ratios), 1.01)
    scale = (w - left - 70) / (hi - 0.98)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" '
             'font-family="sans-serif" font-size="12">',
             f'<text x="{left}" y="18">perplexity relative to the full cache '
             '(embedded LLaMA, next byte after a 192-byte prompt)</text>']
    for i, (r, q) in enumerate(zip(rows, ratios)):
        y = top + 20 * i
        parts.append(f'<text x="{left - 6}" y="{y + 11}" text-anchor="end">{r["config"]}</text>')
        parts.append(f'<rect x="{left}" y="{y}" width="{max(1, (q - 0.98) * scale):.1f}" '
                     f'height="{bar}" fill="#4a7ab8"/>')
        parts.append(f'<text x="{left + (q - 0.98) * scale + 4:.1f}" y="{y + 11}">{q:.4f}</text>')
    x1 = left + (1.0 - 0.98) * scale
    parts.append(f'<line x1="{x1:.1f}" y1="{top - 4}" x2="{x1:.1f}" y2="{h - 10}" '
                 'stroke="#888" stroke-dasharray="3,3"/>')
    parts.append("</svg>")
    Path(path).write_text("\n".join(parts) + "\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--build", default=str(REPO / "build"))
    ap.add_argument("--data", default=str(REPO.parent / "shared" / "data" / "tinyshakespeare.txt"))
    ap.add_argument("--windows", type=int, default=32)
    ap.add_argument("--prompt", type=int, default=192)
    ap.add_argument("--continue", dest="cont", type=int, default=64)
    ap.add_argument("--capacity", type=int, nargs="+", default=[32, 64, 128])
    ap.add_argument("--out", default=str(REPO / "bench" / "results"))
    ap.add_argument("--check", action="store_true")
    a = ap.parse_args()
    seqc, seqc_run = Path(a.build) / "bin" / "seqc", Path(a.build) / "bin" / "seqc-run"
    data = Path(a.data).read_bytes()[HELDOUT:]
    span = a.prompt + a.cont
    spans = [list(data[i * span:(i + 1) * span]) for i in range(a.windows)]
    if len(spans[-1]) < span:
        sys.exit(f"{a.data}: not enough held-out text for {a.windows} spans of {span} bytes")
    rows = []
    ref_model = kv_select_ref.Model(str(MODEL)) if a.check else None
    failed = 0
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for name, kind, M, flags, ref_opts in configs(a.capacity, a.prompt):
            art = tmp / "art"
            run([seqc, "compile", MODEL, "-o", art] + flags)
            vocab = json.loads((art / "manifest.json").read_text())["vocab"]
            nlls = []
            for seg in spans:
                out = tmp / "lg.f32"
                run([seqc_run, "logits", art, "--tokens", ",".join(map(str, seg)), "--step",
                     "--step-from", a.prompt, "--after-prompt", "-o", out])
                lg = np.fromfile(out, dtype="<f4").reshape(-1, int(vocab))
                nlls.append(nll_of(lg, seg, a.prompt))
            nll = float(np.mean(nlls))
            kept = a.prompt if M is None else min(M, a.prompt)
            # (DynamicKV: per query head, the mean over the layers.)
            end = (a.prompt + a.cont if M is None else
                   min(M, a.prompt) + a.cont if kind in ("fastkv", "fastkv+tsp", "dynamickv")
                   else min(M, span))
            row = {"config": name, "method": kind, "capacity": M, "flags": flags,
                   "nll": nll, "ppl": math.exp(nll),
                   "kv_rows_per_head_after_prompt": kept, "kv_rows_per_head_at_end": end}
            if a.check and (kind == "full" or kind.startswith("fastkv") or
                            kind == "dynamickv"):
                ref = []
                for seg in spans:
                    method = {"full": None, "dynamickv": "dynamickv"}.get(kind, "fastkv")
                    lg = [ref_model.prefill(seg[:a.prompt], method, **(ref_opts or {}))]
                    for t in seg[a.prompt:-1]:
                        lg.append(ref_model.decode(t))
                    ref.append(nll_of(np.array(lg), seg, a.prompt))
                row["reference_nll"] = float(np.mean(ref))
                diff = abs(row["reference_nll"] - nll)
                ok = diff <= 1e-4
                failed += not ok
                print(f"{name}: seqc NLL {nll:.6f}, reference {row['reference_nll']:.6f}: "
                      f"{'OK' if ok else 'FAIL'} (difference {diff:.2g})")
            rows.append(row)
            print(f"{name}: ppl {row['ppl']:.4f}", file=sys.stderr)
    base = rows[0]["ppl"]
    for r in rows:
        r["vs_full"] = r["ppl"] / base
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    result = {"machine": machine(), "model": str(MODEL.relative_to(REPO)),
              "data": "tinyshakespeare.txt", "start_byte": HELDOUT, "windows": a.windows,
              "prompt_bytes": a.prompt, "scored_bytes_per_window": a.cont, "rows": rows}
    (out / "kv_select_ppl.json").write_text(json.dumps(result, indent=1) + "\n")
    lines = [f"| configuration | KV rows per head after the prompt / at the end | perplexity | "
             f"vs full |", "|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['config']} | {r['kv_rows_per_head_after_prompt']} / "
                     f"{r['kv_rows_per_head_at_end']} | {r['ppl']:.4f} | {r['vs_full']:.4f} |")
    (out / "kv_select_ppl.md").write_text("\n".join(lines) + "\n")
    svg(rows, out / "kv_select_ppl.svg")
    print("\n".join(lines))
    if failed:
        sys.exit(f"{failed} configurations differ from the reference")


if __name__ == "__main__":
    main()
