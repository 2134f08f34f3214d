"""Writes a seq-dialect program that appends random keys and values to a KV
cache and attends over it, or checks what the compiled program printed:
the attention output against the numpy reference (test/reference/
llama_ref.py), and the cache's bytes against the storage layout documented
in include/seqc/Support/KVLayout.h, recomputed here from the documentation:
header, full-precision ring, bit-packed codes, scales and minima.

    kv_case.py emit  [options] > case.mlir
    kv_case.py check [options] < printed.txt
"""

import argparse
import math
import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "reference"))
import llama_ref  # noqa: E402
from wkv_case import parse_printed  # noqa: E402

TOLERANCE = 1e-5  # attention outputs are averages of O(1) values


def options():
    p = argparse.ArgumentParser()
    p.add_argument("mode", choices=["emit", "check"])
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--tokens", type=int, default=40)
    p.add_argument("--heads", type=int, default=2)
    p.add_argument("--query-heads", type=int, default=4)
    p.add_argument("--head-dim", type=int, default=16)
    p.add_argument("--capacity", type=int, default=64)
    p.add_argument("--bits", type=int, default=0, help="0: full precision")
    p.add_argument("--group", type=int, default=8)
    p.add_argument("--window", type=int, default=8)
    p.add_argument("--sinks", type=int, default=0)
    p.add_argument("--per-token-keys", action="store_true")
    p.add_argument("--symmetric", action="store_true")
    return p.parse_args()


def cache_type(a):
    base = f"{a.heads}x{a.head_dim}x{a.capacity}xf32"
    if not a.bits:
        return f"!seq.kv_cache<{base}>"
    mode = "symmetric" if a.symmetric else "asymmetric"
    kaxis = 1 if a.per_token_keys else 0
    enc = lambda axis: f"#seq.quant<bits = {a.bits}, group = {a.group}, axis = {axis}, {mode}>"
    extra = f", sinks = {a.sinks}" if a.sinks else ""
    return (f"!seq.kv_cache<{base}, keys = {enc(kaxis)}, values = {enc(1)}"
            f"{extra}, window = {a.window}>")


def layout(a):
    """Byte offsets of one cache (KVLayout.h, as documented)."""
    H, D, cap = a.heads, a.head_dim, a.capacity
    at = [64]

    def region(n):
        start = at[0]
        at[0] = (at[0] + n + 63) // 64 * 64
        return start

    L = {}
    if not a.bits:
        L["keys"], L["values"] = region(H * cap * D * 4), region(H * cap * D * 4)
        L["bytes"] = at[0]
        return L
    chunk = 1 if a.per_token_keys else a.group
    L["chunk"], L["ring"] = chunk, a.window + chunk
    Q = (cap - a.sinks + chunk - 1) // chunk * chunk
    L["Q"] = Q
    L["sinkK"], L["sinkV"] = region(H * a.sinks * D * 4), region(H * a.sinks * D * 4)
    L["ringK"], L["ringV"] = region(H * L["ring"] * D * 4), region(H * L["ring"] * D * 4)
    for side, per_channel in (("K", not a.per_token_keys), ("V", False)):
        rows, cols = (Q // a.group, D) if per_channel else (Q, D // a.group)
        L[side] = {"rowBytes": D * a.bits // 8, "rows": rows, "cols": cols,
                   "codes": region(H * Q * D * a.bits // 8),
                   "scales": region(H * rows * cols * 4),
                   "minima": None if a.symmetric else region(H * rows * cols * 4)}
    L["bytes"] = at[0]
    return L


def inputs(a):
    rng = np.random.default_rng(a.seed)
    q = rng.uniform(-1, 1, (a.tokens, a.query_heads, a.head_dim)).astype(np.float32)
    k = rng.normal(0, 1, (a.tokens, a.heads, a.head_dim)).astype(np.float32)
    v = rng.normal(0, 1, (a.tokens, a.heads, a.head_dim)).astype(np.float32)
    k[:, :, 3] += 4.0  # an outlier channel, as real keys have
    return q, k, v


def dense(x):
    shape = "x".join(str(d) for d in x.shape)
    body = ", ".join(repr(float(e)) for e in x.reshape(-1))
    return f"dense<[{body}]> : tensor<{x.size}xf32>", shape


def emit(a):
    q, k, v = inputs(a)
    ty = cache_type(a)
    nbytes = layout(a)["bytes"]
    lines = ["func.func private @printMemrefF32(memref<*xf32>)",
             "func.func private @printMemrefI32(memref<*xi32>)", "",
             "func.func @main() {"]
    for name, x in (("q", q), ("k", k), ("v", v)):
        d, shape = dense(x)
        dyn = "?x" + "x".join(str(s) for s in x.shape[1:])
        lines += [f"  %{name}f = arith.constant {d}",
                  f"  %{name}s = tensor.expand_shape %{name}f [[0, 1, 2]] output_shape "
                  f"[{x.shape[0]}, {x.shape[1]}, {x.shape[2]}] : tensor<{x.size}xf32> into tensor<{shape}xf32>",
                  f"  %{name} = tensor.cast %{name}s : tensor<{shape}xf32> to tensor<{dyn}xf32>"]
    hq, h, d_ = a.query_heads, a.heads, a.head_dim
    lines += [f"  %n = arith.constant {nbytes} : index",
              "  %state = memref.alloc(%n) : memref<?xi8>",
              "  %zero = arith.constant 0 : i8",
              "  linalg.fill ins(%zero : i8) outs(%state : memref<?xi8>)",
              "  %c0 = arith.constant 0 : index",
              "  %c1 = arith.constant 1 : index",
              f"  %c = seq.kv_load %state[%c0] : memref<?xi8> -> {ty}",
              f"  %ca = seq.kv_append %c, %k, %v : {ty}, tensor<?x{h}x{d_}xf32>",
              f"  %o, %cb = seq.kv_attention %q, %ca : tensor<?x{hq}x{d_}xf32>, {ty}",
              f"  seq.kv_store %cb, %state[%c0] : {ty}, memref<?xi8>",
              f"  %ob = bufferization.to_buffer %o : tensor<?x{hq}x{d_}xf32> to memref<?x{hq}x{d_}xf32>",
              f"  %ou = memref.cast %ob : memref<?x{hq}x{d_}xf32> to memref<*xf32>",
              "  call @printMemrefF32(%ou) : (memref<*xf32>) -> ()",
              # The cache's bytes, widened to i32 for printing.
              "  %wide = memref.alloc(%n) : memref<?xi32>",
              "  scf.for %i = %c0 to %n step %c1 {",
              "    %b = memref.load %state[%i] : memref<?xi8>",
              "    %w = arith.extui %b : i8 to i32",
              "    memref.store %w, %wide[%i] : memref<?xi32>",
              "  }",
              "  %wu = memref.cast %wide : memref<?xi32> to memref<*xi32>",
              "  call @printMemrefI32(%wu) : (memref<*xi32>) -> ()",
              "  return", "}"]
    print("\n".join(lines))


def check(a, text):
    printed = parse_printed(text)
    if len(printed) != 2:
        sys.exit(f"expected 2 printed memrefs, got {len(printed)}")
    out = printed[0].reshape(a.tokens, a.query_heads, a.head_dim)
    state = printed[1].astype(np.uint8).tobytes()
    q, k, v = inputs(a)
    comp = None
    if a.bits:
        comp = {"key_bits": a.bits, "value_bits": a.bits, "group": a.group,
                "window": a.window, "sinks": a.sinks,
                "per_token_keys": a.per_token_keys, "symmetric": a.symmetric}
    cache = llama_ref.KVCache(a.heads, a.head_dim, a.capacity, comp)
    ref = np.empty(out.shape)
    for t in range(a.tokens):
        cache.append(k[t], v[t])
        ref[t] = llama_ref.attend(q[t].astype(np.float64), cache, 1 / math.sqrt(a.head_dim))
    err = np.max(np.abs(out - ref))
    print(f"attention: max error {err:.3g} (tolerance {TOLERANCE:g})")
    if not err <= TOLERANCE:
        sys.exit("attention: FAIL")

    L = layout(a)
    H, D = a.heads, a.head_dim
    length, nq = np.frombuffer(state[:16], dtype="<i8")
    print(f"header: length {length}, quantized {nq}")
    if length != a.tokens or nq != cache.nq:
        sys.exit(f"header: FAIL (expected {a.tokens}, {cache.nq})")

    def f32(off, shape):
        n = int(np.prod(shape))
        return np.frombuffer(state[off:off + 4 * n], dtype="<f4").reshape(shape)

    if not a.bits:
        keys = f32(L["keys"], (H, a.capacity, D))[:, :a.tokens]
        if not np.array_equal(keys, k.transpose(1, 0, 2)):
            sys.exit("full-precision keys: FAIL")
        print("full-precision keys: exact")
        print("kv_case: OK")
        return
    packed_ok = 0
    for side, idx, enc_bits in (("K", 0, a.bits), ("V", 1, a.bits)):
        S = L[side]
        codes = np.frombuffer(state[S["codes"]:S["codes"] + H * L["Q"] * S["rowBytes"]],
                              dtype=np.uint8).reshape(H, L["Q"], S["rowBytes"])
        scales = f32(S["scales"], (H, S["rows"], S["cols"]))
        minima = None if S["minima"] is None else f32(S["minima"], (H, S["rows"], S["cols"]))
        per_channel = side == "K" and not a.per_token_keys
        for c, chunk in enumerate(cache.chunks):
            qcodes, _, s, m = chunk[idx]  # codes [chunk, H, D]
            first = c * L["chunk"]
            for i in range(L["chunk"]):
                for h in range(H):
                    word = 0
                    for ch in range(D):
                        word |= int(qcodes[i, h, ch]) << (ch * enc_bits)
                    want = word.to_bytes(S["rowBytes"], "little")
                    got = codes[h, first + i].tobytes()
                    if got != want:
                        sys.exit(f"{side} codes of token {first + i}, head {h}: "
                                 f"FAIL {got.hex()} != {want.hex()}")
                    packed_ok += 1
            if per_channel:
                rows = slice(first // a.group, first // a.group + L["chunk"] // a.group)
                got_s, got_m = scales[:, rows].transpose(1, 0, 2), (
                    None if minima is None else minima[:, rows].transpose(1, 0, 2))
            else:
                rows = slice(first, first + L["chunk"])
                got_s, got_m = scales[:, rows].transpose(1, 0, 2), (
                    None if minima is None else minima[:, rows].transpose(1, 0, 2))
            if not np.array_equal(got_s, s):
                sys.exit(f"{side} scales of chunk {c}: FAIL")
            if got_m is not None and not np.array_equal(got_m, m):
                sys.exit(f"{side} minima of chunk {c}: FAIL")
        # Rows never quantized stay zero.
        if codes[:, cache.nq:].any():
            sys.exit(f"{side} codes beyond the quantized tokens: FAIL")
    print(f"packed rows: {packed_ok} exact, scales and minima exact")
    print("kv_case: OK")


def main():
    a = options()
    if a.mode == "emit":
        emit(a)
    else:
        check(a, sys.stdin.read())


if __name__ == "__main__":
    main()
