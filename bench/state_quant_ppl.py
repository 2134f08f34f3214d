"""Held-out perplexity of the embedded recurrent models with the WKV state
kept quantized between tokens (`seqc compile --state=int8|int4`).

    /usr/bin/python3 bench/state_quant_ppl.py [--build build] [--bytes N]
        [--out DIR] [--gate 0.01]

Compiles each embedded recurrent model (RWKV-4, RWKV-4 with 4 temporal
perspectives, SpikeGPT, RWKV-5) once per state format (the RWKV-5 matrix
state also rotated) and scores N continuous
held-out bytes of ../shared/data/tinyshakespeare.txt (from byte 1003855, the
first the models were not trained on; one stream from the fresh state, so
the state carries the whole context: N = 20000 is 156 times the training
context of 128) with `seqc-run ppl`. Writes state_quant_ppl.json (every
run), state_quant_ppl.md (the table) and state_quant_ppl.svg (the plot).
With --gate G, exits 1 unless every 8-bit state is within G (relative) of
the f32 state's perplexity.
"""

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
HELDOUT = 1003855

MODELS = [
    ("RWKV-4", "rwkv4-tiny-shakespeare.pth", []),
    ("RWKV-4, 4 perspectives", "rwkv4-perspectives-tiny-shakespeare.pth", []),
    ("SpikeGPT", "spikegpt-tiny-shakespeare.pth", ["--arch=spikegpt"]),
    ("RWKV-5", "rwkv5-tiny-shakespeare.pth", []),
]
# The matrix state (RWKV-5/6/7) also with each head's values rotated.
ROTATED = [
    ("int8, group 32, rotated", ["--state=int8", "--state-rotate"]),
    ("int4, group 32, rotated", ["--state=int4", "--state-rotate"]),
]
FORMATS = [
    ("f32", []),
    ("int8, group 32", ["--state=int8"]),
    ("int8, group 64", ["--state=int8", "--state-group=64"]),
    ("int4, group 32", ["--state=int4"]),
    ("int4, group 16", ["--state=int4", "--state-group=16"]),
]


def run(cmd):
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode:
        sys.exit(f"{' '.join(map(str, cmd))} failed:\n{r.stderr}")
    return r.stdout


def svg(rows, path, column="state", title="held-out perplexity / f32 state, minus 1",
        gate=0.01):
    """A bar chart of the perplexity ratio to f32 (`vs_f32`) per model and
    `column`, with a dashed line at `gate`."""
    w, h, left, top, bar = 760, 60 + 22 * len(rows), 330, 30, 16
    worst = max(r["vs_f32"] for r in rows)
    scale = (w - left - 60) / max(worst - 1.0, 1.1 * gate)
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" '
           'font-family="sans-serif" font-size="12">',
           f'<text x="{left}" y="18">{title} '
           f'(dashed: the {100 * gate:g}% gate)</text>']
    for i, r in enumerate(rows):
        y = top + 22 * i
        d = max(r["vs_f32"] - 1.0, 0.0)
        out.append(f'<text x="{left - 6}" y="{y + 12}" text-anchor="end">'
                   f'{r["model"]}, {r[column]}</text>')
        out.append(f'<rect x="{left}" y="{y}" width="{d * scale:.1f}" '
                   f'height="{bar}" fill="#4878a8"/>')
        out.append(f'<text x="{left + d * scale + 4:.1f}" y="{y + 12}">'
                   f'{100 * (r["vs_f32"] - 1):+.2f}%</text>')
    gx = left + gate * scale
    out.append(f'<line x1="{gx:.1f}" y1="{top - 4}" x2="{gx:.1f}" y2="{h - 10}" '
               'stroke="#c03030" stroke-dasharray="4,3"/>')
    out.append("</svg>")
    path.write_text("\n".join(out) + "\n")


def arguments(doc):
    """The options the perplexity benches share, parsed."""
    p = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    p.add_argument("--build", default=str(REPO / "build"))
    p.add_argument("--data", default=str(REPO.parent / "shared" / "data" /
                                         "tinyshakespeare.txt"))
    p.add_argument("--bytes", type=int, default=20000)
    p.add_argument("--out", default=str(REPO / "bench" / "results"))
    p.add_argument("--gate", type=float)
    return p.parse_args()


def compile_and_score(a, ckpt, flags, art):
    """Compiles models/`ckpt` with `flags` to `art` and scores a.bytes
    held-out bytes (attention models in windows of their context); returns
    the manifest and what `seqc-run ppl` printed."""
    build = Path(a.build) / "bin"
    run([build / "seqc", "compile", REPO / "models" / ckpt, *flags, "-o", art])
    manifest = json.loads((art / "manifest.json").read_text())
    window = manifest.get("context")
    got = json.loads(run([build / "seqc-run", "ppl", art, a.data, "--start-byte",
                          str(HELDOUT), "--max-tokens", str(a.bytes)]
                         + (["--window", str(window)] if window else [])))
    return manifest, got


def main():
    a = arguments(__doc__)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for model, ckpt, flags in MODELS:
            base = None
            formats = FORMATS + (ROTATED if model.startswith("RWKV-5") else [])
            for state, sflags in formats:
                art = Path(tmp) / f"{len(rows)}"
                manifest, got = compile_and_score(a, ckpt, [*flags, *sflags], art)
                shape = manifest["state_shape"]
                base = base or got["ppl"]
                rows.append({"model": model, "state": state, "ppl": got["ppl"],
                             "vs_f32": got["ppl"] / base, "scored": got["scored"],
                             "state_shape": shape,
                             "state_bytes": 4 * shape[0] * shape[1] * shape[2]})
                print(f"{model:24} {state:16} ppl {got['ppl']:.4f} "
                      f"({100 * (got['ppl'] / base - 1):+.2f}%), state "
                      f"{rows[-1]['state_bytes']} bytes", flush=True)
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "state_quant_ppl.json").write_text(json.dumps(
        {"heldout_start_byte": HELDOUT, "bytes": a.bytes, "runs": rows}, indent=1) + "\n")
    lines = ["| model | state | held-out ppl per byte | vs f32 state | state bytes |",
             "|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['model']} | {r['state']} | {r['ppl']:.4f} | "
                     f"{100 * (r['vs_f32'] - 1):+.2f}% | {r['state_bytes']} |")
    (out / "state_quant_ppl.md").write_text("\n".join(lines) + "\n")
    svg(rows, out / "state_quant_ppl.svg")
    if a.gate is not None:
        bad = [r for r in rows if r["state"].startswith("int8")
               and r["vs_f32"] > 1 + a.gate]
        for r in bad:
            print(f"FAIL: {r['model']}, {r['state']}: {r['vs_f32']:.4f} of f32")
        if bad:
            return 1
        print(f"OK: every 8-bit state within {a.gate:g} of the f32 state")
    return 0


if __name__ == "__main__":
    sys.exit(main())
