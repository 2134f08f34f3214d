"""SpikeGPT against RWKV-4 of the same shape: decode and prefill speed.

One random checkpoint with the public SpikeGPT-216M shapes (18 layers, width
768, vocabulary 50277; official names), compiled twice per weight format: as
SpikeGPT (`--arch=spikegpt`: LIF neurons on both block outputs, membranes
and spike counts in the state, rescaling) and as RWKV-4 (the same tensors
without the neurons). `seqc-run bench` runs the two alternately, SpikeGPT
first in odd repetitions and RWKV-4 first in even ones, so that both see
the same drift of a shared machine; the figures are medians over the
repetitions of each run's median decode ms/token. Writes
bench/results/spikegpt_decode.json and a Markdown table on stdout.

    python3 bench/spikegpt_decode.py [--build build] [--work /tmp/seqc-spike]
        [--formats fp16,int8] [--repeats 4] [--decode 32] [--rounds 5]
"""

import argparse
import json
import os
import statistics
import subprocess
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "test", "reference"))
import checkpoint  # noqa: E402

LAYERS, EMBD, VOCAB = 18, 768, 50277


def make_checkpoint(path):
    try:
        import spikegpt_ref  # realistic LIF input scales: moderate firing
        w = spikegpt_ref.random_checkpoint(LAYERS, EMBD, VOCAB, seed=0)
    except ImportError:
        import rwkv_ref
        w = rwkv_ref.random_rwkv4_weights(LAYERS, EMBD, VOCAB)
    checkpoint.write_safetensors(path, {k: np.asarray(v, np.float32)
                                        for k, v in w.items()}, "fp16")


def cpu_model():
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
        for line in out.splitlines():
            if line.startswith("Model name:"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown"


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--build", default=os.path.join(HERE, "..", "build"))
    p.add_argument("--work", default="/tmp/seqc-spike")
    p.add_argument("--formats", default="fp16,int8")
    p.add_argument("--repeats", type=int, default=4)
    p.add_argument("--decode", type=int, default=32)
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("-o", "--output",
                   default=os.path.join(HERE, "results", "spikegpt_decode.json"))
    a = p.parse_args()
    seqc = os.path.join(a.build, "bin", "seqc")
    run = os.path.join(a.build, "bin", "seqc-run")
    os.makedirs(a.work, exist_ok=True)
    ckpt = os.path.join(a.work, "spikegpt-216m-shape.safetensors")
    if not os.path.exists(ckpt):
        make_checkpoint(ckpt)
    results = {"machine": cpu_model(), "threads": os.cpu_count(),
               "shape": dict(layers=LAYERS, embd=EMBD, vocab=VOCAB),
               "decode_tokens": a.decode, "rounds": a.rounds,
               "repeats": a.repeats, "formats": {}}
    rows = []
    for fmt in a.formats.split(","):
        arts = {}
        for model, extra in (("spikegpt", ["--arch=spikegpt"]), ("rwkv4", [])):
            out = os.path.join(a.work, f"{model}-{fmt}")
            if not os.path.exists(os.path.join(out, "manifest.json")):
                subprocess.run([seqc, "compile", ckpt, "-o", out,
                                f"--weights={fmt}"] + extra, check=True,
                               stderr=subprocess.DEVNULL)
            arts[model] = out
        runs = {"spikegpt": [], "rwkv4": []}
        for r in range(a.repeats):
            order = ("spikegpt", "rwkv4") if r % 2 == 0 else ("rwkv4", "spikegpt")
            for model in order:
                js = os.path.join(a.work, f"{model}-{fmt}-{r}.json")
                subprocess.run([run, "bench", arts[model], "--prefill", "64",
                                "--decode", str(a.decode), "--rounds",
                                str(a.rounds), "-o", js], check=True,
                               stdout=subprocess.DEVNULL)
                with open(js) as f:
                    runs[model].append(json.load(f))
        entry = {}
        for model, rs in runs.items():
            entry[model] = {
                "decode_ms_per_token": statistics.median(
                    x["decode_ms_per_token"] for x in rs),
                "runs_decode_ms_per_token": [x["decode_ms_per_token"] for x in rs],
                "prefill64_tokens_per_s": statistics.median(
                    x["prefill"][0]["tokens_per_s"] for x in rs),
                "token_read_bytes": rs[0]["token_read_bytes"],
            }
            if "spikes_per_token" in rs[0]:
                entry[model]["spikes_per_token"] = rs[0]["spikes_per_token"]
                entry[model]["firing_rate"] = rs[0]["firing_rate"]
        ratio = (entry["spikegpt"]["decode_ms_per_token"] /
                 entry["rwkv4"]["decode_ms_per_token"])
        entry["decode_ratio_spikegpt_over_rwkv4"] = ratio
        results["formats"][fmt] = entry
        rows.append(f"| {fmt} | {entry['spikegpt']['decode_ms_per_token']:.2f} | "
                    f"{entry['rwkv4']['decode_ms_per_token']:.2f} | {ratio:.3f} | "
                    f"{entry['spikegpt']['prefill64_tokens_per_s']:.1f} | "
                    f"{entry['rwkv4']['prefill64_tokens_per_s']:.1f} | "
                    f"{entry['spikegpt'].get('firing_rate', 0):.3f} |")
    os.makedirs(os.path.dirname(a.output), exist_ok=True)
    with open(a.output, "w") as f:
        json.dump(results, f, indent=2)
        f.write("\n")
    print(f"machine: {results['machine']}, {results['threads']} threads")
    print("| weights | SpikeGPT decode ms/token | RWKV-4 decode ms/token | ratio | "
          "SpikeGPT prefill 64 tok/s | RWKV-4 prefill 64 tok/s | firing rate |")
    print("|---|---|---|---|---|---|---|")
    print("\n".join(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
