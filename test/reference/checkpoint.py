"""Writes PyTorch (.pth) and safetensors checkpoints from numpy, without torch.

write_pth produces what torch.save(state_dict) writes: a zip archive of
stored (uncompressed) records

    archive/data.pkl     pickle (protocol 2) of an OrderedDict of tensors
    archive/byteorder    "little" (torch >= 2.1 writes it; optional)
    archive/data/<key>   raw little-endian bytes of one storage per tensor
    archive/version      "3\\n"

laid out as torch's zip writer lays it out: each record's data starts on a
64-byte boundary (the local header's extra field "FB" pads to it), local
headers carry no sizes and are followed by a data descriptor (but for
empty records), and the archive ends with zip64 end records. (torch.save
to a path names the top directory after the file, "model" for model.pth;
to a file object, "archive".) Each tensor pickles as

    torch._utils._rebuild_tensor_v2(
        persistent_load(('storage', torch.<T>Storage, '<key>', 'cpu', numel)),
        storage_offset, size, stride, False, collections.OrderedDict())

with the opcodes and memo (BINPUT/BINGET) sequence of Python's pickler, so
that with byteorder=False the file is byte for byte the one torch 1.13 writes
to a file object for the same state_dict.

Command line:

    checkpoint.py random-rwkv4 --layers L --embd C --vocab V [--ffn F]
        [--seed S] [--dtype fp32|fp16|bf16] [--format pth|safetensors]
        -o PATH [--npz REF.npz --tokens 1,2,3]

writes random RWKV-4 weights (rwkv_ref.random_rwkv4_weights) and, with
--npz, the float64 reference logits [T, V] and final state [L, 5, C] of
rwkv_ref.rwkv4_forward for the tokens, computed on the weights as rounded to
the checkpoint's dtype.
"""

import argparse
import json
import struct
import zlib

import numpy as np

import rwkv_ref

# dtype name -> (pickled storage class, safetensors dtype)
DTYPES = {
    "fp32": ("FloatStorage", "F32"),
    "fp16": ("HalfStorage", "F16"),
    "bf16": ("BFloat16Storage", "BF16"),
}


# --- Element types ----------------------------------------------------------

def f32_to_bf16_bits(x):
    """float32 -> bfloat16 bit patterns (uint16), rounding to nearest even.

    NaNs become the quiet NaN 0x7FC0 (torch's scalar conversion; its
    vectorized one writes 0xFFFF).
    """
    bits = np.ascontiguousarray(x, dtype=np.float32).view(np.uint32).astype(np.uint64)
    rounded = (bits + 0x7FFF + ((bits >> 16) & 1)) >> 16
    nan = np.isnan(np.asarray(x, dtype=np.float32))
    rounded = np.where(nan, 0x7FC0, rounded)
    return rounded.astype(np.uint16)


def bf16_bits_to_f32(bits):
    """bfloat16 bit patterns (uint16) -> float32 (exact)."""
    return (np.asarray(bits, dtype=np.uint16).astype(np.uint32) << 16).view(np.float32)


def encode(array, dtype):
    """Little-endian bytes of array converted to dtype ('fp32'|'fp16'|'bf16')."""
    a = np.asarray(array, dtype=np.float32)
    if dtype == "fp32":
        return a.astype("<f4").tobytes()
    if dtype == "fp16":
        with np.errstate(over="ignore"):  # beyond 65504 is inf, as in torch
            return a.astype("<f2").tobytes()
    if dtype == "bf16":
        return f32_to_bf16_bits(a).astype("<u2").tobytes()
    raise ValueError(f"unknown dtype {dtype!r}")


def round_to_dtype(array, dtype):
    """The float32 values that array takes once stored as dtype."""
    a = np.asarray(array, dtype=np.float32)
    if dtype == "fp32":
        return a.copy()
    if dtype == "fp16":
        with np.errstate(over="ignore"):
            return a.astype(np.float16).astype(np.float32)
    if dtype == "bf16":
        return bf16_bits_to_f32(f32_to_bf16_bits(a)).reshape(a.shape)
    raise ValueError(f"unknown dtype {dtype!r}")


# Model projections that `seqc compile --weights=int8` stores as int8.
INT8_MATRICES = ("att.key.weight", "att.value.weight", "att.receptance.weight",
                 "att.output.weight", "att.gate.weight", "ffn.key.weight",
                 "ffn.value.weight", "ffn.receptance.weight", "head.weight")


# LoRA factors (RWKV-6, -7), which `--weights=fp16|int8` store as f16.
LORA_FACTORS = ("att.time_maa_w1", "att.time_maa_w2", "att.time_decay_w1",
                "att.time_decay_w2", "att.w1", "att.w2", "att.a1", "att.a2",
                "att.v1", "att.v2", "att.g1", "att.g2")


NEAR_TIES = 0  # activations quantize_activations found near a rounding boundary


def quantize_activations(x, block):
    """Activations as seqc's integer int8 kernels (seq-parallelize-products
    int8-dot) round them: per row and block of `block` channels along the
    last axis, in float32, a = max|x| / 127 and q = clip(rint(x * (127 /
    max|x|)), -127, 127); returns a * q (float64)."""
    x = np.asarray(x, dtype=np.float32)
    shape = x.shape
    xb = x.reshape(-1, shape[-1] // block, block)
    amax = np.max(np.abs(xb), axis=2, keepdims=True)
    safe = np.where(amax > 0, amax, np.float32(1))
    inv = np.where(amax > 0, np.float32(127) / safe, np.float32(0)).astype(np.float32)
    v = xb * inv
    # seqc computes x in f32, this reference in float64: a code this close
    # to a rounding boundary may round the other way there (one step).
    global NEAR_TIES
    NEAR_TIES += int(np.count_nonzero(np.abs(np.abs(v - np.trunc(v)) - 0.5) < 1e-4))
    q = np.clip(np.rint(v), -127, 127)
    a = (amax / np.float32(127)).astype(np.float32)
    return (q.astype(np.float64) * a.astype(np.float64)).reshape(shape)


class Int8Projection:
    """A dequantized int8 projection whose products first round their
    activations with quantize_activations, as seqc's integer kernels do.
    Supports the references' two spellings: `W @ x` (x [K] or [K, T]) and
    `x @ W.T` (x [T, K] or [K])."""

    __array_ufunc__ = None  # numpy defers `x @ W.T` to __rmatmul__
    rounds_activations = True  # the references keep it as it is

    def __init__(self, w, block, transposed=False):
        self.w, self.block, self.transposed = w, block, transposed

    @property
    def T(self):
        return Int8Projection(self.w, self.block, not self.transposed)

    @property
    def shape(self):
        return self.w.T.shape if self.transposed else self.w.shape

    def __matmul__(self, x):
        assert not self.transposed
        return self.w @ quantize_activations(np.asarray(x).T, self.block).T

    def __rmatmul__(self, x):
        assert self.transposed
        return quantize_activations(x, self.block) @ self.w.T


def int8_roundtrip(weights, activation_block=None):
    """The weights as `seqc compile --weights=int8` stores them: each model
    projection quantized symmetrically per output row (scale = max|w|/127,
    codes rint(w / scale) in float32) and dequantized back. With
    `activation_block`, the projections also round their activations as
    the integer kernels do (Int8Projection). LoRA factors are rounded to
    f16."""
    return stored_weights(weights, lambda w: int8_matrix(w, activation_block))


def stored_weights(weights, matrix):
    """`weights` with each model projection as `matrix` stores it and the
    LoRA factors rounded to f16 (what --weights=int8 and the group formats do)."""
    def stored(name, w):
        if name.endswith(INT8_MATRICES):
            return matrix(w)
        if name.endswith(LORA_FACTORS):
            return round_to_dtype(w, "fp16")
        return w
    return {name: stored(name, w) for name, w in weights.items()}


def q4_matrix(w, activation_block=32, kept=False):
    """One matrix as seqc's q4 weights store it: per group of 32 channels of
    a row, GGML's Q4_0 values (ggml_quants.py: d = f16(m / -8) for the
    value m of largest magnitude, codes clip(floor(w / d + 0.5) + 8, 0,
    15)); its products round their activations per group of 32, as the
    integer kernels do (Int8Projection), unless `activation_block` is None
    (the products without integer kernels, --int8-dot=none). With `kept`,
    a group that lies exactly on another grid d' (c - 8) is kept as it is,
    as seqc keeps it (kept_groups: GGUF blocks without a code 0); random
    weights never do."""
    import ggml_quants
    w = np.asarray(w, dtype=np.float32)
    deq = ggml_quants.decode(ggml_quants.encode(w, "q4_0"), "q4_0", w.shape[1])
    deq = kept_groups(w, deq, 4) if kept else deq
    return Int8Projection(deq, activation_block) if activation_block else deq


def kept_groups(w, deq, bits):
    """`deq` with the groups of 32 of `w` that lie exactly on some grid seqc's
    group encoder tries (BlobWriter::quantizeGroup: d = f16(m / k) for the
    value m of largest magnitude, k = -2^(B-1), then 2^(B-1) - 1 .. 1 of
    either sign; for 8 bits d = f16(|m| / k), k = 127 .. 1) taken as they
    are: such a group is stored exactly (what a GGUF file's blocks decode to,
    also blocks of other types that happen to lie on such a grid). Random
    weights never do."""
    f32 = np.float32
    b = np.asarray(w, f32).reshape(-1, 32)
    middle = 1 << (bits - 1)
    q8 = bits == 8
    m = b[np.arange(len(b)), np.abs(b).argmax(axis=1)]
    m = np.abs(m) if q8 else m
    lo, hi = (middle - 127, middle + 127) if q8 else (0, 2 * middle - 1)
    ks = [127] if q8 else [-middle]
    ks += [k * sign for k in range(126 if q8 else middle - 1, 0, -1)
           for sign in ((1,) if q8 else (1, -1))]
    found = np.zeros(len(b), bool)
    for k in ks:
        d = (m / f32(k)).astype(np.float16).astype(f32)
        q = np.clip(np.floor(b.astype(np.float64) / np.where(d != 0, d, 1)[:, None].astype(np.float64)
                             + 0.5) + middle, lo, hi)
        found |= (d != 0) & np.all(d[:, None] * (q - middle).astype(f32) == b, axis=1)
    return np.where(found[:, None], b, np.asarray(deq).reshape(-1, 32)).reshape(np.shape(deq))


# The group formats of `seqc compile --weights` (group_matrix).
GROUP_FORMATS = ("q4", "q5", "q6", "q8", "q4k", "q5k", "q6k")


def reference_group(args):
    """The group format a reference's flags ask for: --group-reference FMT,
    or its older spellings --q4-reference and --q4k-reference; None."""
    return (args.group_reference or ("q4" if args.q4_reference else None)
            or ("q4k" if args.q4k_reference else None))


def group_matrix(w, fmt, activation_block=32, kept=False):
    """One matrix as seqc's weights of group format `fmt` store it: q4, q4k,
    q5k and q6k as q4_matrix and super_block_matrix; q5 and q8 as GGML's Q5_0 and Q8_0
    values (ggml_quants.py: q5, d = f16(m / -16) for the value m of largest
    magnitude, codes clip(floor(w / d + 0.5) + 16, 0, 31); q8, d = f16(max
    |w| / 127), codes clip(floor(w / d + 0.5), -127, 127)); q6 as q5 with
    d = f16(m / -32) and codes clip(floor(w / d + 0.5) + 32, 0, 63). Per
    group of 32 channels of a row; the products round their activations
    per group of 32 (Int8Projection), unless `activation_block` is None.
    With `kept` (q4 .. q8), the groups that lie exactly on a grid seqc's
    encoder tries are taken as they are (kept_groups)."""
    import ggml_quants
    if fmt == "q4":
        return q4_matrix(w, activation_block, kept)
    if fmt in ("q4k", "q5k", "q6k"):
        return super_block_matrix(w, fmt, activation_block)
    w = np.asarray(w, dtype=np.float32)
    rows, cols = w.shape
    if fmt == "q6":
        b = w.reshape(-1, 32).astype(np.float64)
        d = ggml_quants._signed_scale(b, 32).astype(np.float64)[:, None]
        q = np.clip(ggml_quants.rnd(b / np.where(d != 0, d, 1)) + 32, 0, 63)
        deq = ((q - 32) * d).reshape(rows, cols)
    else:
        name = {"q5": "q5_0", "q8": "q8_0"}[fmt]
        deq = ggml_quants.decode(ggml_quants.encode(w, name), name, cols)
    deq = kept_groups(w, deq, int(fmt[1])) if kept else deq
    return Int8Projection(deq, activation_block) if activation_block else deq


def group_roundtrip(weights, fmt, activation_block=32):
    """The weights as `seqc compile --weights=FMT` stores them (a group
    format: group_matrix); LoRA factors rounded to f16."""
    return stored_weights(weights, lambda w: group_matrix(w, fmt, activation_block))


def super_block_matrix(w, fmt, activation_block=32):
    """One matrix as seqc's q4k, q5k or q6k weights store it: GGML's Q4_K,
    Q5_K or Q6_K values as llama.cpp's reference quantizers write them
    (ggml_quants.py: Q4_K and Q5_K, per sub-block of 32 channels a searched
    scale and minimum, both as 6-bit multiples of f16 factors per
    super-block of 256; Q6_K, per
    sub-block of 16 a searched scale as an int8 multiple of an f16 factor
    per 256), a last shorter super-block taken as if padded with zeros
    (which change no factor); its products round their activations per
    group of 32 (Int8Projection), unless `activation_block` is None."""
    import ggml_quants
    name = {"q4k": "q4_K", "q5k": "q5_K", "q6k": "q6_K"}[fmt]
    w = np.asarray(w, dtype=np.float32)
    rows, cols = w.shape
    padded = np.zeros((rows, -(-cols // 256) * 256), np.float32)
    padded[:, :cols] = w
    deq = ggml_quants.decode(ggml_quants.encode(padded, name), name,
                             padded.shape[1])[:, :cols]
    return Int8Projection(deq, activation_block) if activation_block else deq


def int8_matrix(w, activation_block=None):
    """One matrix as seqc's int8 weights store it (see int8_roundtrip)."""
    w = np.asarray(w, dtype=np.float32)
    mx = np.max(np.abs(w), axis=1, keepdims=True)
    scale = np.where(mx > 0, mx / np.float32(127), np.float32(1)).astype(np.float32)
    q = np.clip(np.rint(w / scale), -127, 127)
    deq = q.astype(np.float64) * scale.astype(np.float64)
    return Int8Projection(deq, activation_block) if activation_block else deq


# --- The pickle -------------------------------------------------------------

class _Pickle:
    """Emits protocol-2 pickle opcodes with the memo use of Python's pickler.

    The pickler memoizes (BINPUT) every object it saves except the empty
    tuple, ints and bools, and refers back (BINGET) to an object it saves a
    second time. Objects that torch.save shares between tensors (the globals,
    the strings 'storage' and 'cpu') are passed with a memo key; all others
    are new objects and are always written out.
    """

    def __init__(self):
        self.out = bytearray(b"\x80\x02")  # PROTO 2
        self.memo = {}
        self.memo_size = 0

    def put(self, key=None):
        idx = self.memo_size
        self.memo_size += 1
        if key is not None:
            self.memo[key] = idx
        if idx < 256:
            self.out += b"q" + bytes([idx])                     # BINPUT
        else:
            self.out += b"r" + struct.pack("<I", idx)           # LONG_BINPUT

    def get(self, key):
        """Writes a BINGET for key if it is memoized; returns whether it was."""
        idx = self.memo.get(key)
        if idx is None:
            return False
        if idx < 256:
            self.out += b"h" + bytes([idx])                     # BINGET
        else:
            self.out += b"j" + struct.pack("<I", idx)           # LONG_BINGET
        return True

    def global_(self, module, name):
        key = ("global", module, name)
        if not self.get(key):
            self.out += b"c" + f"{module}\n{name}\n".encode()   # GLOBAL
            self.put(key)

    def string(self, s, shared=False):
        key = ("str", s) if shared else None
        if key is None or not self.get(key):
            data = s.encode("utf-8")
            self.out += b"X" + struct.pack("<I", len(data)) + data  # BINUNICODE
            self.put(key)

    def int_(self, n):
        if 0 <= n < 256:
            self.out += b"K" + bytes([n])                       # BININT1
        elif 0 <= n < 65536:
            self.out += b"M" + struct.pack("<H", n)             # BININT2
        elif -2**31 <= n < 2**31:
            self.out += b"J" + struct.pack("<i", n)             # BININT
        else:
            data = n.to_bytes((n.bit_length() + 8) // 8, "little", signed=True)
            self.out += b"\x8a" + bytes([len(data)]) + data     # LONG1

    def int_tuple(self, values):
        if not values:
            self.out += b")"                                    # EMPTY_TUPLE
            return
        if len(values) > 3:
            self.out += b"("                                    # MARK
        for v in values:
            self.int_(v)
        self.out += {1: b"\x85", 2: b"\x86", 3: b"\x87"}.get(len(values), b"t")
        self.put()

    def empty_ordered_dict(self):
        self.global_("collections", "OrderedDict")
        self.out += b")R"                                       # EMPTY_TUPLE REDUCE
        self.put()

    def tensor(self, storage_class, storage_key, numel, shape):
        """_rebuild_tensor_v2 of a contiguous tensor filling its own storage."""
        self.global_("torch._utils", "_rebuild_tensor_v2")
        self.out += b"(("                                       # MARK MARK
        self.string("storage", shared=True)
        self.global_("torch", storage_class)
        self.string(storage_key)
        self.string("cpu", shared=True)
        self.int_(numel)
        self.out += b"t"                                        # TUPLE
        self.put()
        self.out += b"Q"                                        # BINPERSID
        self.int_(0)                                            # storage_offset
        self.int_tuple(shape)
        self.int_tuple(contiguous_strides(shape))
        self.out += b"\x89"                                     # NEWFALSE
        self.empty_ordered_dict()                               # backward hooks
        self.out += b"t"                                        # TUPLE
        self.put()
        self.out += b"R"                                        # REDUCE
        self.put()


def contiguous_strides(shape):
    """Element strides of a contiguous tensor, as torch computes them."""
    strides, step = [], 1
    for dim in reversed(shape):
        strides.append(step)
        step *= max(dim, 1)
    return tuple(reversed(strides))


def state_dict_pickle(shapes, storage_class):
    """data.pkl for an OrderedDict {name: tensor}, storage keys '0', '1', ..."""
    p = _Pickle()
    p.empty_ordered_dict()
    items = list(shapes.items())
    for start in range(0, len(items), 1000):  # the pickler's SETITEMS batches
        batch = items[start:start + 1000]
        if len(batch) > 1:
            p.out += b"("                                       # MARK
        for idx, (name, shape) in enumerate(batch, start):
            p.string(name)
            p.tensor(storage_class, str(idx), int(np.prod(shape, dtype=np.int64)),
                     tuple(int(d) for d in shape))
        p.out += b"u" if len(batch) > 1 else b"s"               # SETITEMS / SETITEM
    p.out += b"."                                               # STOP
    return bytes(p.out)


# --- The zip archive ----------------------------------------------------------

ALIGNMENT = 64


class _ZipWriter:
    """Stored-only zip writer laid out like torch's (miniz) record writer."""

    def __init__(self, f):
        self.f = f
        self.pos = 0
        self.entries = []  # (name, flags, crc, size, local header offset)

    def _write(self, data):
        self.f.write(data)
        self.pos += len(data)

    def record(self, name, data):
        name = name.encode("utf-8")
        if len(data) >= 0xFFFFFFFF or self.pos >= 0xFFFFFFFF:
            raise ValueError("records and archives of 4 GiB or more are not supported")
        start = self.pos + 30 + len(name) + 4
        pad = -start % ALIGNMENT
        extra = b"FB" + struct.pack("<H", pad) + b"Z" * pad
        crc = zlib.crc32(data)
        # UTF-8 names; a data descriptor follows all but empty records.
        flags = 0x0808 if data else 0x0800
        self.entries.append((name, flags, crc, len(data), self.pos))
        self._write(struct.pack("<IHHHHHIIIHH", 0x04034B50, 0, flags, 0, 0, 0,
                                0, 0, 0, len(name), len(extra)) + name + extra)
        if data:
            self._write(data)
            self._write(struct.pack("<IIII", 0x08074B50, crc, len(data), len(data)))

    def finish(self):
        cd_start = self.pos
        for name, flags, crc, size, offset in self.entries:
            self._write(struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 0, 0, flags,
                                    0, 0, 0, crc, size, size, len(name), 0, 0, 0,
                                    0, 0, offset) + name)
        cd_size = self.pos - cd_start
        n = len(self.entries)
        eocd64 = self.pos
        self._write(struct.pack("<IQHHIIQQQQ", 0x06064B50, 44, 0x031E, 45, 0, 0,
                                n, n, cd_size, cd_start))
        self._write(struct.pack("<IIQI", 0x07064B50, 0, eocd64, 1))
        self._write(struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, n, n,
                                cd_size, cd_start, 0))


def write_pth(path, tensors, dtype="fp32", byteorder=True):
    """Writes tensors {name: array} as torch.save(OrderedDict of tensors) would.

    Every tensor gets its own contiguous storage of the given dtype
    ('fp32', 'fp16' or 'bf16'), keys '0', '1', ... in dict order. With
    byteorder the archive has the 'byteorder' record of torch >= 2.1;
    without, the file is what torch 1.13 writes.
    """
    storage_class = DTYPES[dtype][0]
    shapes = {name: np.shape(a) for name, a in tensors.items()}
    storages = {str(i): a for i, a in enumerate(tensors.values())}
    with open(path, "wb") as f:
        z = _ZipWriter(f)
        z.record("archive/data.pkl", state_dict_pickle(shapes, storage_class))
        if byteorder:
            z.record("archive/byteorder", b"little")
        for key in sorted(storages):  # torch writes them in string order
            z.record(f"archive/data/{key}", encode(storages[key], dtype))
        z.record("archive/version", b"3\n")
        z.finish()


# --- safetensors --------------------------------------------------------------

def write_safetensors(path, tensors, dtype="fp32", metadata=None):
    """Writes tensors {name: array} as a safetensors file of the given dtype.

    Layout: u64 little-endian header size, the JSON header (padded with
    spaces to a multiple of 8), then the tensors' bytes back to back, in
    name order; metadata (str -> str) goes into "__metadata__".
    """
    st_dtype = DTYPES[dtype][1]
    header, blobs, offset = {}, [], 0
    if metadata:
        header["__metadata__"] = dict(metadata)
    for name in sorted(tensors):
        data = encode(tensors[name], dtype)
        header[name] = {"dtype": st_dtype,
                        "shape": [int(d) for d in np.shape(tensors[name])],
                        "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for data in blobs:
            f.write(data)


# --- Command line -------------------------------------------------------------

def hugging_face_names(weights):
    """The official RWKV-4 names in the Hugging Face RwkvForCausalLM layout
    (rwkv.embeddings, rwkv.blocks.N.attention / feed_forward, pre_ln,
    time_mix_key / value / receptance)."""
    out = {}
    for name, w in weights.items():
        hf = name
        for a, b in ((".att.", ".attention."), (".ffn.", ".feed_forward."),
                     (".ln0.", ".pre_ln."), ("time_mix_k", "time_mix_key"),
                     ("time_mix_v", "time_mix_value"),
                     ("time_mix_r", "time_mix_receptance")):
            hf = hf.replace(a, b)
        if hf == "emb.weight":
            hf = "embeddings.weight"
        out[hf if hf == "head.weight" else "rwkv." + hf] = w
    return out


def random_rwkv4(args):
    weights = rwkv_ref.random_rwkv4_weights(args.layers, args.embd, args.vocab,
                                            args.ffn, args.seed)
    stored_names = hugging_face_names(weights) if args.hf_names else weights
    if args.format == "pth":
        write_pth(args.output, stored_names, args.dtype)
    else:
        write_safetensors(args.output, stored_names, args.dtype)
    if args.npz:
        tokens = [int(t) for t in args.tokens.split(",")]
        stored = {k: round_to_dtype(v, args.dtype) for k, v in weights.items()}
        if args.int8_reference:
            stored = int8_roundtrip(stored, args.int8_activations)
        if fmt := reference_group(args):
            stored = group_roundtrip(stored, fmt, None if args.q4_f32_activations else 32)
        quant = (args.state_bits, args.state_group) if args.state_bits else None
        logits, state = rwkv_ref.rwkv4_forward(stored, tokens, state_quant=quant)
        np.savez(args.npz, tokens=np.array(tokens, dtype=np.int64),
                 logits=logits, state=state)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    r = sub.add_parser("random-rwkv4", help="random RWKV-4 weights")
    r.add_argument("--layers", type=int, required=True)
    r.add_argument("--embd", type=int, required=True)
    r.add_argument("--vocab", type=int, required=True)
    r.add_argument("--ffn", type=int, default=None, help="default 4 * embd")
    r.add_argument("--seed", type=int, default=0)
    r.add_argument("--dtype", choices=sorted(DTYPES), default="fp32")
    r.add_argument("--format", choices=("pth", "safetensors"), default="pth")
    r.add_argument("-o", "--output", required=True)
    r.add_argument("--npz", help="also write reference logits and state here")
    r.add_argument("--hf-names", action="store_true",
                   help="write the Hugging Face RwkvForCausalLM tensor names")
    r.add_argument("--int8-reference", action="store_true",
                   help="compute the --npz logits with the projections as "
                        "seqc's int8 weights store them")
    r.add_argument("--int8-activations", type=int, metavar="BLOCK",
                   help="with --int8-reference: the projections' activations "
                        "rounded to int8 per block of BLOCK channels, as "
                        "seqc's integer kernels (--int8-dot) do")
    r.add_argument("--q4-reference", action="store_true",
                   help="compute the --npz logits with the projections as "
                        "seqc's q4 weights store and compute them")
    r.add_argument("--q4k-reference", action="store_true",
                   help="compute the --npz logits with the projections as "
                        "seqc's q4k weights store and compute them")
    r.add_argument("--group-reference", choices=GROUP_FORMATS,
                   help="compute the --npz logits with the projections as "
                        "seqc's weights of that group format store and compute them")
    r.add_argument("--q4-f32-activations", action="store_true",
                   help="with --q4-reference or --q4k-reference: f32 activations, as the "
                        "products without integer kernels (--int8-dot=none)")
    r.add_argument("--tokens", default="0", help="comma-separated ids for --npz")
    r.add_argument("--state-bits", type=int, choices=(4, 8),
                   help="the --npz logits with the WKV state kept quantized "
                        "between tokens (seqc compile --state=intB)")
    r.add_argument("--state-group", type=int, default=32)
    r.set_defaults(run=random_rwkv4)
    args = parser.parse_args()
    args.run(args)


if __name__ == "__main__":
    main()
