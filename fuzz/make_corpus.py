#!/usr/bin/python3
"""Writes the seed corpora of the fuzz harnesses (fuzz/*.cpp):

    make_corpus.py OUT_DIR

OUT_DIR/<harness>/ gets small valid inputs made by the project's own
generators: random RWKV-4/5/6/7, SpikeGPT and LLaMA checkpoints from
test/reference/ (.pth, safetensors, GGUF through gguf_writer.py), their
config.json, tiny tokenizer files and texts, manifests and weights headers
in the artifact format, GPU kernel artifacts (kernels.bin of the Vulkan and
CUDA targets), and the seq dialect's lit tests split at
`// -----`. The files are regenerated on every call (deterministically;
seeds are fixed) and nothing is downloaded. The real vocabularies in
../shared/data are used for the text harnesses only (loaded once by the
harness), so the seeds stay small.
"""

import json
import os
import random
import struct
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
REF = ROOT / "test" / "reference"
sys.path.insert(0, str(REF))

import checkpoint  # noqa: E402
import llama_ref  # noqa: E402
import rwkv567_ref  # noqa: E402
import rwkv_ref  # noqa: E402
import spikegpt_ref  # noqa: E402


def put(out, harness, name, data):
    d = out / harness
    d.mkdir(parents=True, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    (d / name).write_bytes(data)


def checkpoints(out, tmp):
    """pth and safetensors seeds: every architecture seqc imports, small."""
    models = {
        "rwkv4": rwkv_ref.random_rwkv4_weights(2, 8, 16, 16, seed=1),
        "rwkv4-hf": checkpoint.hugging_face_names(
            rwkv_ref.random_rwkv4_weights(1, 8, 16, 16, seed=2)),
        "spikegpt": spikegpt_ref.random_checkpoint(1, 8, 16, seed=3),
    }
    for version in ("5", "5.2", "6", "7"):
        try:
            models["rwkv" + version] = rwkv567_ref.random_weights(
                version, 1, 8, 2, 16, ffn=16, lora=4, seed=4)
        except Exception as e:  # A version the generator names otherwise.
            print(f"make_corpus: rwkv {version}: {e}", file=sys.stderr)
    for name, weights in models.items():
        for dtype in ("fp32", "fp16", "bf16"):
            p = tmp / f"{name}-{dtype}.pth"
            checkpoint.write_pth(p, weights, dtype)
            put(out, "pth", p.name, p.read_bytes())
            s = tmp / f"{name}-{dtype}.safetensors"
            checkpoint.write_safetensors(s, weights, dtype,
                                         metadata={"format": "pt"})
            put(out, "safetensors", s.name, s.read_bytes())


def llama(out, tmp):
    """config.json, safetensors and GGUF seeds of small LLaMA models."""
    variants = [dict(), dict(tied=True), dict(heads=4, kv_heads=4),
                dict(head_dim=8, embd=24, heads=2, kv_heads=1),
                dict(embd=32, ffn=32)]
    for i, kw in enumerate(variants):
        d = tmp / f"llama{i}"
        args = dict(layers=1, embd=16, heads=2, kv_heads=1, ffn=24, vocab=32,
                    context=16)
        args.update(kw)
        llama_ref.random_model(d, seed=i, **args)
        put(out, "llama-config", f"config{i}.json",
            (d / "config.json").read_bytes())
        put(out, "safetensors", f"llama{i}.safetensors",
            (d / "model.safetensors").read_bytes())
        # Block types need rows of whole blocks (32 values).
        quantized = [["--qtype", t] for t in ("q8_0", "q4_0", "q5_1")]
        for extra in [[], ["--dtype", "f16"]] + (
                quantized if args["embd"] % 32 == 0 and args["ffn"] % 32 == 0
                else []):
            g = tmp / f"llama{i}{'-'.join(extra)}.gguf"
            cmd = [sys.executable, str(REF / "gguf_writer.py"), str(d), str(g)]
            if extra[:1] == ["--qtype"]:
                cmd += extra + ["--dequantized", str(tmp / f"deq{i}")]
            else:
                cmd += extra
            r = subprocess.run(cmd, capture_output=True, text=True)
            if r.returncode == 0:
                put(out, "gguf", g.name, g.read_bytes())
            else:
                print(f"make_corpus: {g.name}: {r.stderr.strip()[-200:]}",
                      file=sys.stderr)
    cfg = json.loads((tmp / "llama0" / "config.json").read_text())
    cfg.update(rope_theta=500000.0, rms_norm_eps=1e-6, torch_dtype="bfloat16",
               bos_token_id=1, eos_token_id=[2, 3])
    put(out, "llama-config", "config-extra.json", json.dumps(cfg))


def py_literal(b):
    """A World vocabulary literal: a str when the bytes are UTF-8."""
    try:
        return repr(b.decode("utf-8"))
    except UnicodeDecodeError:
        return repr(b)


def tokenizers(out):
    # World: one token per byte (every text encodes), some longer pieces.
    pieces = [bytes([i]) for i in range(256)] + [
        b"he", b"hel", b"hello", b" world", "你好".encode(), b"\xe4\xbd",
        "🙂".encode(), b"\r\n", b"\\'\""]
    vocab = "".join(f"{i + 1} {py_literal(p)} {len(p)}\n"
                    for i, p in enumerate(pieces))
    texts = [b"hello world", "你好 🙂 naïve café".encode(), b"\x00\xff\xfe",
             b"a\r\nb\\'\"", b""]
    for i, t in enumerate(texts):
        put(out, "world-vocab", f"bytes{i}", vocab.encode() + b"\0" + t)
        put(out, "world-text", f"text{i}", t)
    put(out, "world-vocab", "small",
        "1 'a' 1\n2 b'\\x00\\xff' 2\n3 '\\u00e9' 2\n4 'ab' 2\n\0aab")
    # NeoX: byte-level BPE with GPT-2's byte alphabet, NFC, added tokens.
    alphabet = []
    n = 0
    for b in range(256):
        printable = (33 <= b <= 126) or (161 <= b <= 172) or (174 <= b <= 255)
        alphabet.append(chr(b) if printable else chr(256 + n))
        n += 0 if printable else 1
    vocab = {c: i for i, c in enumerate(alphabet)}
    merges = []
    for a, b in [("h", "e"), ("l", "l"), ("he", "ll"), ("hell", "o"),
                 ("Ġ", "w"), ("o", "r"), ("Ġw", "or")]:
        vocab.setdefault(a + b, len(vocab))
        merges.append(f"{a} {b}")
    tok = {"version": "1.0",
           "added_tokens": [{"id": len(vocab), "content": "<|endoftext|>",
                             "special": True},
                            {"id": len(vocab) + 1, "content": "  ",
                             "special": False}],
           "normalizer": {"type": "NFC"},
           "model": {"type": "BPE", "vocab": vocab, "merges": merges}}
    text = json.dumps(tok, ensure_ascii=False).encode()
    for i, t in enumerate(texts + [b"hello<|endoftext|>world  x",
                                   "e\u0301 \u212b 12 345's".encode()]):
        put(out, "neox-vocab", f"bpe{i}", text + b"\0" + t)
        put(out, "neox-text", f"text{i}", t)
    put(out, "neox-vocab", "tiny",
        json.dumps({"model": {"type": "BPE", "vocab": {"a": 0, "b": 1,
                                                       "ab": 2},
                              "merges": ["a b"]},
                    "normalizer": None,
                    "added_tokens": [{"id": 3, "content": "z"}]})
        + "\0abz")
    shakespeare = ROOT.parent / "shared" / "data" / "tinyshakespeare.txt"
    if shakespeare.exists():
        lines = shakespeare.read_bytes()[:4000].split(b"\n\n")
        for i, t in enumerate(lines[:8]):
            put(out, "world-text", f"shakespeare{i}", t)
            put(out, "neox-text", f"shakespeare{i}", t)


def artifacts(out):
    """Manifests (recurrent and attention) and weights headers, as
    ArtifactWriter writes them."""
    recurrent = {"seqc_artifact": "2", "model": "rwkv4",
                 "description": "RWKV-4: 2 layers, width 8",
                 "vocab": "16", "state_shape": "2 5 8",
                 "weights_format": "fp32", "weights_bytes": "4096",
                 "token_read_bytes": "4096",
                 "weights_id": "0x0123456789abcdef",
                 "weights_checksum": "xxh64:fedcba9876543210",
                 "tokenizer": "bytes", "cpu": "znver3",
                 "cpu_features": "avx2,fma", "target": "cpu"}
    attention = dict(recurrent, model="llama", state_bytes="65536",
                     context="64", kv_cache="!seq.kv_cache<64x1x8xf32>",
                     kv_layers="1", kv_slot_bytes="65536",
                     kv_rotation="none", rope_theta="10000",
                     rope_style="half", rope_rotary_dim="8",
                     kv_bytes_per_token="64")
    del attention["state_shape"]
    for name, m in (("recurrent", recurrent), ("attention", attention)):
        put(out, "manifest", name, "".join(f"{k} {v}\n" for k, v in m.items()))
    put(out, "manifest", "unknown-keys",
        "seqc_artifact 2\nvocab 256\nstate_shape 1\nweights_bytes 0\n"
        "weights_id 0x0000000000000000\nfuture_key some value\n")
    for i, (wid, size) in enumerate([(0x0123456789abcdef, 4096), (0, 0),
                                     (2**64 - 1, 2**48)]):
        plain = f"SEQCWTS1 0x{wid:016x} {size}\n"
        checked = (f"SEQCWTS1 0x{wid:016x} {size} xxh64:{wid ^ 1:016x} "
                   f"model.so {size + 17} xxh64:{wid ^ 2:016x}\n")
        for kind, text in (("plain", plain), ("checked", checked)):
            put(out, "weights-header", f"{kind}{i}",
                text.encode().ljust(4096, b"\0"))


def kernel_artifacts(out):
    """kernels.bin of the Vulkan (SEQCSPV1, SPIR-V) and CUDA (SEQCCUB1,
    cubin and PTX) targets, laid out as lib/Target/GPU writes them: the
    first line, the manifest, the code from the next multiple of 16."""
    def kernels_bin(magic, manifest, code):
        text = "".join(f"{k} {v}\n" for k, v in manifest.items()).encode()
        head = f"{magic} {len(text)}\n".encode() + text
        return head.ljust((len(head) + 15) // 16 * 16, b"\0") + code

    spirv = struct.pack("<5I", 0x07230203, 0x00010300, 0, 16, 0) * 4
    manifest = {"seqc_artifact": "2", "target": "vulkan",
                "kernels": "matvec_f32 wkv4_step",
                "vulkan_profile": "lavapipe", "spirv_version": "1.3",
                "kernel.matvec_f32":
                    f"entry=matvec_f32_kernel spirv=0+{len(spirv)} "
                    "grid=512,1,1 workgroup=64,1,1 shared=256 features=none "
                    "bindings=f32:131072:r:0,f32:256:r:1,f32:512:w:2",
                "kernel.wkv4_step":
                    f"entry=wkv4_step_kernel spirv={len(spirv)}+{len(spirv)} "
                    "grid=16,1,1 workgroup=64,1,1 shared=0 "
                    "features=shaderFloat16,shaderInt16 "
                    "bindings=f16:1024:r:0,i32:1024:rw:1,i8:64:w:3"}
    put(out, "kernels", "vulkan", kernels_bin("SEQCSPV1", manifest,
                                               spirv + spirv))
    cubin = b"\x7fELF" + bytes(60)
    ptx = b".version 8.0\n.target sm_90\n.visible .entry matvec_f16_kernel(\n)\n{\n}\n"
    manifest = {"seqc_artifact": "2", "target": "cuda",
                "kernels": "matvec_f16", "cuda_arch": "sm_90",
                "kernel.matvec_f16":
                    f"entry=matvec_f16_kernel cubin=0+{len(cubin)} "
                    f"ptx={len(cubin)}+{len(ptx)} grid=512,1,1 "
                    "workgroup=128,1,1 shared=512 "
                    "bindings=i32:65536:r:0,f32:256:r:1,f32:512:w:2"}
    put(out, "kernels", "cuda", kernels_bin("SEQCCUB1", manifest, cubin + ptx))
    # A model artifact: kernels k0, k1 and a schedule per entry.
    manifest = {"seqc_artifact": "2", "target": "vulkan", "kernels": "k0 k1",
                "vulkan_profile": "lavapipe", "spirv_version": "1.3",
                "kernel.k0":
                    f"entry=seqc_init_state_kernel spirv=0+{len(spirv)} "
                    "grid=4,5,2 workgroup=1,1,64 shared=0 features=none "
                    "bindings=f32:2560:w:0",
                "kernel.k1":
                    f"entry=seqc_step_kernel spirv={len(spirv)}+{len(spirv)} "
                    "grid=128,1,1 workgroup=64,1,1 shared=256 "
                    "features=subgroup_arithmetic "
                    f"fallback_spirv=0+{len(spirv)} fallback_features=none "
                    "bindings=f32:128:r:0,f32:16384:r:1,f32:128:w:2",
                "schedule.seqc_init_state":
                    "args=state scratch=0 dispatch=k0:state@0+10240",
                "schedule.seqc_step":
                    "args=weights,tokens,state,logits scratch=1024 "
                    "dispatch=k1:scratch@0+512,weights@131072+65536,"
                    "scratch@512+512 dispatch=k1:state@0+512,"
                    "weights@0+65536,logits@0+512"}
    put(out, "kernels", "vulkan-model", kernels_bin("SEQCSPV1", manifest,
                                                     spirv + spirv))


def seq_ir(out):
    """The seq dialect's lit tests, one seed per `// -----` part."""
    n = 0
    for d in ("Dialect/Seq", "Transforms", "Conversion", "Pipelines"):
        for f in sorted((ROOT / "test" / d).rglob("*.mlir")):
            for part in f.read_text().split("// -----"):
                body = "\n".join(l for l in part.splitlines()
                                 if not l.lstrip().startswith("//"))
                if body.strip() and len(body) < 16384:
                    put(out, "seq-ir", f"{f.stem}-{n}.mlir", body)
                    n += 1


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    out = Path(sys.argv[1])
    with tempfile.TemporaryDirectory() as t:
        tmp = Path(t)
        checkpoints(out, tmp)
        llama(out, tmp)
    tokenizers(out)
    artifacts(out)
    kernel_artifacts(out)
    seq_ir(out)
    for d in sorted(out.iterdir()):
        files = list(d.iterdir())
        print(f"make_corpus: {d.name}: {len(files)} seeds, "
              f"{sum(f.stat().st_size for f in files)} bytes")


if __name__ == "__main__":
    random.seed(0)
    main()
