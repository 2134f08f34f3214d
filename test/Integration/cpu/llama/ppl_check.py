"""Checks `seqc-run ppl` output (JSON on stdin) against the LLaMA training
script's held-out evaluation (models/llama-tiny-shakespeare/train.json):
the same window, every byte of each window after its first scored,
perplexity within 0.5%.

    seqc-run ppl ... | ppl_check.py train.json
"""

import json
import math
import sys


def main():
    model = json.load(open(sys.argv[1]))
    got = json.loads(sys.stdin.read())
    n, ctx = model["heldout_bytes"], model["ctx"]
    windows = math.ceil(n / ctx)
    if got["window"] != ctx or got["tokens"] != n or got["scored"] != n - windows:
        print(f"FAIL: window {got['window']}, tokens {got['tokens']}, scored "
              f"{got['scored']}; training: window {ctx}, {n} bytes, {n - windows} scored")
        return 1
    want = model["heldout_ppl_per_byte"]
    rel = abs(got["ppl"] - want) / want
    verdict = "OK" if rel <= 0.005 else "FAIL"
    print(f"{verdict}: seqc-run ppl {got['ppl']:.4f}, training script {want:.4f}, "
          f"relative difference {rel:.2e} (tolerance 5e-3)")
    return 0 if verdict == "OK" else 1


if __name__ == "__main__":
    sys.exit(main())
