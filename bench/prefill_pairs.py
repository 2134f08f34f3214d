"""Prefill speed of pairs of artifacts, run alternately.

    /usr/bin/python3 bench/prefill_pairs.py [--build build] [--repeat 3]
        [--prefill 512] [--out FILE.json] LABEL=BEFORE_DIR,AFTER_DIR ...

The prefill counterpart of decode_pairs.py (same pairs, same alternation:
the order swapped from round to round). Each run is one `seqc-run bench
--prefill N` (the best of its three prefills), which also measures the
FP32 FMA peak with as many threads as the products use; recorded per run:
tokens/s, GFLOP/s (2 x the matrix multiply-adds of a token but the output
head's, x tokens / seconds) and their ratio to that run's peak; per pair
the ratio after/before of the tokens/s of each round and their range.
"""

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "bench"))
from decode_pairs import alternate, parse_pairs, split_side, table  # noqa: E402
from machine import machine  # noqa: E402


def bench(run, artifact, tokens):
    path, env = split_side(artifact)
    out = subprocess.run([str(run), "bench", path, "--prefill", str(tokens),
                          "--decode", "1", "--rounds", "1"],
                         check=True, capture_output=True, text=True,
                         env={**os.environ, **env}).stdout
    d = json.loads(out)
    p = d["prefill"][0]
    return {"tokens_per_s": p["tokens_per_s"], "gflop_s": p["gflop_s"],
            "fma_peak_ratio": p["fma_peak_ratio"],
            "fma_peak_gflop_s": d["fma_peak_gflop_s"],
            "fma_peak_isa": d["fma_peak_isa"],
            "weights_format": d["weights_format"]}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--build", type=Path, default=REPO / "build")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--prefill", type=int, default=512)
    ap.add_argument("--out", type=Path)
    ap.add_argument("pairs", nargs="+", help="LABEL=BEFORE_DIR,AFTER_DIR")
    a = ap.parse_args()
    run = a.build / "bin" / "seqc-run"
    pairs = parse_pairs(a.pairs, "prefill_pairs.py")
    alternate(pairs, a.repeat, lambda side: bench(run, side, a.prefill),
              lambda res: (res["after"]["tokens_per_s"] /
                           res["before"]["tokens_per_s"]),
              lambda res: (f"before {res['before']['tokens_per_s']:.1f} tokens/s "
                           f"({res['before']['fma_peak_ratio']:.2f} of the FMA "
                           f"peak), after {res['after']['tokens_per_s']:.1f} "
                           f"({res['after']['fma_peak_ratio']:.2f}), "
                           f"{res['speedup']:.2f}x"))
    table(pairs, [("before tokens/s", "tokens_per_s", "before", "{:.0f}"),
                  ("after tokens/s", "tokens_per_s", "after", "{:.0f}"),
                  ("speedup (same round)", "speedup", None, "{:.2f}"),
                  ("FMA peak before", "fma_peak_ratio", "before", "{:.2f}"),
                  ("FMA peak after", "fma_peak_ratio", "after", "{:.2f}")])
    if a.out:
        a.out.write_text(json.dumps({"machine": machine(), "repeat": a.repeat,
                                     "prefill_tokens": a.prefill,
                                     "pairs": pairs}, indent=1) + "\n")


if __name__ == "__main__":
    main()
