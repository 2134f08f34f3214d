"""Decode speed of a LLaMA-shaped model over full-precision and quantized
KV caches at growing contexts.

    /usr/bin/python3 bench/llama_kv_decode.py [--build build] [--layers 2]
        [--contexts 512,2048,8192] [--out bench/results/llama_kv_decode.json]

The model has the shape of TinyLlama-1.1B's layers (width 2048, 32 query
heads sharing 4 KV heads of 64, SwiGLU 5632, vocabulary 32000) with random
f16 weights, --layers of them. Each configuration is compiled with
`seqc compile --weights=fp16` and measured with `seqc-run bench --contexts`:
the cache is filled by prefill to each context, then 16 decode steps are
timed. Configurations: f32 cache, 4-bit and 2-bit KIVI (groups of 32,
window 32). All runs in one process tree, one after the other, so their
ratios are comparable; absolute times on a shared machine are not.
"""

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "test" / "reference"))
from checkpoint import write_safetensors  # noqa: E402

CONFIGS = [("f32 cache", []),
           ("4-bit KIVI", ["--kv-bits", "4", "--kv-group", "32", "--kv-window", "32"]),
           ("2-bit KIVI", ["--kv-bits", "2", "--kv-group", "32", "--kv-window", "32"])]


def write_model(out, layers, context):
    C, H, K, D, F, V = 2048, 32, 4, 64, 5632, 32000
    rng = np.random.default_rng(0)

    def mat(r, c):
        return (rng.standard_normal((r, c), dtype=np.float32) / np.sqrt(c)).astype(np.float16)

    w = {"model.embed_tokens.weight": rng.standard_normal((V, C), dtype=np.float32).astype(np.float16),
         "model.norm.weight": np.ones(C, np.float16), "lm_head.weight": mat(V, C)}
    for l in range(layers):
        p = f"model.layers.{l}."
        w[p + "input_layernorm.weight"] = np.ones(C, np.float16)
        w[p + "post_attention_layernorm.weight"] = np.ones(C, np.float16)
        w[p + "self_attn.q_proj.weight"] = mat(H * D, C)
        w[p + "self_attn.k_proj.weight"] = mat(K * D, C)
        w[p + "self_attn.v_proj.weight"] = mat(K * D, C)
        w[p + "self_attn.o_proj.weight"] = mat(C, H * D)
        w[p + "mlp.gate_proj.weight"] = mat(F, C)
        w[p + "mlp.up_proj.weight"] = mat(F, C)
        w[p + "mlp.down_proj.weight"] = mat(C, F)
    out.mkdir(parents=True)
    write_safetensors(out / "model.safetensors", w, dtype="fp16")
    (out / "config.json").write_text(json.dumps({
        "architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": C,
        "intermediate_size": F, "num_attention_heads": H, "num_key_value_heads": K,
        "num_hidden_layers": layers, "head_dim": D, "max_position_embeddings": context,
        "rms_norm_eps": 1e-5, "rope_theta": 10000.0, "vocab_size": V,
        "tie_word_embeddings": False, "hidden_act": "silu"}))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--build", type=Path, default=REPO / "build")
    ap.add_argument("--layers", type=int, default=2)
    ap.add_argument("--contexts", default="512,2048,8192")
    ap.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "llama_kv_decode.json")
    a = ap.parse_args()
    contexts = [int(c) for c in a.contexts.split(",")]
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        model = Path(tmp) / "model"
        write_model(model, a.layers, max(contexts) + 64)
        for label, opts in CONFIGS:
            art = Path(tmp) / label.replace(" ", "_")
            subprocess.run([a.build / "bin" / "seqc", "compile", model, "-o", art,
                            "--weights=fp16"] + opts, check=True, capture_output=True)
            out = subprocess.run([a.build / "bin" / "seqc-run", "bench", art, "--prefill", "64",
                                  "--decode", "16", "--contexts", a.contexts],
                                 check=True, capture_output=True, text=True).stdout
            r = json.loads(out)
            r["label"] = label
            results.append(r)
            print(label, [(p["context"], round(p["ms_per_token"], 2))
                          for p in r["decode_at_context"]],
                  "KV bytes/token", r["kv_bytes_per_token"], flush=True)
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_text(json.dumps({"layers": a.layers, "shape": "TinyLlama-1.1B layers",
                                 "runs": results}, indent=2) + "\n")


if __name__ == "__main__":
    main()
