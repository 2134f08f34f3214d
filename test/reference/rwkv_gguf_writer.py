"""Writes an official RWKV-6 or RWKV-7 checkpoint (the official names, as
rwkv567_ref.py writes them) as the GGUF file llama.cpp's converter
(convert_hf_to_gguf.py, Rwkv6Model / Rwkv7Model) makes of the same model,
independently of seqc:

    rwkv_gguf_writer.py CHECKPOINT.safetensors OUT.gguf
        [--rescale-every N] [--dtype f32|f16] [--qtype T]
        [--drop TENSOR] [--block-count N]

The converter's tensor layout (names as gguf-py's tensor map gives them):

  emb.weight -> token_embd.weight; blocks.0.ln0 -> token_embd_norm;
  ln_out -> output_norm; head.weight -> output.weight; per block i:
  ln1 -> blk.i.attn_norm, ln2 -> blk.i.attn_norm_2, att.ln_x ->
  blk.i.time_mix_ln, att.{key,value,receptance,gate,output} ->
  blk.i.time_mix_{...}, ffn.{key,value,receptance} -> blk.i.channel_mix_{...}.
  RWKV-6: time_maa_x -> time_mix_lerp_x [C]; time_maa_{w,k,v,r,g} stacked in
  that order -> time_mix_lerp_fused [5, 1, 1, C]; time_maa_w1 [C, 5D]
  transposed -> time_mix_w1 [5D, C]; time_maa_w2 [5, D, C] permuted (0, 2,
  1) -> time_mix_w2 [5, C, D]; time_decay -> time_mix_decay [C];
  time_decay_w1/w2 transposed -> time_mix_decay_w1/w2; time_faaaa [H, S] ->
  time_mix_first; ffn.time_maa_k/r -> channel_mix_lerp_k/r [C]. With
  rescale_every N > 0, att.output and ffn.value of block i are divided by
  2^(i // N) (llama.cpp halves the residual after every N blocks instead).
  RWKV-7: x_{r,w,k,v,a,g} stacked in that order -> time_mix_lerp_fused
  [6, 1, 1, C]; w0/a0/v0, k_k, k_a squeezed to [C]; w1, w2, a1, a2, v1, v2,
  g1, g2 transposed; r_k [H, S] flattened to [H*S]; block 0's v0/v1/v2 are
  dropped and written again as copies of a0/a1/a2 (the converter's dummies);
  ffn.x_k -> channel_mix_lerp_k [C].

Metadata: general.architecture rwkv6|rwkv7, <arch>.block_count,
embedding_length, feed_forward_length, wkv.head_size, context_length,
attention.layer_norm_epsilon, rwkv6.rescale_every_n_layers,
rwkv6.time_mix_extra_dim / time_decay_extra_dim, rwkv7.attention.*_lora_rank
(gguf-py's key names), tokenizer.ggml.model "rwkv" and a tokenizer.ggml.tokens
array: llama.cpp loads these files (bench/llama_cpp_peer.py --rwkv compares
its logits with seqc's). --dtype f16 stores the matrices in f16 and the
small RWKV tensors in f32, as the converter does. --qtype stores the
matrices llama.cpp quantizes (not its small RWKV tensors) as ggml_quants
blocks; --drop and --block-count make damaged files for bad-input tests.
"""

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import ggml_quants  # noqa: E402
from gguf_writer import gguf_bytes, kv  # noqa: E402
from llama_ref import read_safetensors, write_safetensors  # noqa: E402

# llama.cpp keeps these RWKV tensors unquantized (llama-quant.cpp).
SMALL = ("time_mix_first", "time_mix_w0", "time_mix_w1", "time_mix_w2", "time_mix_v0",
         "time_mix_v1", "time_mix_v2", "time_mix_a0", "time_mix_a1", "time_mix_a2",
         "time_mix_g1", "time_mix_g2", "time_mix_decay_w1", "time_mix_decay_w2",
         "time_mix_lerp_fused")


def convert(w, rescale_every):
    """(arch, hyperparameters, [(gguf name, float32 array)], {gguf name:
    (official name, scale)} of the matrices taken over unchanged but for a
    scale)."""
    version = 7 if "blocks.0.att.r_k" in w else 6
    if version == 6 and "blocks.0.att.time_maa_x" not in w:
        raise SystemExit("not an RWKV-6 or RWKV-7 checkpoint")
    layers = 1 + max(int(k.split(".")[1]) for k in w if k.startswith("blocks."))
    C = w["emb.weight"].shape[1]
    plain = {"token_embd.weight": ("emb.weight", 1.0), "output.weight": ("head.weight", 1.0)}
    out = [("token_embd.weight", w["emb.weight"]),
           ("token_embd_norm.weight", w["blocks.0.ln0.weight"]),
           ("token_embd_norm.bias", w["blocks.0.ln0.bias"])]
    for i in range(layers):
        b, p = f"blocks.{i}.", f"blk.{i}."
        a, f = b + "att.", b + "ffn."
        t = []
        for ln, g in (("ln1", "attn_norm"), ("ln2", "attn_norm_2")):
            t += [(g + ".weight", w[b + ln + ".weight"]), (g + ".bias", w[b + ln + ".bias"])]
        scale = 2.0 ** (i // rescale_every) if version == 6 and rescale_every > 0 else 1.0
        if version == 6:
            t.append(("time_mix_lerp_x.weight", w[a + "time_maa_x"].reshape(C)))
            t.append(("time_mix_lerp_fused.weight",
                      np.stack([w[a + "time_maa_" + m].reshape(1, 1, C) for m in "wkvrg"])))
            t.append(("time_mix_w1.weight", w[a + "time_maa_w1"].T))
            t.append(("time_mix_w2.weight", w[a + "time_maa_w2"].transpose(0, 2, 1)))
            t.append(("time_mix_decay.weight", w[a + "time_decay"].reshape(C)))
            t.append(("time_mix_decay_w1.weight", w[a + "time_decay_w1"].T))
            t.append(("time_mix_decay_w2.weight", w[a + "time_decay_w2"].T))
            t.append(("time_mix_first.weight", w[a + "time_faaaa"]))
            projs = ("key", "value", "receptance", "gate")
        else:
            t.append(("time_mix_lerp_fused.weight",
                      np.stack([w[a + "x_" + m].reshape(1, 1, C) for m in "rwkvag"])))
            for n in ("w", "a", "v"):
                if n == "v" and i == 0:
                    continue  # dropped; dummies below
                t.append((f"time_mix_{n}0.weight", w[a + n + "0"].reshape(C)))
                t.append((f"time_mix_{n}1.weight", w[a + n + "1"].T))
                t.append((f"time_mix_{n}2.weight", w[a + n + "2"].T))
                if n == "a" and i == 0:
                    a012 = [x for _, x in t[-3:]]
                    t += [(f"time_mix_v{k}.weight", x) for k, x in zip("012", a012)]
            t.append(("time_mix_g1.weight", w[a + "g1"].T))
            t.append(("time_mix_g2.weight", w[a + "g2"].T))
            t.append(("time_mix_k_k.weight", w[a + "k_k"].reshape(C)))
            t.append(("time_mix_k_a.weight", w[a + "k_a"].reshape(C)))
            t.append(("time_mix_r_k.weight", w[a + "r_k"].reshape(-1)))
            projs = ("key", "value", "receptance")
        for proj in projs:
            t.append((f"time_mix_{proj}.weight", w[a + proj + ".weight"]))
            plain[p + f"time_mix_{proj}.weight"] = (a + proj + ".weight", 1.0)
        plain[p + "time_mix_output.weight"] = (a + "output.weight", scale)
        plain[p + "channel_mix_value.weight"] = (f + "value.weight", scale)
        plain[p + "channel_mix_key.weight"] = (f + "key.weight", 1.0)
        plain[p + "channel_mix_receptance.weight"] = (f + "receptance.weight", 1.0)
        t.append(("time_mix_ln.weight", w[a + "ln_x.weight"]))
        t.append(("time_mix_ln.bias", w[a + "ln_x.bias"]))
        t.append(("time_mix_output.weight", w[a + "output.weight"] / scale))
        if version == 6:
            t.append(("channel_mix_lerp_k.weight", w[f + "time_maa_k"].reshape(C)))
            t.append(("channel_mix_lerp_r.weight", w[f + "time_maa_r"].reshape(C)))
            t.append(("channel_mix_receptance.weight", w[f + "receptance.weight"]))
        else:
            t.append(("channel_mix_lerp_k.weight", w[f + "x_k"].reshape(C)))
        t.append(("channel_mix_key.weight", w[f + "key.weight"]))
        t.append(("channel_mix_value.weight", w[f + "value.weight"] / scale))
        out += [(p + n, x) for n, x in t]
    out += [("output_norm.weight", w["ln_out.weight"]), ("output_norm.bias", w["ln_out.bias"]),
            ("output.weight", w["head.weight"])]
    arch = f"rwkv{version}"
    H, S = (w["blocks.0.att.r_k"] if version == 7 else w["blocks.0.att.time_faaaa"]).shape
    hp = {"layers": layers, "embd": C, "ffn": w["blocks.0.ffn.key.weight"].shape[0],
          "head_size": S, "vocab": w["emb.weight"].shape[0]}
    if version == 6:
        hp["maa"] = w["blocks.0.att.time_maa_w1"].shape[1] // 5
        hp["decay"] = w["blocks.0.att.time_decay_w1"].shape[1]
    else:
        hp.update({n: w[f"blocks.0.att.{n}1"].shape[1] for n in "wag"})
        hp["v"] = w["blocks.1.att.v1"].shape[1] if layers > 1 else hp["a"]
    return arch, hp, [(n, np.asarray(x, dtype=np.float32)) for n, x in out], plain


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("checkpoint")
    ap.add_argument("out")
    ap.add_argument("--rescale-every", type=int, default=6)
    ap.add_argument("--dtype", choices=["f32", "f16"], default="f32")
    ap.add_argument("--qtype", choices=sorted(ggml_quants.TYPES))
    ap.add_argument("--drop", action="append", default=[])
    ap.add_argument("--block-count", type=int)
    ap.add_argument("--dequantized", help="the checkpoint (safetensors, official names) "
                    "that the stored blocks decode to, for the reference")
    a = ap.parse_args()
    w = read_safetensors(a.checkpoint)
    arch, hp, tensors, plain = convert(w, a.rescale_every)
    decoded = {k: v.astype(np.float32) for k, v in w.items()}
    out = []
    for name, t in tensors:
        if name in a.drop:
            continue
        small = any(s in name for s in SMALL) or t.ndim == 1
        if a.qtype and t.ndim == 2 and not small:
            raw = ggml_quants.encode(t, a.qtype)
            official, scale = plain[name]
            decoded[official] = (ggml_quants.decode(raw, a.qtype, t.shape[1])
                                 * np.float32(scale)).astype(np.float32)
            out.append((name, raw, a.qtype))
        else:
            # --dtype f16 as the converter does it: the matrices in f16,
            # the small RWKV tensors (LoRA, lerp, decay, ...) kept in f32
            # (llama.cpp's binary ops refuse an f16 operand there).
            half = a.dtype == "f16" and t.ndim == 2 and not small
            out.append((name, t.astype(np.float16) if half else t, None))
    meta = [kv("general.architecture", 8, arch), kv("general.name", 8, "seqc test"),
            kv(arch + ".block_count", 4, a.block_count or hp["layers"]),
            kv(arch + ".context_length", 4, 1048576),
            kv(arch + ".embedding_length", 4, hp["embd"]),
            kv(arch + ".feed_forward_length", 4, hp["ffn"]),
            kv(arch + ".wkv.head_size", 4, hp["head_size"]),
            kv(arch + ".attention.layer_norm_epsilon", 6, 1e-5),
            kv(arch + ".attention.head_count", 4, 0)]
    if arch == "rwkv6":
        meta += [kv("rwkv6.rescale_every_n_layers", 4, a.rescale_every),
                 kv("rwkv6.time_mix_extra_dim", 4, hp["maa"]),
                 kv("rwkv6.time_decay_extra_dim", 4, hp["decay"])]
    else:
        meta += [kv("rwkv7.attention.decay_lora_rank", 4, hp["w"]),
                 kv("rwkv7.attention.iclr_lora_rank", 4, hp["a"]),
                 kv("rwkv7.attention.value_residual_mix_lora_rank", 4, hp["v"]),
                 kv("rwkv7.attention.gate_lora_rank", 4, hp["g"])]
    meta.append(kv("tokenizer.ggml.model", 8, "rwkv"))
    meta.append(kv("tokenizer.ggml.tokens", 9, [f"<{i}>" for i in range(hp["vocab"])]))
    Path(a.out).write_bytes(gguf_bytes(meta, out))
    if a.dequantized:
        write_safetensors(a.dequantized, decoded)


if __name__ == "__main__":
    main()
