"""Compile time and peak memory of `seqc compile` on real model shapes.

Writes random checkpoints of real 0.4B shapes into a work directory (nothing
is downloaded): RWKV-4 430M (.pth, bf16; 24 x 1024, vocab 50277), RWKV-7
0.4B (.pth, bf16; 24 x 1024, 16 heads, vocab 65536) and a LLaMA of 0.47B
(Hugging Face safetensors + config.json, bf16; 24 x 1024, 16 heads, ffn
4096, vocab 32000, untied head). Each is compiled with
`seqc compile --weights=fp32|fp16|int8`, and so is a checkpoint of the same
architecture and depth at width 64 (RWKV-7: 128; vocabulary 256): the
compiler's own memory (MLIR and LLVM over the same program structure, with
next to no weights). Peak RSS is the compiler's ru_maxrss (GNU time); time
is wall-clock. The embedded models' compile times are measured too.
Results go to bench/results/compile_scale.json (with the machine), a
Markdown table to stdout.

    /usr/bin/python3 bench/compile_scale.py [--build build] [--work DIR]
        [--shapes rwkv4-430m,rwkv7-0.4b,llama-0.47b] [--formats fp32,fp16,int8]
        [--embedded] [--label NAME] [--json FILE]

--label names the run inside the JSON (runs with other labels already in
the file are kept: "before" and "after" a change side by side). --work keeps
the checkpoints between runs (default: a temporary directory, removed).
"""

import argparse
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time


HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, "..")
sys.path.insert(0, os.path.join(ROOT, "test", "reference"))
import checkpoint  # noqa: E402
import llama_ref  # noqa: E402
import rwkv567_ref  # noqa: E402
import rwkv_ref  # noqa: E402

SHAPES = {
    "rwkv4-430m": dict(arch="rwkv4", layers=24, embd=1024, vocab=50277),
    "rwkv7-0.4b": dict(arch="rwkv7", layers=24, embd=1024, heads=16,
                       vocab=65536),
    "llama-0.47b": dict(arch="llama", layers=24, embd=1024, heads=16,
                        kv_heads=16, ffn=4096, vocab=32000),
}

# The embedded models and the flags they are compiled with.
EMBEDDED = [
    ("rwkv4-tiny-shakespeare", "models/rwkv4-tiny-shakespeare.pth", []),
    ("spikegpt-tiny-shakespeare", "models/spikegpt-tiny-shakespeare.pth",
     ["--arch=spikegpt"]),
    ("rwkv4-perspectives-tiny-shakespeare",
     "models/rwkv4-perspectives-tiny-shakespeare.pth", []),
    ("llama-tiny-shakespeare", "models/llama-tiny-shakespeare", []),
]


def small(shape):
    """The same architecture and depth at width 64 (RWKV-7: 128, two heads
    of 64), vocabulary 256."""
    s = dict(shape, embd=64, vocab=256)
    if s["arch"] == "rwkv7":
        s.update(embd=128, heads=2)  # Two heads of 64.
    elif s["arch"] == "llama":
        s.update(heads=4, kv_heads=4, ffn=256)
    return s


def write_checkpoint(s, path):
    """Random weights of shape `s` at `path` (a .pth file or a directory)."""
    if s["arch"] == "rwkv4":
        w = rwkv_ref.random_rwkv4_weights(s["layers"], s["embd"], s["vocab"])
        checkpoint.write_pth(path, w, "bf16")
    elif s["arch"] == "rwkv7":
        w = rwkv567_ref.random_weights(7, s["layers"], s["embd"], s["heads"],
                                       s["vocab"])
        checkpoint.write_pth(path, w, "bf16")
    else:
        llama_ref.random_model(path, layers=s["layers"], embd=s["embd"],
                               heads=s["heads"], kv_heads=s["kv_heads"],
                               ffn=s["ffn"], vocab=s["vocab"], context=2048,
                               dtype="bf16")


def checkpoint_path(work, name, s):
    ext = "" if s["arch"] == "llama" else ".pth"
    return os.path.join(work, name + ext)


def largest_tensor_bytes(s):
    """The largest tensor of the weight file: the f32 embedding table
    (kept f32 whatever --weights) of V x C elements; every other tensor of
    these shapes (the head at most as large, stored in the format) is
    smaller."""
    return s["vocab"] * s["embd"] * 4


def measure(cmd):
    """Runs `cmd` under GNU time; wall seconds, peak RSS bytes, stderr.

    (GNU time's %M is the child's ru_maxrss. Measured from this process
    instead, it would include this process's own size: a forked child
    keeps its parent's high-water mark across exec.)"""
    with tempfile.NamedTemporaryFile("r", suffix=".time") as out:
        t = time.monotonic()
        p = subprocess.run(["/usr/bin/time", "-f", "%M", "-o", out.name,
                            *cmd], stdout=subprocess.DEVNULL,
                           stderr=subprocess.PIPE, text=True)
        wall = time.monotonic() - t
        if p.returncode != 0:
            sys.exit(f"{' '.join(cmd)} failed ({p.returncode}):\n{p.stderr}")
        kib = int(out.read().split()[-1])
    return wall, kib * 1024, p.stderr


def stages(err):
    """seqc's progress lines as {message: seconds since start}."""
    out = {}
    for line in err.splitlines():
        m = re.match(r"seqc: \[\s*([0-9.]+)s\] (.*)", line)
        if m:
            out[m.group(2)] = float(m.group(1))
    return out


def compile_once(seqc, ckpt, art, fmt, extra=()):
    shutil.rmtree(art, ignore_errors=True)
    cmd = [seqc, "compile", ckpt, "-o", art, f"--weights={fmt}",
           "--tokenizer=none", *extra]
    wall, rss, err = measure(cmd)
    weights = os.path.getsize(os.path.join(art, "weights.bin"))
    return dict(seconds=round(wall, 2), peak_rss_bytes=rss,
                weights_file_bytes=weights, stages=stages(err))


def machine():
    cpu = "unknown"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    mem = 0
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal"):
                mem = int(line.split()[1]) * 1024
    return dict(cpu=cpu, cores=os.cpu_count(), memory_bytes=mem,
                kernel=platform.release())


def mib(n):
    return n / 2**20


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--build", default=os.path.join(ROOT, "build"))
    p.add_argument("--work", default="")
    p.add_argument("--shapes", default=",".join(SHAPES))
    p.add_argument("--formats", default="fp32,fp16,int8")
    p.add_argument("--embedded", action="store_true",
                   help="also time the embedded models' compiles")
    p.add_argument("--no-small", action="store_true",
                   help="skip the width-64 compiles (the compiler's own memory)")
    p.add_argument("--label", default="run")
    p.add_argument("--json", default=os.path.join(HERE, "results",
                                                  "compile_scale.json"))
    a = p.parse_args()
    seqc = os.path.join(a.build, "bin", "seqc")
    work = a.work or tempfile.mkdtemp(prefix="seqc-compile-scale-")
    os.makedirs(work, exist_ok=True)
    rows, embedded = [], []
    try:
        for name in filter(None, a.shapes.split(",")):
            s = SHAPES[name]
            ckpt = checkpoint_path(work, name, s)
            sm = small(s)
            ckpt_small = checkpoint_path(work, name + "-small", sm)
            for path, shape in ((ckpt, s), (ckpt_small, sm)):
                if not os.path.exists(path):
                    print(f"writing {path}", file=sys.stderr)
                    write_checkpoint(shape, path)
            ckpt_bytes = sum(os.path.getsize(os.path.join(dp, f))
                             for dp, _, fs in os.walk(ckpt) for f in fs) \
                if os.path.isdir(ckpt) else os.path.getsize(ckpt)
            for fmt in a.formats.split(","):
                art = os.path.join(work, f"{name}-{fmt}")
                r = compile_once(seqc, ckpt, art, fmt)
                shutil.rmtree(art, ignore_errors=True)
                r.update(shape=name, format=fmt, checkpoint_bytes=ckpt_bytes,
                         largest_tensor_bytes=largest_tensor_bytes(s))
                if not a.no_small:
                    art = os.path.join(work, f"{name}-small-{fmt}")
                    own = compile_once(seqc, ckpt_small, art, fmt)
                    shutil.rmtree(art, ignore_errors=True)
                    r["own_peak_rss_bytes"] = own["peak_rss_bytes"]
                    r["own_seconds"] = own["seconds"]
                    beyond = r["peak_rss_bytes"] - own["peak_rss_bytes"]
                    r["beyond_own_bytes"] = beyond
                    # The goal: at most 1.2 x the largest tensor + 256 MiB
                    # beyond the compiler's own memory.
                    r["goal_bytes"] = int(1.2 * r["largest_tensor_bytes"]
                                          + 256 * 2**20)
                    r["goal_met"] = beyond <= r["goal_bytes"]
                r["rss_over_weights_file"] = round(
                    r["peak_rss_bytes"] / r["weights_file_bytes"], 3)
                r["rss_over_largest_tensor"] = round(
                    r["peak_rss_bytes"] / r["largest_tensor_bytes"], 3)
                rows.append(r)
                print(json.dumps({k: v for k, v in r.items() if k != "stages"}),
                      file=sys.stderr)
        if a.embedded:
            for name, path, extra in EMBEDDED:
                art = os.path.join(work, name)
                r = compile_once(seqc, os.path.join(ROOT, path), art, "fp32",
                                 extra)
                shutil.rmtree(art, ignore_errors=True)
                r.update(model=name)
                embedded.append(r)
                print(json.dumps({k: v for k, v in r.items() if k != "stages"}),
                      file=sys.stderr)
    finally:
        if not a.work:
            shutil.rmtree(work, ignore_errors=True)

    results = {}
    if os.path.exists(a.json):
        with open(a.json) as f:
            results = json.load(f)
    run = results.setdefault("runs", {}).setdefault(a.label, {})
    run["machine"] = machine()
    run["date"] = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    # Shapes and models measured again replace their earlier rows.
    keep = [r for r in run.get("models", [])
            if not any(r["shape"] == n["shape"] and r["format"] == n["format"]
                       for n in rows)]
    run["models"] = keep + rows
    if embedded:
        run["embedded"] = embedded
    os.makedirs(os.path.dirname(os.path.abspath(a.json)), exist_ok=True)
    with open(a.json, "w") as f:
        json.dump(results, f, indent=2)
        f.write("\n")

    print("| shape | weights | compile s | peak RSS MiB | weight file MiB "
          "| RSS / weight file | largest tensor MiB | own RSS MiB "
          "| beyond own MiB | goal MiB |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['shape']} | {r['format']} | {r['seconds']:.1f} "
              f"| {mib(r['peak_rss_bytes']):.0f} "
              f"| {mib(r['weights_file_bytes']):.0f} "
              f"| {r['rss_over_weights_file']:.2f} "
              f"| {mib(r['largest_tensor_bytes']):.0f} "
              f"| {mib(r.get('own_peak_rss_bytes', 0)):.0f} "
              f"| {mib(r.get('beyond_own_bytes', 0)):.0f} "
              f"| {mib(r.get('goal_bytes', 0)):.0f} |")
    for r in embedded:
        print(f"embedded {r['model']}: {r['seconds']:.1f} s, "
              f"peak RSS {mib(r['peak_rss_bytes']):.0f} MiB")


if __name__ == "__main__":
    main()
