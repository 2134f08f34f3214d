"""Writes broken LLaMA model directories next to a good one:
make_bad.py GOOD OUTDIR."""

import json
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "reference"))
from checkpoint import write_safetensors  # noqa: E402
from llama_ref import read_safetensors  # noqa: E402

good, out = Path(sys.argv[1]), Path(sys.argv[2])
config = json.loads((good / "config.json").read_text())
weights = read_safetensors(good / "model.safetensors")


def variant(name, cfg=None, drop=None, reshape=None, raw_config=None):
    d = out / name
    d.mkdir(parents=True, exist_ok=True)
    if raw_config is not None:
        (d / "config.json").write_text(raw_config)
    else:
        (d / "config.json").write_text(json.dumps(cfg or config))
    w = dict(weights)
    if drop:
        del w[drop]
    if reshape:
        w[reshape] = w[reshape][:-1]
    write_safetensors(d / "model.safetensors", w)


variant("badjson", raw_config='{"model_type": "llama", "hidden_size": ')
variant("nohidden", cfg={k: v for k, v in config.items() if k != "hidden_size"})
variant("badheads", cfg=dict(config, num_key_value_heads=3))
variant("scaling", cfg=dict(config, rope_scaling={"type": "linear", "factor": 2.0}))
variant("missing", drop="model.layers.1.self_attn.k_proj.weight")
variant("misshaped", reshape="model.layers.0.mlp.down_proj.weight")
