"""Broken SpikeGPT checkpoints for bad-input.test, from a good one.

  make_bad.py OK.pth DIR   writes DIR/{missing,shape,extra}.safetensors
"""

import os
import sys

import numpy as np

sys.path.insert(0, os.path.normpath(os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "reference")))
import spikegpt_ref as ref  # noqa: E402


def main():
    ok, out = sys.argv[1], sys.argv[2]
    w = ref.load(ok)
    missing = dict(w)
    del missing["blocks.1.ffn.value.weight"]
    ref.save(os.path.join(out, "missing.safetensors"), missing)
    shape = dict(w)
    shape["blocks.1.att.output.weight"] = np.ascontiguousarray(
        w["blocks.1.att.output.weight"][:, :63])
    ref.save(os.path.join(out, "shape.safetensors"), shape)
    extra = dict(w)
    extra["pos_emb"] = np.zeros((8, w["emb.weight"].shape[1]), np.float32)
    ref.save(os.path.join(out, "extra.safetensors"), extra)
    return 0


if __name__ == "__main__":
    sys.exit(main())
