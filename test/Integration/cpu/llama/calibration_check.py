"""Compares the key statistics of `seqc-run calibrate` with the reference's
(`llama_ref.py calibrate`): the largest |key| of every layer, KV head and
channel, and (when seqc-run wrote it, --covariance) the second moment of
[keys before RoPE; values] per layer, each within 1e-5 of its largest
entry."""

import json
import sys

import numpy as np


def main():
    ours, ref = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
    status = 0
    for key in ("key_absmax", "kv_covariance"):
        if key == "kv_covariance" and key not in ours:
            continue  # seqc-run calibrate without --covariance
        a, b = np.array(ours[key]), np.array(ref[key])
        if a.shape != b.shape:
            print(f"FAIL {key} shapes {a.shape} {b.shape}")
            status = 1
            continue
        err = np.abs(a - b).max() / max(np.abs(b).max(), 1e-30)
        print(f"{'OK' if err <= 1e-5 else 'FAIL'} {key} rel_err={err:.2e} "
              f"over {a.size} values")
        status |= err > 1e-5
    return int(status)


if __name__ == "__main__":
    sys.exit(main())
