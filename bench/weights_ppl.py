"""Held-out perplexity of the embedded models at each weight format
(`seqc compile --weights=fp32|fp16|int8|q8|q6|q5|q4|q4k|q6k|q5k`).

    /usr/bin/python3 bench/weights_ppl.py [--build build] [--bytes N]
        [--out DIR] [--gate 0.05]

Compiles each embedded model (RWKV-4, RWKV-4 with 4 temporal perspectives,
SpikeGPT, RWKV-5, LLaMA) once per
weight format, each with the integer kernels the target CPU has for int8
and the group formats (q8 .. q4, q4k, q6k, q5k), and scores N continuous held-out bytes of
../shared/data/tinyshakespeare.txt (from byte 1003855, the first the models
were not trained on) with `seqc-run ppl` (the LLaMA in windows of its
trained context). Writes weights_ppl.json (every run), weights_ppl.md (the
table) and weights_ppl.svg (the plot). With --gate G, exits 1 unless every
format is within G (relative) of the fp32 weights' perplexity. In the group
formats the perspectives model keeps its head in int8 rows (the head runs
over every perspective before they are mixed, which the group products do
not).
"""

import json
import sys
import tempfile
from pathlib import Path

from state_quant_ppl import HELDOUT, arguments, compile_and_score, svg

MODELS = [
    ("RWKV-4", "rwkv4-tiny-shakespeare.pth", []),
    ("RWKV-4, 4 perspectives", "rwkv4-perspectives-tiny-shakespeare.pth", []),
    ("SpikeGPT", "spikegpt-tiny-shakespeare.pth", ["--arch=spikegpt"]),
    ("RWKV-5", "rwkv5-tiny-shakespeare.pth", []),
    ("LLaMA", "llama-tiny-shakespeare", []),
]
FORMATS = ["fp32", "fp16", "int8", "q8", "q6", "q5", "q4", "q4k", "q6k", "q5k"]


def main():
    a = arguments(__doc__)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for model, ckpt, flags in MODELS:
            base = None
            for fmt in FORMATS:
                art = Path(tmp) / f"{len(rows)}"
                manifest, got = compile_and_score(a, ckpt, [*flags, f"--weights={fmt}"],
                                                  art)
                base = base or got["ppl"]
                rows.append({"model": model, "weights": fmt, "ppl": got["ppl"],
                             "vs_f32": got["ppl"] / base, "scored": got["scored"],
                             "weights_bytes": manifest["weights_bytes"],
                             "token_read_bytes": manifest["token_read_bytes"],
                             "kernel": manifest.get("int8_dot", "none")})
                print(f"{model:22} {fmt:5} ppl {got['ppl']:.4f} "
                      f"({100 * (got['ppl'] / base - 1):+.2f}%), weights "
                      f"{manifest['weights_bytes']} bytes", flush=True)
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "weights_ppl.json").write_text(json.dumps(
        {"heldout_start_byte": HELDOUT, "bytes": a.bytes, "runs": rows}, indent=1) + "\n")
    lines = ["| model | weights | held-out ppl per byte | vs fp32 | weight file bytes "
             "| bytes read per token | kernel |", "|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['model']} | {r['weights']} | {r['ppl']:.4f} | "
                     f"{100 * (r['vs_f32'] - 1):+.2f}% | {r['weights_bytes']} | "
                     f"{r['token_read_bytes']} | {r['kernel']} |")
    (out / "weights_ppl.md").write_text("\n".join(lines) + "\n")
    svg(rows, out / "weights_ppl.svg", column="weights",
        title="held-out perplexity / fp32 weights, minus 1", gate=a.gate or 0.05)
    if a.gate is not None:
        bad = [r for r in rows if r["vs_f32"] > 1 + a.gate]
        for r in bad:
            print(f"FAIL: {r['model']}, {r['weights']}: {r['vs_f32']:.4f} of fp32")
        if bad:
            return 1
        print(f"OK: every format within {a.gate:g} of the fp32 weights")
    return 0


if __name__ == "__main__":
    sys.exit(main())
