"""Whole models on the Vulkan target against the CPU target, same machine.

    python3 bench/vulkan_models.py [--build build] [--work /tmp/seqc-vulkan]
        [--repeats 3] [--decode 16] [--rounds 3] [--models A,B] [-o FILE]

Compiles the embedded RWKV-4, RWKV-5, SpikeGPT and LLaMA (with a full
precision and a KIVI 2-bit KV cache), and a random RWKV-7 of 12 layers x
768 (vocabulary 16384: lavapipe binds at most 128 MiB, and the f32 head of
a 65536-token vocabulary is 192 MiB), for --target=cpu and
--target=vulkan (and --target=vulkan --prefill-chunk=0, whose prompts run
token by token: the prefill schedule's gain, measured in the same run), and
runs `seqc-run bench` on them in turn (--repeats times, rotating the order,
each --rounds rounds of --decode steps and a prompt of 16 tokens). The Vulkan device
is the first one the loader lists (VK_ICD_FILENAMES selects lavapipe);
lavapipe runs the kernels on this CPU, so the ratio is a sanity check of
the schedule's overhead, not of a GPU. On a machine with a GPU the same
script measures it.

Writes FILE (default bench/results/vulkan_<device>.json) and a Markdown
table on stdout.
"""

import argparse
import json
import os
import re
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
from machine import machine  # noqa: E402

MODELS = [
    ("rwkv4-tiny", os.path.join(ROOT, "models", "rwkv4-tiny-shakespeare.pth"), []),
    ("rwkv5-tiny", os.path.join(ROOT, "models", "rwkv5-tiny-shakespeare.pth"), []),
    ("spikegpt-tiny", os.path.join(ROOT, "models", "spikegpt-tiny-shakespeare.pth"),
     ["--arch=spikegpt"]),
    ("rwkv7-12x768", None, []),
    # Attention over KV caches: full precision, and KIVI 2-bit with sinks.
    ("llama-tiny", os.path.join(ROOT, "models", "llama-tiny-shakespeare"), []),
    ("llama-tiny-kv2", os.path.join(ROOT, "models", "llama-tiny-shakespeare"),
     ["--kv-bits=2", "--kv-sinks=4", "--kv-window=32"]),
]


def rwkv7_checkpoint(work):
    path = os.path.join(work, "rwkv7-12x768.pth")
    if not os.path.exists(path):
        subprocess.run([sys.executable, os.path.join(ROOT, "test", "reference",
                                                     "rwkv567_ref.py"),
                        "random", "--version", "7", "--layers", "12", "--embd",
                        "768", "--heads", "12", "--vocab", "16384", "--seed",
                        "1", "--dtype", "fp32", "--format", "pth", "-o", path],
                       check=True, stdout=subprocess.DEVNULL)
    return path


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--build", default=os.path.join(ROOT, "build"))
    p.add_argument("--work", default="/tmp/seqc-vulkan")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--decode", type=int, default=16)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--models", default=",".join(m[0] for m in MODELS))
    p.add_argument("-o", "--output")
    a = p.parse_args()
    seqc = os.path.join(a.build, "bin", "seqc")
    run = os.path.join(a.build, "bin", "seqc-run")
    vkrun = os.path.join(a.build, "bin", "seqc-vulkan-run")
    os.makedirs(a.work, exist_ok=True)
    devices = subprocess.run([vkrun, "--devices"], capture_output=True,
                             text=True)
    if devices.returncode:
        print("vulkan_models.py: no Vulkan device: " + devices.stderr.strip())
        return 2
    device = devices.stdout.strip().splitlines()[0]
    slug = re.sub(r"[^a-z0-9]+", "_", device.lower().split("(")[0]).strip("_")
    output = a.output or os.path.join(HERE, "results", f"vulkan_{slug}.json")
    results = {"machine": machine(), "vulkan_device": device,
               "decode_tokens": a.decode, "rounds": a.rounds,
               "repeats": a.repeats, "models": {}}
    rows = []
    wanted = a.models.split(",")
    for name, ckpt, flags in MODELS:
        if name not in wanted:
            continue
        if ckpt is None:
            ckpt = rwkv7_checkpoint(a.work)
        arts = {}
        variants = {"cpu": ["--target=cpu"], "vulkan": ["--target=vulkan"],
                    "vulkan_steps": ["--target=vulkan", "--prefill-chunk=0"]}
        for target, options in variants.items():
            out = os.path.join(a.work, f"{name}-{target}")
            subprocess.run([seqc, "compile", ckpt, "-o", out, "--force"] +
                           options + flags, check=True,
                           stderr=subprocess.DEVNULL)
            arts[target] = out
        runs = {target: [] for target in variants}
        for r in range(a.repeats):
            names = list(variants)
            order = names[r % len(names):] + names[:r % len(names)]
            for target in order:
                js = os.path.join(a.work, f"{name}-{target}-{r}.json")
                subprocess.run([run, "bench", arts[target], "--prefill", "16",
                                "--decode", str(a.decode), "--rounds",
                                str(a.rounds), "-o", js], check=True,
                               stdout=subprocess.DEVNULL)
                with open(js) as f:
                    runs[target].append(json.load(f))
        entry = {}
        for target, rs in runs.items():
            entry[target] = {
                "decode_ms_per_token": statistics.median(
                    x["decode_ms_per_token"] for x in rs),
                "runs_decode_ms_per_token": [x["decode_ms_per_token"] for x in rs],
                "prefill16_tokens_per_s": statistics.median(
                    x["prefill"][0]["tokens_per_s"] for x in rs),
                "token_read_bytes": rs[0]["token_read_bytes"],
            }
        with open(os.path.join(arts["vulkan"], "kernels.bin"), "rb") as f:
            head = f.read(1 << 20)
        text = head[head.index(b"\n") + 1:].split(b"\0")[0].decode(errors="replace")
        step = [l for l in text.splitlines() if l.startswith("schedule.seqc_step ")]
        entry["vulkan"]["dispatches_per_token"] = (
            step[0].count(" dispatch=") if step else None)
        entry["vulkan_over_cpu"] = (entry["vulkan"]["decode_ms_per_token"] /
                                    entry["cpu"]["decode_ms_per_token"])
        entry["prefill_schedule_over_steps"] = (
            entry["vulkan"]["prefill16_tokens_per_s"] /
            entry["vulkan_steps"]["prefill16_tokens_per_s"])
        results["models"][name] = entry
        rows.append(f"| {name} | {entry['cpu']['decode_ms_per_token']:.3f} | "
                    f"{entry['vulkan']['decode_ms_per_token']:.2f} | "
                    f"{entry['vulkan_over_cpu']:.0f} | "
                    f"{entry['vulkan']['dispatches_per_token']} | "
                    f"{entry['cpu']['prefill16_tokens_per_s']:.0f} | "
                    f"{entry['vulkan']['prefill16_tokens_per_s']:.1f} | "
                    f"{entry['vulkan_steps']['prefill16_tokens_per_s']:.1f} | "
                    f"{entry['prefill_schedule_over_steps']:.2f} |")
    os.makedirs(os.path.dirname(output), exist_ok=True)
    with open(output, "w") as f:
        json.dump(results, f, indent=2)
        f.write("\n")
    m = results["machine"]
    print(f"machine: {m.get('model', '?')}, {m.get('cpus')} threads; "
          f"Vulkan device: {device}")
    print("| model | CPU decode ms/token | Vulkan decode ms/token | Vulkan/CPU | "
          "dispatches/token | CPU prefill 16 tok/s | Vulkan prefill 16 tok/s | "
          "Vulkan token by token, tok/s | prefill schedule / token by token |")
    print("|---|---|---|---|---|---|---|---|---|")
    print("\n".join(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
