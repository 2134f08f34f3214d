"""Writes hostile checkpoints into DIR: make_hostile.py DIR [LLAMA_DIR]
or edits a LLaMA GGUF file: make_hostile.py --gguf-block-count SRC DST

Each file is small and valid except for one edited number or structure,
the kind of edit that used to wrap a size, exhaust memory or the stack, or
be accepted silently. LLAMA_DIR (a good LLaMA model directory) adds the
LLaMA config edits. The names are the FileCheck prefixes of
hostile-checkpoints.test.
"""

import json
import os
import shutil
import struct
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "..", "..", "reference"))
import checkpoint  # noqa: E402


# --- .pth archives with hand-written tensor records ----------------------------

def pth(path, tensors, storages):
    """tensors: [(name, storage key, storage numel, offset, shape, strides)];
    storages: {key: bytes}. Written as torch.save lays them out."""
    p = checkpoint._Pickle()
    p.empty_ordered_dict()
    for name, key, numel, offset, shape, strides in tensors:
        p.string(name)
        p.global_("torch._utils", "_rebuild_tensor_v2")
        p.out += b"(("
        p.string("storage", shared=True)
        p.global_("torch", "FloatStorage")
        p.string(key)
        p.string("cpu", shared=True)
        p.int_(numel)
        p.out += b"tQ"
        p.int_(offset)
        p.int_tuple(shape)
        p.int_tuple(strides)
        p.out += b"\x89"
        p.empty_ordered_dict()
        p.out += b"tR"
        p.out += b"s"
    p.out += b"."
    archive(path, bytes(p.out), storages)


def archive(path, pickle, storages):
    with open(path, "wb") as f:
        z = checkpoint._ZipWriter(f)
        z.record("archive/data.pkl", pickle)
        z.record("archive/byteorder", b"little")
        for key in sorted(storages):
            z.record("archive/data/" + key, storages[key])
        z.record("archive/version", b"3\n")
        z.finish()


def pth_cases(d):
    # numel * 4 wraps to 0 (2^62 elements): the size check used to pass.
    pth(os.path.join(d, "numel-wrap.pth"),
        [("emb.weight", "0", 1 << 62, 0, (1 << 62,), (1,))], {"0": bytes(16)})
    # offset + numel wraps below the storage's start.
    pth(os.path.join(d, "offset-wrap.pth"),
        [("emb.weight", "0", 4, (1 << 63) - 8, (4,), (1,))], {"0": bytes(16)})
    # A shape whose product is 2^64: 0 in 64 bits, an "empty" tensor.
    pth(os.path.join(d, "shape-wrap.pth"),
        [("emb.weight", "0", 0, 0, (1 << 32, 1 << 32), (1 << 32, 1))],
        {"0": b""})
    # A million nested lists (PROTO 2, EMPTY_LIST x N, APPEND x N-1, STOP).
    n = 1000000
    archive(os.path.join(d, "deep.pth"),
            b"\x80\x02" + b"]" * n + b"a" * (n - 1) + b".", {})
    # A chain of 300000 memoized lists linked by later appends: shallow when
    # each append happens, deep when released.
    n = 300000
    body = bytearray(b"\x80\x02")
    for i in range(n):
        body += b"]r" + struct.pack("<I", i)
    for i in range(n - 1):
        body += b"j" + struct.pack("<I", i) + b"j" + struct.pack("<I", i + 1) + b"a"
    body += b"j" + struct.pack("<I", 0) + b"."
    archive(os.path.join(d, "chain.pth"), bytes(body), {})


# --- safetensors -------------------------------------------------------------------

def safetensors(path, header, body):
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + body)


def st_cases(d):
    t = lambda shape, b, e: {"dtype": "F32", "shape": shape, "data_offsets": [b, e]}
    safetensors(os.path.join(d, "st-shape-wrap.safetensors"),
                {"emb.weight": t([1 << 32, 1 << 32], 0, 0)}, b"")
    safetensors(os.path.join(d, "st-empty-dim.safetensors"),
                {"emb.weight": t([0, 1 << 32], 0, 0),
                 "blocks.0.att.time_first": t([4], 0, 16)}, bytes(16))
    safetensors(os.path.join(d, "st-overlap.safetensors"),
                {"a": t([4], 0, 16), "b": t([4], 8, 24)}, bytes(24))
    safetensors(os.path.join(d, "st-hole.safetensors"),
                {"a": t([4], 0, 16), "b": t([4], 32, 48)}, bytes(48))
    safetensors(os.path.join(d, "st-trailing.safetensors"),
                {"a": t([4], 0, 16)}, bytes(4096))


def rwkv4_wide(path, layers_name=None):
    """An RWKV-4 whose emb.weight is [1, 65536] and whose first C x C matrix
    is [1, 1]: the width the reader expects (a 16 GiB matrix) is far larger
    than the file. With layers_name, one more tensor under that layer."""
    c = 65536
    header, body = {}, bytearray()

    def add(name, shape):
        n = 4
        for x in shape:
            n *= x
        header[name] = {"dtype": "F32", "shape": shape,
                        "data_offsets": [len(body), len(body) + n]}
        body.extend(bytes(n))
    add("emb.weight", [1, c])
    for ln in ("ln0", "ln1", "ln2"):
        add(f"blocks.0.{ln}.weight", [c])
        add(f"blocks.0.{ln}.bias", [c])
    add("blocks.0.att.time_first", [c])
    add("blocks.0.att.receptance.weight", [1, 1])
    add("blocks.0.ffn.key.weight", [1, c])
    if layers_name:
        add(layers_name, [c])
    safetensors(path, header, bytes(body))


# --- GGUF ------------------------------------------------------------------------------

def gguf(path, offsets, alignment=None):
    """Two f32 tensors of 8 values at the given data offsets."""
    def string(s):
        return struct.pack("<Q", len(s)) + s.encode()
    meta = b""
    if alignment is not None:
        meta = string("general.alignment") + struct.pack("<II", 4, alignment)
    head = b"GGUF" + struct.pack("<IQQ", 3, len(offsets), 1 if meta else 0) + meta
    for i, off in enumerate(offsets):
        head += string("t%d" % i) + struct.pack("<IQIQ", 1, 8, 0, off)
    head += b"\0" * (-len(head) % 32)
    with open(path, "wb") as f:
        f.write(head + bytes(256))


def gguf_cases(d):
    gguf(os.path.join(d, "gguf-misaligned.gguf"), [0, 48])
    gguf(os.path.join(d, "gguf-overlap.gguf"), [0, 0])
    gguf(os.path.join(d, "gguf-hole.gguf"), [0, 64])
    gguf(os.path.join(d, "gguf-alignment.gguf"), [0, 32], alignment=1 << 31)


# --- LLaMA configs -----------------------------------------------------------------------

def llama_cases(d, good):
    config = json.loads(open(os.path.join(good, "config.json")).read())
    edits = {
        "llama-layers": {"num_hidden_layers": 1 << 40},
        "llama-layers-gap": {"num_hidden_layers": config["num_hidden_layers"] + 1},
        "llama-hidden": {"hidden_size": 1 << 20},
        "llama-vocab": {"vocab_size": 1 << 62},
        "llama-ffn": {"intermediate_size": 1 << 62},
        "llama-context": {"max_position_embeddings": 1 << 62},
        "llama-heads": {"num_attention_heads": 1 << 31, "num_key_value_heads": 1 << 31,
                        "head_dim": 1 << 40},
    }
    for name, edit in edits.items():
        out = os.path.join(d, name)
        shutil.copytree(good, out)
        with open(os.path.join(out, "config.json"), "w") as f:
            json.dump(dict(config, **edit), f)


def gguf_block_count(src, dst):
    """A copy of the GGUF file src whose llama.block_count is 2^32 - 1."""
    data = bytearray(open(src, "rb").read())
    key = b"llama.block_count"
    at = data.index(key) + len(key)
    assert struct.unpack_from("<I", data, at)[0] == 4  # u32
    struct.pack_into("<I", data, at + 4, 0xFFFFFFFF)
    open(dst, "wb").write(bytes(data))


def main():
    if sys.argv[1] == "--gguf-block-count":
        return gguf_block_count(sys.argv[2], sys.argv[3])
    d = sys.argv[1]
    pth_cases(d)
    st_cases(d)
    rwkv4_wide(os.path.join(d, "wide.safetensors"))
    rwkv4_wide(os.path.join(d, "layers.safetensors"), "blocks.100000000.ln1.weight")
    gguf_cases(d)
    if len(sys.argv) > 2:
        llama_cases(d, sys.argv[2])


if __name__ == "__main__":
    main()
