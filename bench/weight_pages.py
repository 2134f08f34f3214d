"""Decode speed by how the weights are held: weights.bin mapped from the
page cache (`--weight-pages=file`, the default) against the weights copied
into memory asked for huge pages (`--weight-pages=huge-copy`), on a real
model shape with random weights (bench/rwkv_decode.py's RWKV-4 430M by
default), alternately in one run so that both see the same machine.

Before each `file` run the page cache is left as the previous run left it
(how much of weights.bin the kernel maps with huge pages then depends on
what it has collapsed so far, which grows run after run), or, with
--cold (root only), emptied (`echo 3 > /proc/sys/vm/drop_caches`): the
case of an artifact just copied or a machine just booted. `seqc-run bench`
reports the bytes in huge pages after its rounds, so each figure comes
with the pages it got.

    python3 bench/weight_pages.py [--build build] [--work /tmp/seqc-bench]
        [--shape rwkv4-430m] [--formats fp32,fp16] [--pairs 3] [--cold]
        [--json bench/results/weight_pages.json]
"""

import argparse
import json
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import machine  # noqa: E402
import rwkv_decode  # noqa: E402


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--build", default=os.path.join(HERE, "..", "build"))
    p.add_argument("--work", default="/tmp/seqc-bench")
    p.add_argument("--shape", default="rwkv4-430m",
                   choices=sorted(rwkv_decode.SHAPES))
    p.add_argument("--formats", default="fp32,fp16")
    p.add_argument("--pairs", type=int, default=3,
                   help="file / huge-copy runs alternated this many times")
    p.add_argument("--decode", type=int, default=16)
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--cold", action="store_true",
                   help="empty the page cache before each file run (root)")
    p.add_argument("--json", default=os.path.join(HERE, "results",
                                                  "weight_pages.json"))
    a = p.parse_args()
    os.makedirs(a.work, exist_ok=True)
    seqc = os.path.join(a.build, "bin", "seqc")
    run = os.path.join(a.build, "bin", "seqc-run")
    ckpt = os.path.join(a.work, a.shape + ".safetensors")
    if not os.path.exists(ckpt):
        print(f"writing {ckpt}", file=sys.stderr)
        rwkv_decode.make_checkpoint(a.shape, ckpt)
    result = {"machine": machine.machine(), "shape": a.shape,
              "page_cache": "emptied before each file run" if a.cold
              else "as the previous run left it", "runs": [], "summary": {}}
    for fmt in a.formats.split(","):
        art = os.path.join(a.work, f"{a.shape}-{fmt}")
        if not os.path.exists(os.path.join(art, "model.so")):
            subprocess.run([seqc, "compile", ckpt, "-o", art,
                            f"--weights={fmt}", "--tokenizer=none"],
                           check=True)
        runs = {"file": [], "huge-copy": []}
        for i in range(a.pairs):
            for mode in ("file", "huge-copy"):
                if a.cold and mode == "file":
                    subprocess.run(["sync"], check=True)
                    with open("/proc/sys/vm/drop_caches", "w") as f:
                        f.write("3\n")
                t = time.time()
                out = subprocess.run(
                    [run, "bench", art, "--prefill", "16", "--decode",
                     str(a.decode), "--rounds", str(a.rounds),
                     f"--weight-pages={mode}"],
                    check=True, capture_output=True, text=True).stdout
                r = json.loads(out)
                row = {"format": fmt, "pages": mode, "pair": i,
                       "decode_ms_per_token": r["decode_ms_per_token"],
                       "roofline_ratio": r["roofline_ratio"],
                       "read_bandwidth_gb_s": r["read_bandwidth_gb_s"],
                       "probe_bytes_in_huge_pages":
                           r["probe_bytes_in_huge_pages"],
                       "weight_bytes": r["weight_bytes"],
                       "weight_bytes_in_huge_pages":
                           r["weight_bytes_in_huge_pages"],
                       "seconds": round(time.time() - t, 1)}
                result["runs"].append(row)
                runs[mode].append(row)
                print(json.dumps(row), file=sys.stderr)
        med = lambda rows, k: sorted(x[k] for x in rows)[len(rows) // 2]  # noqa: E731
        f_ms, h_ms = (med(runs[m], "decode_ms_per_token")
                      for m in ("file", "huge-copy"))
        result["summary"][fmt] = {
            "file_ms_per_token": f_ms,
            "huge_copy_ms_per_token": h_ms,
            "speedup": f_ms / h_ms,
            "file_roofline_ratio": med(runs["file"], "roofline_ratio"),
            "huge_copy_roofline_ratio": med(runs["huge-copy"],
                                            "roofline_ratio"),
            "file_fraction_in_huge_pages": [
                round(x["weight_bytes_in_huge_pages"] / x["weight_bytes"], 3)
                for x in runs["file"]],
            "huge_copy_fraction_in_huge_pages": [
                round(x["weight_bytes_in_huge_pages"] / x["weight_bytes"], 3)
                for x in runs["huge-copy"]],
        }
    os.makedirs(os.path.dirname(os.path.abspath(a.json)), exist_ok=True)
    with open(a.json, "w") as f:
        json.dump(result, f, indent=2)
        f.write("\n")
    print("| weights | pages | decode ms/token (median) | roofline ratio "
          "| share in huge pages |")
    print("|---|---|---|---|---|")
    for fmt, s in result["summary"].items():
        print(f"| {fmt} | file | {s['file_ms_per_token']:.1f} "
              f"| {s['file_roofline_ratio']:.2f} "
              f"| {', '.join(map(str, s['file_fraction_in_huge_pages']))} |")
        print(f"| {fmt} | huge-copy | {s['huge_copy_ms_per_token']:.1f} "
              f"| {s['huge_copy_roofline_ratio']:.2f} "
              f"| {', '.join(map(str, s['huge_copy_fraction_in_huge_pages']))} |")


if __name__ == "__main__":
    main()
