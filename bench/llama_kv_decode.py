"""Decode speed of a LLaMA-shaped model over full-precision and quantized
KV caches at growing contexts.

    /usr/bin/python3 bench/llama_kv_decode.py [--build build] [--layers 2]
        [--kv-heads 4] [--contexts 512,2048,8192] [--repeat 3] [--decode 16]
        [--weights fp16[,int8,q4]] [--out bench/results/llama_kv_decode.json]

The model has the shape of TinyLlama-1.1B's layers (width 2048, 32 query
heads sharing 4 KV heads of 64, SwiGLU 5632, vocabulary 32000) with random
f16 weights, --layers of them; --kv-heads 32 gives every query head its own
KV head (multi-head attention, 8x the cache of grouped-query attention). Each configuration is compiled with
`seqc compile --weights=fp16` (or each of --weights; labels then start
with the weight format) and measured with `seqc-run bench --contexts`:
the cache is filled by prefill to each context, then --decode steps are
timed. Configurations: f32 and fp16 caches, 4-bit and 2-bit KIVI (groups
of 32, window 32). The configurations are measured in turn, --repeat rounds of
them, and each context keeps its fastest round (every round is in the
JSON): on a shared 2-core machine single runs differ by 10-15%.

Attention's share of a step: with the smallest context as the baseline,
the time a step gains from it to each larger context is the attention over
the extra tokens, and the cache bytes those tokens hold divided by that
time are the attention's read speed ("attention_gb_s"), set against the
bandwidth probe of the same run ("attention_bandwidth_ratio"). Give a small
first context (64) for that baseline.
"""

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "test" / "reference"))
from llama_ref import random_model  # noqa: E402
from machine import machine  # noqa: E402

CONFIGS = [("f32 cache", []),
           ("fp16 cache", ["--kv-f16"]),
           ("4-bit KIVI", ["--kv-bits", "4", "--kv-group", "32", "--kv-window", "32"]),
           ("2-bit KIVI", ["--kv-bits", "2", "--kv-group", "32", "--kv-window", "32"]),
           # Keys read back through a transform at every step: RotateKV's
           # pre-RoPE rotation (inverse FWHT and RoPE per cached key) and
           # the low-rank latent (key rebuilt from 256 latent channels).
           ("2-bit KIVI + pre-RoPE rotation",
            ["--kv-bits", "2", "--kv-group", "32", "--kv-window", "32", "--rotate-kv",
             "--rotate-kv-keys=pre-rope"]),
           ("low rank 256 of 512 + 2-bit KIVI latent",
            ["--kv-bits", "2", "--kv-group", "32", "--kv-window", "32", "--kv-calibration",
             "@CAL@", "--kv-rank", "256"])]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--build", type=Path, default=REPO / "build")
    ap.add_argument("--layers", type=int, default=2)
    ap.add_argument("--kv-heads", type=int, default=4)
    ap.add_argument("--contexts", default="512,2048,8192")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--decode", type=int, default=16,
                    help="decode steps timed at each context")
    ap.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "llama_kv_decode.json")
    ap.add_argument("--weights", default="fp16",
                    help="comma-separated weight formats, each with every cache")
    ap.add_argument("--only", default="",
                    help="comma-separated labels to measure (default: all)")
    a = ap.parse_args()
    formats = a.weights.split(",")
    configs = [(label if formats == ["fp16"] else f"{w} weights, {label}", opts + [f"--weights={w}"])
               for w in formats for label, opts in CONFIGS
               if not a.only or label in a.only.split(",")]
    contexts = [int(c) for c in a.contexts.split(",")]
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        model = Path(tmp) / "model"
        # TinyLlama-1.1B's layer shape, f16 weights.
        random_model(model, seed=0, layers=a.layers, embd=2048, heads=32, kv_heads=a.kv_heads,
                     ffn=5632, vocab=32000, context=max(contexts) + 64, head_dim=64,
                     dtype="fp16")
        arts = []
        cal = Path(tmp) / "calibration.json"
        if any("@CAL@" in opts for _, opts in configs):
            # The low-rank basis: K/V statistics of 512 random tokens.
            subprocess.run([a.build / "bin" / "seqc", "compile", model, "-o",
                            Path(tmp) / "cal", "--weights=fp16", "--context", "512"],
                           check=True, capture_output=True)
            toks = ",".join(str((i * 7919) % 32000) for i in range(512))
            subprocess.run([a.build / "bin" / "seqc-run", "calibrate", Path(tmp) / "cal",
                            "--tokens", toks, "--covariance", "-o", cal],
                           check=True, capture_output=True)
        for label, opts in configs:
            opts = [str(cal) if o == "@CAL@" else o for o in opts]
            art = Path(tmp) / label.replace(" ", "_").replace(",", "")
            subprocess.run([a.build / "bin" / "seqc", "compile", model, "-o", art] + opts,
                           check=True, capture_output=True)
            arts.append((label, art))
        runs = {label: [] for label, _ in arts}
        for _ in range(a.repeat):
            for label, art in arts:
                out = subprocess.run([a.build / "bin" / "seqc-run", "bench", art,
                                      "--prefill", "64", "--decode", str(a.decode), "--rounds", "2",
                                      "--contexts", a.contexts],
                                     check=True, capture_output=True, text=True).stdout
                runs[label].append(json.loads(out))
        for label, _ in arts:
            r = runs[label][0]
            r["label"] = label
            for i, p in enumerate(r["decode_at_context"]):
                rounds = [x["decode_at_context"][i]["ms_per_token"] for x in runs[label]]
                p["ms_per_token_rounds"] = rounds
                p["ms_per_token"] = min(rounds)
            pts = r["decode_at_context"]
            base = pts[0]
            for p in pts[1:]:
                extra_ms = p["ms_per_token"] - base["ms_per_token"]
                extra_bytes = r["kv_bytes_per_token"] * (p["context"] - base["context"])
                p["attention_ms_over_first_context"] = extra_ms
                if extra_ms > 0:
                    p["attention_gb_s"] = extra_bytes / extra_ms / 1e6
                    p["attention_bandwidth_ratio"] = (p["attention_gb_s"] /
                                                      r["read_bandwidth_gb_s"])
            results.append(r)
            print(label, [(p["context"], round(p["ms_per_token"], 2),
                           round(p.get("attention_gb_s", 0), 1))
                          for p in r["decode_at_context"]],
                  "KV bytes/token", r["kv_bytes_per_token"],
                  "probe GB/s", round(r["read_bandwidth_gb_s"], 1), flush=True)
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_text(json.dumps({"layers": a.layers, "kv_heads": a.kv_heads,
                                 "shape": "TinyLlama-1.1B layers", "machine": machine(),
                                 "runs": results}, indent=2) + "\n")


if __name__ == "__main__":
    main()
