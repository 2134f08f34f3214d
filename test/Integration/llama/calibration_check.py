"""Compares the key statistics of `seqc-run calibrate` with the reference's
(`llama_ref.py calibrate`): the largest |key| of every layer, KV head and
channel, relative error <= 1e-5 of the largest."""

import json
import sys

import numpy as np


def main():
    a = np.array(json.load(open(sys.argv[1]))["key_absmax"])
    b = np.array(json.load(open(sys.argv[2]))["key_absmax"])
    if a.shape != b.shape:
        print(f"FAIL shapes {a.shape} {b.shape}")
        return 1
    err = np.abs(a - b).max() / max(np.abs(b).max(), 1e-30)
    print(f"{'OK' if err <= 1e-5 else 'FAIL'} key_absmax rel_err={err:.2e} "
          f"over {a.size} channels")
    return 0 if err <= 1e-5 else 1


if __name__ == "__main__":
    sys.exit(main())
