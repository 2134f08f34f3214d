"""Writes the JSON of bench/cuda/run.sh from its work directory.

    report.py WORK ARTIFACTS [--out FILE]

WORK holds probe.txt (seqc-cuda-run --probe), checks.txt (one line per
correctness check: lit's PASS/FAIL lines, or the numpy reference's
"KERNEL: ... ok|MISMATCH" lines) and time_SET_KERNEL.json (seqc-cuda-run
--time). The result: the device, the checks and whether all passed, the
copy bandwidth, and per product its GB/s and its ratio to the copy
bandwidth (bytes a launch moves: each buffer once; the weights dominate).
Written to FILE (default bench/results/cuda_<device>.json) and, when $OUT is
set, to $OUT/ too; a table goes to stdout.
"""

import argparse
import datetime
import json
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(
    __file__))))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("work")
    p.add_argument("artifacts")
    p.add_argument("--out")
    a = p.parse_args()
    probe = open(os.path.join(a.work, "probe.txt")).read().strip()
    checks = [l.rstrip() for l in open(os.path.join(a.work, "checks.txt"))
              if l.strip() and not l.startswith("lit:")]
    passed = bool(checks) and all(
        l.startswith(("PASS", "UNSUPPORTED")) or l.endswith(": ok")
        for l in checks)
    times = {}
    for name in sorted(os.listdir(a.work)):
        m = re.match(r"time_(bench|decode)_(\w+)\.json$", name)
        if m:
            times[(m.group(1), m.group(2))] = json.load(
                open(os.path.join(a.work, name)))
    copy = times[("bench", "copy")]["gb_per_s"]
    manifest = json.load(open(os.path.join(a.artifacts, "bench",
                                           "manifest.json")))
    shape = re.search(r"grid=(\d+),", manifest["kernel.matvec_f32"]).group(1)
    cols = re.search(r"f32:\d+:r:1", manifest["kernel.matvec_f32"]).group(0)
    rows_cols = f"{shape} x {cols.split(':')[1]}"
    result = {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(
            timespec="seconds"),
        "device": probe,
        "cuda_arch": manifest["cuda_arch"],
        "checks_passed": passed,
        "checks": checks,
        "copy_gb_per_s": copy,
        "copy": times[("bench", "copy")],
        "products": {},
        "decode_module": {},
        "prefill": {},
    }
    print(f"device: {probe}")
    print(f"checks: {'all passed' if passed else 'FAILED'} ({len(checks)})")
    print(f"copy: {copy:.1f} GB/s")
    print(f"products {rows_cols}:")
    for k in ("matvec_f32", "matvec_f16", "matvec_i8"):
        t = times[("bench", k)]
        ratio = t["gb_per_s"] / copy
        result["products"][k] = dict(t, shape=rows_cols,
                                     ratio_to_copy=ratio)
        print(f"  {k}: {t['seconds_per_launch'] * 1e6:.1f} us, "
              f"{t['gb_per_s']:.1f} GB/s, {ratio:.2f} of copy "
              f"({t['loaded']})")
    # Prefill: the tiled product's FLOP/s against the FMA loop's.
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import gen_kernels
    fma = times.get(("bench", "fma_peak"))
    if fma and ("bench", "matmul_f32") in times:
        peak = (gen_kernels.FMA_BLOCKS * 256 * gen_kernels.FMA_ROUNDS * 8 * 2
                / fma["seconds_per_launch"])
        # The shape from matmul_f32's bindings: X tokens x width, W width^2.
        counts = [int(b.split(":")[1]) for b in re.search(
            r"bindings=(\S+)", manifest["kernel.matmul_f32"]).group(1).split(",")]
        width = int(round(counts[1] ** 0.5))
        tokens = counts[0] // width
        shape = f"{tokens} x {width} x {width}"
        result["prefill"] = {"fma_peak_tflops": peak / 1e12, "fma_peak": fma}
        print(f"FP32 FMA loop: {peak / 1e12:.1f} TFLOP/s")
        print(f"prefill products {shape}:")
        for k in ("matmul_f32", "matmul_f16", "matmul_i8", "matmul_f16_mma"):
            mm = times.get(("bench", k))
            if not mm:
                continue
            flops = 2 * tokens * width * width / mm["seconds_per_launch"]
            result["prefill"][k] = dict(mm, shape=shape, tflops=flops / 1e12,
                                        ratio_to_fma_peak=flops / peak)
            print(f"  {k}: {mm['seconds_per_launch'] * 1e3:.2f} ms, "
                  f"{flops / 1e12:.2f} TFLOP/s, {flops / peak:.2f} of the "
                  "FMA loop")
    # One decode step's large products at model shapes.
    steps = {}
    for name in sorted(os.listdir(a.work)):
        m = re.match(r"time_step_(.+)_(f16|i8)_(launches|graph)\.json$", name)
        if m:
            steps.setdefault(f"{m.group(1)} {m.group(2)}", {})[m.group(3)] = \
                json.load(open(os.path.join(a.work, name)))
    if steps:
        result["decode_steps"] = {}
        print("one decode step's large products (one kernel each, own weights):")
        for key, runs in sorted(steps.items()):
            entry = {}
            for how, r in sorted(runs.items()):
                ratio = r["gb_per_s"] / copy
                entry[how] = dict(r, ratio_to_copy=ratio)
                print(f"  {key} ({r['sequence']} kernels, "
                      f"{r['bytes_per_sequence'] / 2**30:.2f} GiB), {how}: "
                      f"{r['seconds_per_sequence'] * 1e3:.3f} ms, "
                      f"{r['gb_per_s']:.0f} GB/s, {ratio:.2f} of copy")
            result["decode_steps"][key] = entry
    # Whole models (seqc-run bench on --target=cuda artifacts): decode's
    # bytes per token against the copy bandwidth.
    models = {}
    for name in sorted(os.listdir(a.work)):
        m = re.match(r"model_(.+)\.json$", name)
        if m:
            models[m.group(1)] = json.load(open(os.path.join(a.work, name)))
    if models:
        result["models"] = {}
        print("whole models (seqc-run bench, decode):")
        for key, r in models.items():
            ms = r["decode_ms_per_token"]
            gbs = r["token_read_bytes"] / (ms * 1e-3) / 1e9
            result["models"][key] = dict(r, gb_per_s=gbs, ratio_to_copy=gbs / copy)
            print(f"  {key}: {ms:.3f} ms/token, {gbs:.0f} GB/s of weights, "
                  f"{gbs / copy:.2f} of copy")
    print("decode module (512 x 256, L2-resident; not a bandwidth figure):")
    for (s, k), t in sorted(times.items()):
        if s == "decode":
            result["decode_module"][k] = t
            print(f"  {k}: {t['seconds_per_launch'] * 1e6:.2f} us")
    device = re.sub(r"[^a-z0-9]+", "_", probe.split(":")[0].lower()).strip("_")
    out = a.out or os.path.join(ROOT, "bench", "results",
                                f"cuda_{device or 'gpu'}.json")
    text = json.dumps(result, indent=2) + "\n"
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    open(out, "w").write(text)
    print(f"wrote {out}")
    if os.environ.get("OUT"):
        path = os.path.join(os.environ["OUT"], os.path.basename(out))
        open(path, "w").write(text)
        print(f"wrote {path}")
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
