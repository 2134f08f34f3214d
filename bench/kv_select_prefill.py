"""Time to first token and decode speed with FastKV's prefill-time KV
selection and token-selective propagation, against the full prefill.

    /usr/bin/python3 bench/kv_select_prefill.py [--build build] [--prompt 2048]
        [--layers 8] [--keep 205] [--tsp-layer 3] [--tsp-rate 0.2]
        [--repeat 3] [--out bench/results/kv_select_prefill.json]

A random LLaMA-shaped model (f32; width 512, 8 query heads sharing 2 KV
heads of 64, SwiGLU 1408, byte vocabulary) is compiled three ways: a plain
cache; `--kv-select=fastkv --kv-select-keep=K` (every layer keeps K rows per
KV head of the prompt); and the same with `--kv-tsp-layer=L
--kv-tsp-rate=R` (the layers after L run on int(R n) of the n prompt
tokens: FastKV's defaults are R = 0.2 and a KV budget of 0.1 n, here
K = 205 of 2048). Each is measured with `seqc-run bench --prefill N
--contexts N`: the fastest of 3 prefills of the N-token prompt (the time to
first token), then 16 decode steps after a prompt of N tokens. The
configurations are measured in turn, --repeat rounds of them, and each keeps
its fastest round: absolute times on a shared machine are noise, the ratios
of one run are the figure.

Expected prefill ratio with propagation, from the layer count alone: (L + 1
+ R (layers - L - 1)) / layers of the full prefill's time (0.5 for the
defaults), less where attention's quadratic part dominates.
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


def run(cmd):
    r = subprocess.run([str(c) for c in cmd], capture_output=True, text=True)
    if r.returncode:
        sys.exit(f"{' '.join(map(str, cmd))} failed:\n{r.stderr}")
    return r.stdout


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--build", default=str(REPO / "build"))
    ap.add_argument("--prompt", type=int, default=2048)
    ap.add_argument("--layers", type=int, default=8)
    ap.add_argument("--keep", type=int, default=205)
    ap.add_argument("--tsp-layer", type=int, default=3)
    ap.add_argument("--tsp-rate", type=float, default=0.2)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--out", default=str(REPO / "bench" / "results" / "kv_select_prefill.json"))
    a = ap.parse_args()
    seqc, seqc_run = Path(a.build) / "bin" / "seqc", Path(a.build) / "bin" / "seqc-run"
    configs = [
        ("full prefill, full cache", []),
        (f"FastKV selection, {a.keep} rows per KV head",
         ["--kv-select=fastkv", f"--kv-select-keep={a.keep}"]),
        (f"FastKV selection + propagation of {a.tsp_rate:g} n after layer {a.tsp_layer}",
         ["--kv-select=fastkv", f"--kv-select-keep={a.keep}",
          f"--kv-tsp-layer={a.tsp_layer}", f"--kv-tsp-rate={a.tsp_rate}"]),
    ]
    decode = 16
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        random_model(tmp / "m", seed=0, layers=a.layers, embd=512, heads=8, kv_heads=2,
                     ffn=1408, vocab=256, context=a.prompt + 2 * decode)
        arts = []
        for i, (_, flags) in enumerate(configs):
            art = tmp / f"a{i}"
            run([seqc, "compile", tmp / "m", "-o", art] + flags)
            arts.append(art)
        rounds = [[] for _ in configs]
        for r in range(a.repeat):
            for i, art in enumerate(arts):
                out = tmp / f"b{i}.json"
                run([seqc_run, "bench", art, "--prefill", a.prompt, "--decode", decode,
                     "--rounds", 1, "--contexts", a.prompt, "-o", out])
                b = json.loads(out.read_text())
                rounds[i].append({"prefill_s": b["prefill"][0]["seconds"],
                                  "decode_ms_at_prompt": b["decode_at_context"][0]["ms_per_token"]})
                print(f"round {r}: {configs[i][0]}: prefill {rounds[i][-1]['prefill_s']:.3f} s, "
                      f"decode {rounds[i][-1]['decode_ms_at_prompt']:.2f} ms/token", file=sys.stderr)
    rows = []
    for (name, flags), rs in zip(configs, rounds):
        rows.append({"config": name, "flags": flags,
                     "prefill_s": min(x["prefill_s"] for x in rs),
                     "decode_ms_at_prompt": min(x["decode_ms_at_prompt"] for x in rs),
                     "rounds": rs})
    base = rows[0]
    for row in rows:
        row["prefill_ratio_to_full"] = row["prefill_s"] / base["prefill_s"]
        row["decode_ratio_to_full"] = row["decode_ms_at_prompt"] / base["decode_ms_at_prompt"]
    L, T = a.layers, a.tsp_layer
    result = {
        "machine": machine(),
        "model": {"layers": L, "width": 512, "heads": 8, "kv_heads": 2, "head_dim": 64,
                  "ffn": 1408, "weights": "f32", "random": True},
        "prompt_tokens": a.prompt, "decode_tokens": decode, "repeat": a.repeat,
        "expected_prefill_ratio_with_propagation_by_layers":
            (T + 1 + a.tsp_rate * (L - T - 1)) / L,
        "rows": rows,
    }
    Path(a.out).write_text(json.dumps(result, indent=1) + "\n")
    print(f"| configuration | prefill of {a.prompt} tokens (s) | vs full | decode after it "
          f"(ms/token) | vs full |")
    print("|---|---|---|---|---|")
    for row in rows:
        print(f"| {row['config']} | {row['prefill_s']:.3f} | {row['prefill_ratio_to_full']:.2f} | "
              f"{row['decode_ms_at_prompt']:.2f} | {row['decode_ratio_to_full']:.2f} |")


if __name__ == "__main__":
    main()
