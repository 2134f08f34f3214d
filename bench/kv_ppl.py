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
    # QuaRot folded into the weights: values leave W_v rotated; with
    # --rotate-kv, queries and keys are rotated online as well.
    ("4-bit + QuaRot weights (values rotated)", ["--kv-bits", "4", "--rotate-weights"]),
    ("2-bit + QuaRot weights (values rotated)", ["--kv-bits", "2", "--rotate-weights"]),
    ("2-bit + QuaRot weights + rotation",
     ["--kv-bits", "2", "--rotate-weights", "--rotate-kv"]),
    ("2-bit, per-token keys", ["--kv-bits", "2", "--kv-per-token-keys"]),
    ("2-bit + rotation, per-token keys", ["--kv-bits", "2", "--rotate-kv", "--kv-per-token-keys"]),
    ("2-bit, 4 sinks", ["--kv-bits", "2", "--kv-sinks", "4"]),
    ("2-bit, per-token keys, window 0",
     ["--kv-bits", "2", "--kv-window", "0", "--kv-per-token-keys"]),
    ("2-bit + rotation, per-token keys, window 0",
     ["--kv-bits", "2", "--kv-window", "0", "--kv-per-token-keys", "--rotate-kv"]),
    # RotateKV's pre-RoPE rotation: keys rotated before RoPE (alone, or the
    # two KV heads of a layer together), cached so, rotated back and RoPE-d
    # when attention reads them.
    ("2-bit + pre-RoPE rotation", ["--kv-bits", "2", "--rotate-kv",
                                   "--rotate-kv-keys=pre-rope"]),
    ("2-bit + pre-RoPE rotation, 2 heads together",
     ["--kv-bits", "2", "--rotate-kv", "--rotate-kv-keys=pre-rope", "--rotate-kv-heads=2"]),
    ("3-bit + pre-RoPE rotation, 2 heads together",
     ["--kv-bits", "3", "--rotate-kv", "--rotate-kv-keys=pre-rope", "--rotate-kv-heads=2"]),
    ("2-bit + pre-RoPE rotation, per-token keys",
     ["--kv-bits", "2", "--rotate-kv", "--rotate-kv-keys=pre-rope", "--kv-per-token-keys"]),
    ("2-bit + pre-RoPE rotation, 2 heads together, per-token keys",
     ["--kv-bits", "2", "--rotate-kv", "--rotate-kv-keys=pre-rope", "--rotate-kv-heads=2",
      "--kv-per-token-keys"]),
    ("2-bit + pre-RoPE rotation, 2 heads together, per-token keys, window 0",
     ["--kv-bits", "2", "--kv-window", "0", "--kv-per-token-keys", "--rotate-kv",
      "--rotate-kv-keys=pre-rope", "--rotate-kv-heads=2"]),
    # Rotation by Hadamard blocks of 8 channels (queries and keys), plain and
    # with RotateKV's outlier-aware reordering from key statistics measured
    # by `seqc-run calibrate` on the training part of the text (@CAL@).
    ("2-bit + rotation in blocks of 8, per-token keys",
     ["--kv-bits", "2", "--rotate-kv", "--rotate-kv-block", "8", "--kv-per-token-keys"]),
    ("2-bit + reordered rotation in blocks of 8, per-token keys",
     ["--kv-bits", "2", "--rotate-kv", "--rotate-kv-block", "8", "--kv-calibration", "@CAL@",
      "--kv-per-token-keys"]),
    ("2-bit + reordered rotation in blocks of 32, per-token keys",
     ["--kv-bits", "2", "--rotate-kv", "--kv-calibration", "@CAL@", "--kv-per-token-keys"]),
    ("2-bit + rotation in blocks of 8, per-token keys, window 0",
     ["--kv-bits", "2", "--kv-window", "0", "--rotate-kv", "--rotate-kv-block", "8",
      "--kv-per-token-keys"]),
    ("2-bit + reordered rotation in blocks of 8, per-token keys, window 0",
     ["--kv-bits", "2", "--kv-window", "0", "--rotate-kv", "--rotate-kv-block", "8",
      "--kv-calibration", "@CAL@", "--kv-per-token-keys"]),
    # MiKV's outlier balancing (seq-balance-kv) from the same statistics.
    ("2-bit, per-token keys, balanced (alpha 0.5)",
     ["--kv-bits", "2", "--kv-per-token-keys", "--kv-calibration", "@CAL@",
      "--kv-balance", "0.5"]),
    ("2-bit, per-token keys, balanced (alpha 1)",
     ["--kv-bits", "2", "--kv-per-token-keys", "--kv-calibration", "@CAL@",
      "--kv-balance", "1"]),
    # EliteKV's joint low-rank K/V cache (seq-low-rank-kv): per token, RANK
    # coordinates of [keys before RoPE; values] (128 channels per layer) in
    # the principal directions of their second moment, from the same
    # calibration run; alone and with the latent quantized per token.
    ("low rank 96 of 128 (f32 latent)", ["--kv-calibration", "@CAL@", "--kv-rank", "96"]),
    ("low rank 64 of 128 (f32 latent)", ["--kv-calibration", "@CAL@", "--kv-rank", "64"]),
    ("low rank 32 of 128 (f32 latent)", ["--kv-calibration", "@CAL@", "--kv-rank", "32"]),
    ("low rank 16 of 128 (f32 latent)", ["--kv-calibration", "@CAL@", "--kv-rank", "16"]),
    ("low rank 64 + 4-bit latent, per token",
     ["--kv-bits", "4", "--kv-per-token-keys", "--kv-calibration", "@CAL@", "--kv-rank", "64"]),
    ("low rank 64 + 2-bit latent, per token",
     ["--kv-bits", "2", "--kv-per-token-keys", "--kv-calibration", "@CAL@", "--kv-rank", "64"]),
    ("low rank 64 + 4-bit KIVI latent (per-channel key rows)",
     ["--kv-bits", "4", "--kv-calibration", "@CAL@", "--kv-rank", "64"]),
    ("low rank 64 + 2-bit KIVI latent (per-channel key rows)",
     ["--kv-bits", "2", "--kv-calibration", "@CAL@", "--kv-rank", "64"]),
    ("low rank 32 + 4-bit latent, per token (groups of 16)",
     ["--kv-bits", "4", "--kv-per-token-keys", "--kv-group", "16", "--kv-calibration", "@CAL@",
      "--kv-rank", "32"]),
    # Weight quantization (per-row int8) with and without QuaRot, with f32
    # activations and with the integer kernels' int8 activations (blocks of
    # 32 channels; --int8-dot=avx2 so that the row means the same on any
    # x86 machine with AVX2).
    ("f32 cache, int8 weights", ["--weights=int8", "--int8-dot=none"]),
    ("f32 cache, int8 weights + QuaRot weights",
     ["--weights=int8", "--int8-dot=none", "--rotate-weights"]),
    ("f32 cache, int8 weights and activations", ["--weights=int8", "--int8-dot=avx2"]),
    ("f32 cache, int8 weights and activations + QuaRot weights",
     ["--weights=int8", "--int8-dot=avx2", "--rotate-weights"]),
]
# Eviction keeps full-precision tokens: 50%, 25%, 12.5% (32 tokens: the
# bytes of the 2-bit caches) and 6.25% of the 256-token context, always with
# 4 sinks; h2o and roco keep half of the rest as the most recent tokens
# (H2O's split) and choose the other half by attention.
EVICTION = []
for pct, budget in [("50%", 128), ("25%", 64), ("12.5%", 32), ("6.25%", 16)]:
    recent = str((budget - 4) // 2)
    EVICTION += [
        (f"window eviction, {pct} ({budget} tokens)",
         ["--kv-evict", "window", "--kv-budget", str(budget), "--kv-sinks", "4"]),
        (f"h2o eviction, {pct} ({budget} tokens)",
         ["--kv-evict", "h2o", "--kv-budget", str(budget), "--kv-sinks", "4",
          "--kv-recent", recent]),
        (f"roco eviction, {pct} ({budget} tokens)",
         ["--kv-evict", "roco", "--kv-budget", str(budget), "--kv-sinks", "4",
          "--kv-recent", recent]),
    ]
# Mixed precision (MiKV): the tokens h2o (or roco) would drop are kept at 2
# or 4 bits (groups of 32 channels per token) instead.
for pct, budget in [("25%", 64), ("12.5%", 32), ("6.25%", 16)]:
    for bits in ["2", "4"]:
        EVICTION.append(
            (f"mixed precision: h2o {pct} ({budget} tokens) + {bits}-bit rest",
             ["--kv-evict", "h2o", "--kv-budget", str(budget), "--kv-sinks", "4",
              "--kv-recent", str((budget - 4) // 2), "--kv-bits", bits,
              "--kv-group", "32"]))
EVICTION += [
    ("mixed precision: roco 12.5% (32 tokens) + 2-bit rest",
     ["--kv-evict", "roco", "--kv-budget", "32", "--kv-sinks", "4", "--kv-recent", "14",
      "--kv-bits", "2", "--kv-group", "32"]),
    ("mixed precision, balanced (alpha 0.5): h2o 12.5% (32 tokens) + 2-bit rest",
     ["--kv-evict", "h2o", "--kv-budget", "32", "--kv-sinks", "4", "--kv-recent", "14",
      "--kv-bits", "2", "--kv-group", "32", "--kv-calibration", "@CAL@",
      "--kv-balance", "0.5"]),
    ("mixed precision + rotation: h2o 12.5% (32 tokens) + 2-bit rest",
     ["--kv-evict", "h2o", "--kv-budget", "32", "--kv-sinks", "4", "--kv-recent", "14",
      "--kv-bits", "2", "--kv-group", "32", "--rotate-kv"]),
]
COMMON = ["--kv-group", "32", "--kv-window", "32"]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--build", type=Path, default=REPO / "build")
    ap.add_argument("--out", type=Path, default=REPO / "bench" / "results")
    ap.add_argument("--model", type=Path, default=REPO / "models" / "llama-tiny-shakespeare")
    ap.add_argument("--text", type=Path,
                    default=REPO.parent / "shared" / "data" / "tinyshakespeare.txt")
    ap.add_argument("--only", default="",
                    help="run only the configurations whose label contains this text; "
                         "the other rows are kept from the existing kv_ppl.json")
    a = ap.parse_args()
    if not a.text.exists():
        sys.exit(f"{a.text}: absent (../shared/data is needed for this benchmark)")
    seqc, run = a.build / "bin" / "seqc", a.build / "bin" / "seqc-run"
    rows = []
    old = {}
    if a.only and (a.out / "kv_ppl.json").exists():
        old = {r["label"]: r for r in json.loads((a.out / "kv_ppl.json").read_text())}
    with tempfile.TemporaryDirectory() as tmp:
        # Key statistics for the reordered rotations: the f32 model on the
        # training part (first 90%) of the text, 16384 tokens.
        cal = Path(tmp) / "calibration.json"
        subprocess.run([seqc, "compile", a.model, "-o", Path(tmp) / "cal"], check=True,
                       capture_output=True)
        subprocess.run([run, "calibrate", Path(tmp) / "cal", a.text, "--end-fraction", "0.9",
                        "--covariance",
                        "-o", cal], check=True, capture_output=True)
        for i, (label, opts) in enumerate(CONFIGS + EVICTION):
            if a.only and a.only not in label:
                if label in old:
                    rows.append(old[label])
                continue
            art = Path(tmp) / f"a{i}"
            opts = [str(cal) if o == "@CAL@" else o for o in opts]
            args = (COMMON + opts if opts and "--kv-bits" in opts
                    and "--kv-evict" not in opts else opts)
            # Later options win: "window 0" overrides the common window.
            subprocess.run([seqc, "compile", a.model, "-o", art] + args, check=True,
                           capture_output=True)
            out = subprocess.run([run, "ppl", art, a.text, "--start-fraction", "0.9"],
                                 check=True, capture_output=True, text=True).stdout
            result = json.loads(out)
            manifest = json.loads((art / "manifest.json").read_text())
            # An evicting cache stores a fixed number of full-precision
            # tokens: its bytes per context token are those over the context;
            # a mixed-precision one holds those at full precision and the
            # others quantized.
            ctx = manifest["context"]
            kept = manifest.get("kv_tokens_kept")
            full = manifest.get("kv_tokens_full_precision")
            per_token = manifest["kv_bytes_per_token"]
            if kept:
                per_token = per_token * kept // ctx
            if full:
                per_token = (manifest["kv_bytes_per_full_token"] * full
                             + per_token * (ctx - full)) // ctx
            shown = ["@CAL@" if o == str(cal) else o for o in args]
            row = {"label": label, "options": shown, "ppl": result["ppl"],
                   "kv_bytes_per_token": per_token,
                   # Everything the caches allocate (headers, full-precision
                   # rings, attention statistics, flags), per context token.
                   "state_bytes_per_token": manifest["state_bytes"] // ctx,
                   "kv_bytes_per_full_token": manifest["kv_bytes_per_full_token"],
                   "kv_cache": manifest["kv_cache"]}
            rows.append(row)
            print(f"{label:40s} ppl {row['ppl']:.4f}  KV {row['kv_bytes_per_token']} B/token",
                  flush=True)
    a.out.mkdir(parents=True, exist_ok=True)
    (a.out / "kv_ppl.json").write_text(json.dumps(rows, indent=2) + "\n")
    base = rows[0]["ppl"]
    lines = ["| KV cache | held-out ppl per byte | vs full precision | "
             "KV bytes per context token (4 layers) | allocated state bytes per "
             "context token |",
             "|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['label']} | {r['ppl']:.4f} | {100 * (r['ppl'] / base - 1):+.2f}% "
                     f"| {r['kv_bytes_per_token']} | {r['state_bytes_per_token']} |")
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
    fig, ax = plt.subplots(figsize=(10, 9))
    labels = [f"{r['label']}  ({r['kv_bytes_per_token']} B/token)" for r in rows]
    incr = [100 * (r["ppl"] / base - 1) for r in rows]
    def color(label):
        for key, c in [("balanced", "tab:gray"), ("mixed", "tab:purple"), ("QuaRot", "tab:cyan"),
                       ("pre-RoPE", "tab:olive"), ("reordered", "tab:pink"),
                       ("rotation", "tab:orange"),
                       ("h2o", "tab:red"), ("roco", "tab:brown"),
                       ("window eviction", "tab:green")]:
            if key in label:
                return c
        return "tab:blue"
    colors = [color(r["label"]) for r in rows]
    ax.barh(range(len(rows)), incr, color=colors)
    ax.set_yticks(range(len(rows)))
    ax.set_yticklabels(labels, fontsize=8)
    ax.invert_yaxis()
    ax.set_xscale("symlog", linthresh=0.01)
    ax.set_xlabel(f"held-out perplexity increase over the f32 cache, % (f32: {base:.4f})")
    ax.set_title("Tiny LLaMA on tinyshakespeare: KV caches (KIVI: groups of 32, "
                 "window 32)\nblue: KIVI, orange: KIVI + seq-fuse-hadamard rotation, "
                 "olive: pre-RoPE key rotation (RotateKV), pink: reordered "
                 "from calibration, gray: balanced (MiKV), "
                 "cyan: QuaRot folded into the weights,\n"
                 "green: window eviction, red: h2o, brown: roco, purple: mixed "
                 "precision (MiKV)", fontsize=9)
    for i, v in enumerate(incr):
        ax.text(max(v, 0.001), i, f" {v:+.2f}%", va="center", fontsize=7)
    fig.tight_layout()
    fig.savefig(a.out / "kv_ppl.png", dpi=120)


if __name__ == "__main__":
    main()
