"""Writes a Hugging Face LLaMA model directory as a GGUF file the way
llama.cpp's converter does (independently of seqc):

    gguf_writer.py MODEL_DIR OUT.gguf [--dtype f32|f16] [--truncate N]
        [--quantized-type] [--qtype T [--head-qtype T] --dequantized DIR]

GGUF v3: magic, version, tensor and metadata counts; metadata (general.*,
llama.* hyperparameters, a tokenizer token array that readers must skip);
tensor infos (dims fastest-varying first, GGML type 0 = F32 / 1 = F16,
offsets in a data section aligned to 32 bytes). Tensors get llama.cpp's
names, and q_proj / k_proj rows are permuted from Hugging Face's rotate-half
pairing to llama.cpp's interleaved pairing, as convert_hf_to_gguf.py does.
--truncate cuts the file to N bytes and --quantized-type [ID] gives the first
tensor another GGML type without re-encoding it (bad-input tests).

--qtype stores every matrix block-quantized (test/reference/ggml_quants.py:
q4_0, q4_1, q5_0, q5_1, q8_0, q2_K, q3_K, q4_K, q5_K, q6_K; --head-qtype for
output.weight, as llama.cpp's mixes do) and --dequantized writes the model
those blocks decode to as a Hugging Face directory, for the reference.
"""

import argparse
import json
import struct
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import ggml_quants  # noqa: E402
from llama_ref import read_safetensors, write_safetensors  # noqa: E402


def gguf_string(s):
    b = s.encode()
    return struct.pack("<Q", len(b)) + b


def kv(key, vtype, value):
    out = gguf_string(key) + struct.pack("<I", vtype)
    if vtype == 4:
        out += struct.pack("<I", value)
    elif vtype == 6:
        out += struct.pack("<f", value)
    elif vtype == 8:
        out += gguf_string(value)
    elif vtype == 9:  # array of strings
        out += struct.pack("<IQ", 8, len(value)) + b"".join(gguf_string(v) for v in value)
    return out


def gguf_bytes(meta, tensors, first_type=0):
    """A GGUF v3 file: `meta` entries (from kv), `tensors` as (name, array,
    qtype): float32/float16 arrays, or uint8 rows of ggml_quants blocks
    (qtype names them); dims fastest-varying first, data aligned to 32
    bytes. `first_type` overrides the first tensor's GGML type id."""
    infos, data, offset = [], b"", 0
    for i, (name, t, qtype) in enumerate(tensors):
        gtype = 0 if t.dtype == np.float32 else 1
        shape = t.shape
        if qtype:
            gtype, n, nbytes = ggml_quants.TYPES[qtype]
            shape = (t.shape[0], t.shape[1] // nbytes * n)
        if first_type and i == 0:
            gtype = first_type
        dims = list(reversed(shape))
        infos.append(gguf_string(name) + struct.pack("<I", len(dims))
                     + b"".join(struct.pack("<Q", d) for d in dims)
                     + struct.pack("<IQ", gtype, offset))
        blob = t.tobytes()
        blob += b"\0" * (-len(blob) % 32)
        data += blob
        offset += len(blob)
    head = b"GGUF" + struct.pack("<IQQ", 3, len(tensors), len(meta)) + b"".join(meta) + b"".join(infos)
    head += b"\0" * (-len(head) % 32)
    return head + data


def permute(w, heads):
    """convert_hf_to_gguf.py's LlamaModel.permute."""
    return (w.reshape(heads, 2, w.shape[0] // heads // 2, *w.shape[1:])
            .swapaxes(1, 2).reshape(w.shape))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("model")
    ap.add_argument("out")
    ap.add_argument("--dtype", choices=["f32", "f16"], default="f32")
    ap.add_argument("--truncate", type=int, default=0)
    ap.add_argument("--quantized-type", type=int, nargs="?", const=16, default=0,
                    help="GGML type id for the first tensor, data unchanged "
                         "(default 16, IQ2_XXS, which seqc does not read)")
    ap.add_argument("--qtype", choices=sorted(ggml_quants.TYPES))
    ap.add_argument("--head-qtype", choices=sorted(ggml_quants.TYPES))
    ap.add_argument("--dequantized", help="directory for the decoded model")
    ap.add_argument("--q4-0-levels", type=int, default=8,
                    help="Q4_0 blocks map their largest magnitude to this level "
                         "(7: no block has a code 0)")
    ap.add_argument("--q5-0-levels", type=int, default=16,
                    help="Q5_0 blocks map their largest magnitude to this level "
                         "(15: no block has a code 0)")
    ap.add_argument("--q8-0-levels", type=int, default=127,
                    help="Q8_0 blocks map their largest magnitude to this code "
                         "(100: codes beyond 100 unused)")
    ap.add_argument("--q4-k-levels", type=int,
                    help="Q4_K blocks by the min-max encoding, sub-block maxima "
                         "mapped to this code (13: codes 14 and 15 unused); "
                         "default: llama.cpp's reference quantizer")
    ap.add_argument("--q5-k-levels", type=int,
                    help="Q5_K blocks by the min-max encoding, sub-block maxima "
                         "mapped to this code (27: codes 28 to 31 unused); "
                         "default: llama.cpp's reference quantizer")
    ap.add_argument("--q6-k-levels", type=int,
                    help="Q6_K blocks by the absmax encoding, sub-block maxima "
                         "mapped to this code magnitude (20: codes beyond "
                         "-20..20 unused); default: llama.cpp's reference "
                         "quantizer")
    a = ap.parse_args()
    ggml_quants.Q4_0_LEVELS = a.q4_0_levels
    ggml_quants.Q4_K_LEVELS = a.q4_k_levels
    ggml_quants.Q5_K_LEVELS = a.q5_k_levels
    ggml_quants.Q6_K_LEVELS = a.q6_k_levels
    ggml_quants.Q5_0_LEVELS = a.q5_0_levels
    ggml_quants.Q8_0_LEVELS = a.q8_0_levels
    cfg = json.loads((Path(a.model) / "config.json").read_text())
    w = read_safetensors(Path(a.model) / "model.safetensors")
    H, K = cfg["num_attention_heads"], cfg.get("num_key_value_heads", cfg["num_attention_heads"])
    names = {"model.embed_tokens.weight": "token_embd.weight",
             "model.norm.weight": "output_norm.weight", "lm_head.weight": "output.weight"}
    per_layer = {"input_layernorm": "attn_norm", "self_attn.q_proj": "attn_q",
                 "self_attn.k_proj": "attn_k", "self_attn.v_proj": "attn_v",
                 "self_attn.o_proj": "attn_output", "post_attention_layernorm": "ffn_norm",
                 "mlp.gate_proj": "ffn_gate", "mlp.up_proj": "ffn_up", "mlp.down_proj": "ffn_down"}
    tensors, decoded = [], {}
    for name, t in w.items():
        if name in names:
            gname = names[name]
        else:
            parts = name.split(".")  # model.layers.N.<...>.weight
            gname = f"blk.{parts[2]}.{per_layer['.'.join(parts[3:-1])]}.weight"
        qtype = a.head_qtype if gname == "output.weight" and a.head_qtype else a.qtype
        if qtype and t.ndim == 2:
            # Rows are quantized independently, so the q/k row permutation
            # below moves whole encoded rows.
            raw = ggml_quants.encode(t, qtype)
            decoded[name] = ggml_quants.decode(raw, qtype, t.shape[1]).astype(np.float32)
            t = raw
        else:
            decoded[name] = t.astype(np.float32)
        if name.endswith("q_proj.weight"):
            t = permute(t, H)
        elif name.endswith("k_proj.weight"):
            t = permute(t, K)
        if t.dtype == np.uint8:
            tensors.append((gname, t, qtype))
            continue
        tensors.append((gname, t.astype(np.float32 if a.dtype == "f32" or t.ndim == 1
                                        else np.float16), None))
    meta = [kv("general.architecture", 8, "llama"), kv("general.name", 8, "seqc test"),
            kv("llama.block_count", 4, cfg["num_hidden_layers"]),
            kv("llama.context_length", 4, cfg["max_position_embeddings"]),
            kv("llama.embedding_length", 4, cfg["hidden_size"]),
            kv("llama.feed_forward_length", 4, cfg["intermediate_size"]),
            kv("llama.attention.head_count", 4, H),
            kv("llama.attention.head_count_kv", 4, K),
            kv("llama.rope.dimension_count", 4, cfg.get("head_dim", cfg["hidden_size"] // H)),
            kv("llama.rope.freq_base", 6, cfg.get("rope_theta", 10000.0)),
            kv("llama.attention.layer_norm_rms_epsilon", 6, cfg.get("rms_norm_eps", 1e-5)),
            kv("tokenizer.ggml.tokens", 9, [chr(i) if 32 <= i < 127 else f"<{i}>"
                                           for i in range(cfg["vocab_size"])])]
    out = gguf_bytes(meta, tensors, a.quantized_type)
    if a.truncate:
        out = out[:a.truncate]
    Path(a.out).write_bytes(out)
    if a.dequantized:
        d = Path(a.dequantized)
        d.mkdir(parents=True, exist_ok=True)
        (d / "config.json").write_text((Path(a.model) / "config.json").read_text())
        write_safetensors(d / "model.safetensors", decoded)


if __name__ == "__main__":
    main()
