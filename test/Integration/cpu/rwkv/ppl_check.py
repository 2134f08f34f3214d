"""Checks `seqc-run ppl` output (JSON on stdin) against the training
script's own held-out evaluation (models/<model>.json): the same held-out
bytes, the same scored count, perplexity within 0.5%.

    seqc-run ppl ... | ppl_check.py MODEL.json
"""

import json
import sys


def main():
    model = json.load(open(sys.argv[1]))
    got = json.loads(sys.stdin.read())
    start = model["data"]["heldout_bytes"][0]
    want = model["heldout"]["continuous_ppl"]
    scored = model["heldout"]["scored_bytes"]
    if got["start_byte"] != start:
        print(f"FAIL: start byte {got['start_byte']}, the model's held-out part starts at {start}")
        return 1
    if got["scored"] != scored:
        print(f"FAIL: scored {got['scored']} bytes, training scored {scored}")
        return 1
    rel = abs(got["ppl"] - want) / want
    verdict = "OK" if rel <= 0.005 else "FAIL"
    print(f"{verdict}: seqc-run ppl {got['ppl']:.4f}, training script {want:.4f}, "
          f"relative difference {rel:.2e} (tolerance 5e-3)")
    return 0 if verdict == "OK" else 1


if __name__ == "__main__":
    sys.exit(main())
