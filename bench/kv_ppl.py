"""Held-out perplexity of the embedded tiny LLaMA under KV-cache compression.

    /usr/bin/python3 bench/kv_ppl.py [--build build] [--out bench/results]

Compiles models/llama-tiny-shakespeare once per configuration with `seqc
compile` (--kv-bits, --kv-group, --kv-window, --rotate-kv, ...) and scores
the last 10% of ../shared/data/tinyshakespeare.txt with `seqc-run ppl`
(windows of the model's 256-token context, each from an empty cache).
Writes kv_ppl.json (every run: options, perplexity, KV bytes per token from
the manifest), kv_ppl.md (the table for docs/) and kv_ppl.png (the plot).
"""

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

CONFIGS = [
    ("full precision (f32)", []),
    ("8-bit", ["--kv-bits", "8"]),
    ("8-bit + rotation", ["--kv-bits", "8", "--rotate-kv"]),
    ("4-bit", ["--kv-bits", "4"]),
    ("4-bit + rotation", ["--kv-bits", "4", "--rotate-kv"]),
    ("3-bit", ["--kv-bits", "3"]),
    ("3-bit + rotation", ["--kv-bits", "3", "--rotate-kv"]),
    ("2-bit", ["--kv-bits", "2"]),
    ("2-bit + rotation", ["--kv-bits", "2", "--rotate-kv"]),
    ("2-bit, per-token keys", ["--kv-bits", "2", "--kv-per-token-keys"]),
    ("2-bit + rotation, per-token keys", ["--kv-bits", "2", "--rotate-kv", "--kv-per-token-keys"]),
    ("2-bit, 4 sinks", ["--kv-bits", "2", "--kv-sinks", "4"]),
    ("2-bit, per-token keys, window 0",
     ["--kv-bits", "2", "--kv-window", "0", "--kv-per-token-keys"]),
    ("2-bit + rotation, per-token keys, window 0",
     ["--kv-bits", "2", "--kv-window", "0", "--kv-per-token-keys", "--rotate-kv"]),
]
# Eviction keeps full-precision tokens: 50% and 25% of the 256-token
# context, and 12.5% (32 tokens: the bytes of the 2-bit caches).
EVICTION = [
    ("window eviction, 50% (128 tokens, 4 sinks)",
     ["--kv-evict", "window", "--kv-budget", "128", "--kv-sinks", "4"]),
    ("window eviction, 25% (64 tokens, 4 sinks)",
     ["--kv-evict", "window", "--kv-budget", "64", "--kv-sinks", "4"]),
    ("window eviction, 12.5% (32 tokens, 4 sinks)",
     ["--kv-evict", "window", "--kv-budget", "32", "--kv-sinks", "4"]),
]
COMMON = ["--kv-group", "32", "--kv-window", "32"]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--build", type=Path, default=REPO / "build")
    ap.add_argument("--out", type=Path, default=REPO / "bench" / "results")
    ap.add_argument("--model", type=Path, default=REPO / "models" / "llama-tiny-shakespeare")
    ap.add_argument("--text", type=Path,
                    default=REPO.parent / "shared" / "data" / "tinyshakespeare.txt")
    a = ap.parse_args()
    if not a.text.exists():
        sys.exit(f"{a.text}: absent (../shared/data is needed for this benchmark)")
    seqc, run = a.build / "bin" / "seqc", a.build / "bin" / "seqc-run"
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for i, (label, opts) in enumerate(CONFIGS + EVICTION):
            art = Path(tmp) / f"a{i}"
            args = COMMON + opts if opts and "--kv-bits" in opts else opts
            # Later options win: "window 0" overrides the common window.
            subprocess.run([seqc, "compile", a.model, "-o", art] + args, check=True,
                           capture_output=True)
            out = subprocess.run([run, "ppl", art, a.text, "--start-fraction", "0.9"],
                                 check=True, capture_output=True, text=True).stdout
            result = json.loads(out)
            manifest = json.loads((art / "manifest.json").read_text())
            # An evicting cache stores a fixed number of full-precision
            # tokens: its bytes per context token are those over the context.
            kept = manifest.get("kv_tokens_kept")
            per_token = manifest["kv_bytes_per_token"]
            if kept:
                per_token = per_token * kept // manifest["context"]
            row = {"label": label, "options": args, "ppl": result["ppl"],
                   "kv_bytes_per_token": per_token,
                   "kv_bytes_per_full_token": manifest["kv_bytes_per_full_token"],
                   "kv_cache": manifest["kv_cache"]}
            rows.append(row)
            print(f"{label:40s} ppl {row['ppl']:.4f}  KV {row['kv_bytes_per_token']} B/token",
                  flush=True)
    a.out.mkdir(parents=True, exist_ok=True)
    (a.out / "kv_ppl.json").write_text(json.dumps(rows, indent=2) + "\n")
    base = rows[0]["ppl"]
    lines = ["| KV cache | held-out ppl per byte | vs full precision | "
             "KV bytes per context token (4 layers) |",
             "|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['label']} | {r['ppl']:.4f} | {100 * (r['ppl'] / base - 1):+.2f}% "
                     f"| {r['kv_bytes_per_token']} |")
    (a.out / "kv_ppl.md").write_text("\n".join(lines) + "\n")
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib missing: no plot")
        return
    # One bar per configuration: perplexity increase over the full-precision
    # cache (symmetric log scale: 0.01% .. 60% on one axis).
    fig, ax = plt.subplots(figsize=(9, 5.5))
    labels = [f"{r['label']}  ({r['kv_bytes_per_token']} B/token)" for r in rows]
    incr = [100 * (r["ppl"] / base - 1) for r in rows]
    colors = ["tab:orange" if "rotation" in r["label"] else "tab:blue" for r in rows]
    ax.barh(range(len(rows)), incr, color=colors)
    ax.set_yticks(range(len(rows)))
    ax.set_yticklabels(labels, fontsize=8)
    ax.invert_yaxis()
    ax.set_xscale("symlog", linthresh=0.01)
    ax.set_xlabel(f"held-out perplexity increase over the f32 cache, % (f32: {base:.4f})")
    ax.set_title("Tiny LLaMA on tinyshakespeare: KIVI caches (groups of 32, "
                 "window 32) and window eviction\n"
                 "orange: with seq-fuse-hadamard rotation")
    for i, v in enumerate(incr):
        ax.text(max(v, 0.001), i, f" {v:+.2f}%", va="center", fontsize=7)
    fig.tight_layout()
    fig.savefig(a.out / "kv_ppl.png", dpi=120)


if __name__ == "__main__":
    main()
