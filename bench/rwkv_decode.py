"""RWKV decode and prefill benchmark on real model shapes (random weights).

Writes a safetensors checkpoint per shape (RWKV-7 0.4B: 24 x 1024, 16 heads,
vocab 65536; RWKV-4 430M: 24 x 1024, vocab 50277), compiles it with
`seqc compile` for each weight format, runs `seqc-run bench` (prefill
tokens/s at 64 and 512 tokens, decode ms/token, the machine's read
bandwidth measured in the same run, peak RSS) and writes
bench/results/rwkv_decode.json and a Markdown table on stdout.

    python3 bench/rwkv_decode.py [--build build] [--work /tmp/seqc-bench]
        [--shapes rwkv7-0.4b,rwkv4-430m] [--formats fp32,fp16,int8,int8/none,q4]
        [--cpu NAME] [--tile-rows N] [--compile-only]

A format `int8/KERNEL` (or `q4/KERNEL`) passes --int8-dot=KERNEL (none: f32 activations);
plain `int8` lets seqc pick the target's best; a suffix `@STATE` passes
--state=STATE (`fp16@int8`: fp16 weights, the WKV state kept in 8 bits).
--repeat N runs the benchmarks N times, the artifacts in turn (so that
formats compared with each other see the same machine load). For another machine:
--cpu NAME compiles for it, --tile-rows N repeats N random rows through
every matrix (the bytes read per token are the same, but the artifacts
compress to a few MiB) and --compile-only stops before running; run
`seqc-run bench ARTIFACT --prefill 64,512 --decode 16 --rounds 7` there (under
`taskset -c 0,1` for two threads).
"""

import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "test", "reference"))
import checkpoint  # noqa: E402
import rwkv567_ref  # noqa: E402
import rwkv_ref  # noqa: E402

SHAPES = {
    "rwkv7-0.4b": dict(version=7, layers=24, embd=1024, heads=16, vocab=65536),
    "rwkv4-430m": dict(version=4, layers=24, embd=1024, heads=0, vocab=50277),
}


def make_checkpoint(name, path, tile_rows=0):
    s = SHAPES[name]
    if s["version"] == 4:
        w = rwkv_ref.random_rwkv4_weights(s["layers"], s["embd"], s["vocab"])
    else:
        w = rwkv567_ref.random_weights(s["version"], s["layers"], s["embd"],
                                       s["heads"], s["vocab"])
    if tile_rows:
        w = {k: np.resize(v[:tile_rows], v.shape) if v.ndim == 2 else v
             for k, v in w.items()}
    checkpoint.write_safetensors(path, w, "fp16")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--build", default=os.path.join(HERE, "..", "build"))
    p.add_argument("--work", default="/tmp/seqc-bench")
    p.add_argument("--shapes", default=",".join(SHAPES))
    p.add_argument("--formats", default="fp32,fp16")
    p.add_argument("--decode", type=int, default=16,
                   help="decode steps per round")
    p.add_argument("--rounds", type=int, default=7,
                   help="rounds of decode, each followed by a bandwidth probe")
    p.add_argument("--prefill", default="64,512")
    p.add_argument("--cpu", default="native", help="seqc compile --cpu")
    p.add_argument("--tile-rows", type=int, default=0,
                   help="matrices repeat this many random rows")
    p.add_argument("--compile-only", action="store_true")
    p.add_argument("--repeat", type=int, default=1,
                   help="run every artifact's benchmark this many times, in turn")
    p.add_argument("--json", default=os.path.join(HERE, "results", "rwkv_decode.json"),
                   help="where the results go (default bench/results/rwkv_decode.json)")
    a = p.parse_args()
    os.makedirs(a.work, exist_ok=True)
    seqc = os.path.join(a.build, "bin", "seqc")
    run = os.path.join(a.build, "bin", "seqc-run")
    results = []
    for name in a.shapes.split(","):
        tiled = f"-tile{a.tile_rows}" if a.tile_rows else ""
        ckpt = os.path.join(a.work, name + tiled + ".safetensors")
        if not os.path.exists(ckpt):
            print(f"writing {ckpt}", file=sys.stderr)
            make_checkpoint(name, ckpt, a.tile_rows)
        arts = []
        for fmt in a.formats.split(","):
            wfmt, _, state = fmt.partition("@")
            weights, _, kernel = wfmt.partition("/")
            art = os.path.join(a.work, f"{name}{tiled}-{fmt.replace('/', '-')}")
            if a.cpu != "native":
                art += "-" + a.cpu
            cmd = [seqc, "compile", ckpt, "-o", art, f"--weights={weights}",
                   "--tokenizer=none", f"--cpu={a.cpu}", "--force"]
            if kernel:
                cmd.append(f"--int8-dot={kernel}")
            if state:
                cmd.append(f"--state={state}")
            t = time.time()
            subprocess.run(cmd, check=True)
            arts.append((fmt, art, time.time() - t))
        if a.compile_only:
            continue
        for rep in range(a.repeat):
            for fmt, art, compile_s in arts:
                out = subprocess.run([run, "bench", art, "--prefill", a.prefill,
                                      "--decode", str(a.decode),
                                      "--rounds", str(a.rounds)], check=True,
                                     capture_output=True, text=True).stdout
                r = json.loads(out)
                r.update(shape=name, format=fmt, repeat=rep,
                         compile_seconds=round(compile_s, 1))
                results.append(r)
                print(json.dumps(r), file=sys.stderr)
    if a.compile_only:
        return
    os.makedirs(os.path.dirname(os.path.abspath(a.json)), exist_ok=True)
    with open(a.json, "w") as f:
        json.dump(results, f, indent=2)
    print("| shape | weights | MiB/token | decode ms/token | roofline ms/token "
          "| roofline ratio | prefill 64 tok/s | prefill 512 tok/s "
          "| peak RSS MiB (weight file MiB) |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in results:
        pre = {x["tokens"]: x["tokens_per_s"] for x in r["prefill"]}
        print(f"| {r['shape']} | {r['format']} | {r['token_read_bytes'] / 2**20:.0f} "
              f"| {r['decode_ms_per_token']:.1f} | {r['roofline_ms_per_token']:.1f} "
              f"| {r['roofline_ratio']:.2f} | {pre.get(64, 0):.1f} "
              f"| {pre.get(512, 0):.1f} | {r['peak_rss_bytes'] / 2**20:.0f} "
              f"({r['weight_bytes'] / 2**20:.0f}) |")


if __name__ == "__main__":
    main()
