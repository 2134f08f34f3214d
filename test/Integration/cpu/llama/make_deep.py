"""Writes JSON nested a million levels deep where seqc reads JSON:
make_deep.py GOOD_LLAMA_DIR OUTDIR.

OUTDIR/deep.safetensors   a safetensors file whose header is the deep JSON
OUTDIR/config/            GOOD_LLAMA_DIR with a deep config.json
OUTDIR/deep.json          the deep JSON alone (calibration, tokenizer)
"""

import shutil
import struct
import sys
from pathlib import Path

good, out = Path(sys.argv[1]), Path(sys.argv[2])
out.mkdir(parents=True, exist_ok=True)
deep = b"[" * 1_000_000 + b"]" * 1_000_000
(out / "deep.json").write_bytes(deep)
header = b'{"a": ' + deep + b"}"
(out / "deep.safetensors").write_bytes(struct.pack("<Q", len(header)) + header)
shutil.copytree(good, out / "config", dirs_exist_ok=True)
(out / "config" / "config.json").write_bytes(b'{"model_type": "llama", "a": ' + deep + b"}")
