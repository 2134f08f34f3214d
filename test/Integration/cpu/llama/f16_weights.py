"""Copies a LLaMA model directory with its weights rounded to float16
(stored as F16 in safetensors): f16_weights.py SRC DST."""

import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "reference"))
from checkpoint import write_safetensors  # noqa: E402
from llama_ref import read_safetensors  # noqa: E402

src, dst = Path(sys.argv[1]), Path(sys.argv[2])
dst.mkdir(parents=True, exist_ok=True)
shutil.copy(src / "config.json", dst / "config.json")
write_safetensors(dst / "model.safetensors",
                  read_safetensors(src / "model.safetensors"), dtype="fp16")
