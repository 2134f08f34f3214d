"""A group-format product: q4, q5, q6, q8 or q4k weights (the linalg.generics of
dialects/Seq/IR/SeqQ4Product.h, marked seq.parallel, as the model builders
write them) compiled by seq-cpu-pipeline and run on the CPU, against numpy.

The numpy side reads the weights from the packed bytes as the format
describes them (byte 16 g + j of a row: code of channel 32 g + j in the low
nibble, of 32 g + 16 + j in the high one; for q5 and q6 bits 4 and 5 of
the code of channel k are bit k % 8 of byte k / 8 of the planes; value d (c
- 2^(B-1)); q8: the signed byte of channel k times d; for q4k d[k / 256]
sc[k / 32] c - dmin[k / 256] m[k / 32], q5k the same with q5's codes; for q6k, 6-bit codes as q6's, d[k /
256] sc[k / 16] (c - 32) with signed sc), quantizes the
activations as the kernels document it (per token and group of 32
channels: a = max|x| / 127, q = clip(rint(x * (127 / max|x|)), -127, 127),
in float32), sums the integer products of each group exactly and scales
them by a and d in float64: the kernel's only freedom is the order of its
f32 sums (and the output is printed with 6 digits). With `float` (no integer
kernel) the reference keeps the activations in f32. Activations get outlier
channels so that groups have very different scales; some groups are all
zero, some weight groups have a zero scale (q4k: a zero d, a zero dmin, 6-bit
scales and minima over their whole range 0..63; q6k: int8 scales over
-128..127; q8: codes over -128..127,
-128 included, which no encoder writes but a kernel must multiply right).

    q4_dot_case.py emit T N K [q5|q6|q8|q4k|q5k|q6k] > case.mlir
    q4_dot_case.py check T N K [float] [q5|q6|q8|q4k|q5k|q6k] < printed.txt
"""

import sys

import numpy as np

from product_case import module, printed


def inputs(t, n, k):
    rng = np.random.default_rng(t * 1000 + n + k)
    x = rng.standard_normal((t, k)).astype(np.float32)
    x[:, rng.choice(k, max(1, k // 16), replace=False)] *= 20
    x[:, :32] = 0  # an all-zero group
    packed = rng.integers(0, 256, (n, k // 2)).astype(np.uint8)
    d = (rng.standard_normal((n, k // 32)) * 0.05).astype(np.float16)
    d[0, -1] = 0
    y0 = rng.standard_normal((t, n)).astype(np.float32)
    return x, packed, d, y0


def q4k_inputs(t, n, k):
    """x, packed codes, sc, m [n, k / 32] bytes 0..63, d, dmin [n, ceil(k /
    256)] f16, y0."""
    x, packed, _, y0 = inputs(t, n, k)
    rng = np.random.default_rng(t * 7 + n * 3 + k)
    g, s = k // 32, -(-k // 256)
    sc = rng.integers(0, 64, (n, g)).astype(np.uint8)
    m = rng.integers(0, 64, (n, g)).astype(np.uint8)
    sc[1, 0], m[1, 0] = 63, 63
    d = (np.abs(rng.standard_normal((n, s))) * 0.002).astype(np.float16)
    dmin = (np.abs(rng.standard_normal((n, s))) * 0.004).astype(np.float16)
    d[0, -1] = 0
    dmin[2 % n, 0] = 0
    return x, packed, sc, m, d, dmin, y0


def group_inputs(t, n, k, bits):
    """x, the codes' bytes (q8: [n, k] int8), the bit planes ([n, k / 8]
    each: bits - 4 of them for q5 and q6), d, y0."""
    x, packed, d, y0 = inputs(t, n, k)
    rng = np.random.default_rng(t * 11 + n * 5 + k)
    if bits == 8:
        packed = rng.integers(-128, 128, (n, k)).astype(np.int8)
        d = (d.astype(np.float32) / 8).astype(np.float16)
        return x, packed, [], d, y0
    planes = [rng.integers(0, 256, (n, k // 8)).astype(np.uint8)
              for _ in range(bits - 4)]
    d = (d.astype(np.float32) / 2 ** (bits - 4)).astype(np.float16)
    return x, packed, planes, d, y0


def q6k_inputs(t, n, k):
    """x, the codes' bytes, the planes of bits 4 and 5, sc [n, k / 16]
    int8, d [n, ceil(k / 256)] f16, y0."""
    x, packed, planes, _, y0 = group_inputs(t, n, k, 6)
    rng = np.random.default_rng(t * 13 + n * 7 + k)
    sc = rng.integers(-128, 128, (n, k // 16)).astype(np.int8)
    sc[1, 0], sc[1, 1] = -128, 127
    d = (np.abs(rng.standard_normal((n, -(-k // 256)))) * 0.0005).astype(np.float16)
    d[0, -1] = 0
    return x, packed, planes, sc, d, y0


def group_codes(packed, planes):
    """The unsigned codes of a q4, q5 or q6 weight, [n, k]."""
    c = codes(packed)
    k = c.shape[1]
    for i, plane in enumerate(planes):
        bit = (plane[:, np.arange(k) // 8].astype(np.int64) >> (np.arange(k) % 8)) & 1
        c = c | (bit << (4 + i))
    return c


def codes(packed):
    n, half = packed.shape
    g = packed.reshape(n, half // 16, 16).astype(np.int64)
    return np.concatenate([g & 15, g >> 4], axis=2).reshape(n, 2 * half)


def quantize(x):
    t, k = x.shape
    xb = x.reshape(t, k // 32, 32)
    amax = np.max(np.abs(xb), axis=2, keepdims=True).astype(np.float32)
    inv = np.where(amax > 0, np.float32(127) / np.where(amax > 0, amax, 1), 0)
    q = np.clip(np.rint(xb * inv.astype(np.float32)), -127, 127).astype(np.int64)
    return q, (amax / np.float32(127)).astype(np.float32)


# The body's code of channel k from the weight byte %b, as %n (i8) and
# %nf (f32), and its end: the term x * %wv added to the accumulator.
NIBBLE = """\
    %k = linalg.index 2 : index
    %c32 = arith.constant 32 : index
    %c16 = arith.constant 16 : index
    %in = arith.remui %k, %c32 : index
    %h = arith.divui %in, %c16 : index
    %h8 = arith.index_cast %h : index to i8
    %c4 = arith.constant 4 : i8
    %sh = arith.muli %h8, %c4 : i8
    %v = arith.shrui %b, %sh : i8
    %c15 = arith.constant 15 : i8
    %n = arith.andi %v, %c15 : i8"""
CODE = NIBBLE + """
    %nf = arith.uitofp %n : i8 to f32"""


def plane_bits(planes):
    """Bits 4 .. 3 + planes of the code from the planes' bytes %p4, %p5,
    or-ed into %n; the code as %nf."""
    if not planes:
        return CODE
    lines = [NIBBLE, """\
    %c8i = arith.constant 8 : index
    %kb = arith.remui %k, %c8i : index
    %kb8 = arith.index_cast %kb : index to i8
    %c1 = arith.constant 1 : i8"""]
    code = "%n"
    for i in range(planes):
        b = 4 + i
        lines.append(f"""\
    %s{b} = arith.shrui %p{b}, %kb8 : i8
    %b{b} = arith.andi %s{b}, %c1 : i8
    %at{b} = arith.constant {b} : i8
    %h{b} = arith.shli %b{b}, %at{b} : i8
    %o{b} = arith.ori {code}, %h{b} : i8""")
        code = f"%o{b}"
    lines.append(f"    %nf = arith.uitofp {code} : i8 to f32")
    return "\n".join(lines)
SUM = """\
    %p = arith.mulf %a, %wv fastmath<reassoc,contract> : f32
    %r = arith.addf %acc, %p fastmath<reassoc,contract> : f32
    linalg.yield %r : f32
  }
  return
}"""


def product_func(name, rows, n, k, planes=0, q8=False):
    """q4 (q5, q6 with `planes` bit planes), or q8's signed bytes."""
    x = f"memref<{rows}x{k}xf32>"
    w, s = f"memref<{n}x{k if q8 else k // 2}xi8>", f"memref<{n}x{k // 32}xf16>"
    p = f"memref<{n}x{k // 8}xi8>"
    y = f"memref<{rows}x{n}xf32>"
    pnames = [f"%p{4 + i}" for i in range(planes)]
    args = "".join(f", %plane{4 + i}: {p}" for i in range(planes))
    ins = "".join(f", %plane{4 + i}" for i in range(planes))
    types = "".join(f", {p}" for _ in pnames)
    maps = "".join(", #p" for _ in pnames)
    bargs = "".join(f", {a}: i8" for a in pnames)
    if q8:
        weight = """\
    %wf = arith.sitofp %b : i8 to f32
    %df = arith.extf %c : f16 to f32
    %wv = arith.mulf %wf, %df : f32"""
    else:
        weight = f"""\
{plane_bits(planes)}
    %c8 = arith.constant {8 << planes}.0 : f32
    %q = arith.subf %nf, %c8 : f32
    %df = arith.extf %c : f16 to f32
    %wv = arith.mulf %q, %df : f32"""
    return f"""func.func @{name}(%x: {x}, %w: {w}{args}, %d: {s}, %y: {y}) {{
  linalg.generic {{indexing_maps = [#x, #w{maps}, #s, #y], iterator_types = ["parallel", "parallel", "reduction"]}}
      ins(%x, %w{ins}, %d : {x}, {w}{types}, {s}) outs(%y : {y})
      attrs = {{seq.parallel}} {{
  ^bb0(%a: f32, %b: i8{bargs}, %c: f16, %acc: f32):
{weight}
{SUM}"""


def q4k_product_func(name, rows, n, k, planes=0):
    """q4k (q5k with a plane of bit 4)."""
    x = f"memref<{rows}x{k}xf32>"
    w, g = f"memref<{n}x{k // 2}xi8>", f"memref<{n}x{k // 32}xi8>"
    p = f"memref<{n}x{k // 8}xi8>"
    s = f"memref<{n}x{-(-k // 256)}xf16>"
    y = f"memref<{rows}x{n}xf32>"
    args = "".join(f", %plane{4 + i}: {p}" for i in range(planes))
    ins = "".join(f", %plane{4 + i}" for i in range(planes))
    types = "".join(f", {p}" for _ in range(planes))
    maps = "".join(", #p" for _ in range(planes))
    bargs = "".join(f", %p{4 + i}: i8" for i in range(planes))
    return f"""func.func @{name}(%x: {x}, %w: {w}{args}, %sc: {g}, %m: {g}, %d: {s}, %dmin: {s}, %y: {y}) {{
  linalg.generic {{indexing_maps = [#x, #w{maps}, #g, #g, #s, #s, #y], iterator_types = ["parallel", "parallel", "reduction"]}}
      ins(%x, %w{ins}, %sc, %m, %d, %dmin : {x}, {w}{types}, {g}, {g}, {s}, {s}) outs(%y : {y})
      attrs = {{seq.parallel}} {{
  ^bb0(%a: f32, %b: i8{bargs}, %bs: i8, %bm: i8, %bd: f16, %bdm: f16, %acc: f32):
{plane_bits(planes)}
    %df = arith.extf %bd : f16 to f32
    %sf = arith.uitofp %bs : i8 to f32
    %step = arith.mulf %df, %sf : f32
    %dmf = arith.extf %bdm : f16 to f32
    %mf = arith.uitofp %bm : i8 to f32
    %off = arith.mulf %dmf, %mf : f32
    %scaled = arith.mulf %nf, %step : f32
    %wv = arith.subf %scaled, %off : f32
{SUM}"""


def q6k_product_func(name, rows, n, k):
    x = f"memref<{rows}x{k}xf32>"
    w, p = f"memref<{n}x{k // 2}xi8>", f"memref<{n}x{k // 8}xi8>"
    g, s = f"memref<{n}x{k // 16}xi8>", f"memref<{n}x{-(-k // 256)}xf16>"
    y = f"memref<{rows}x{n}xf32>"
    return f"""func.func @{name}(%x: {x}, %w: {w}, %plane4: {p}, %plane5: {p}, %sc: {g}, %d: {s}, %y: {y}) {{
  linalg.generic {{indexing_maps = [#x, #w, #p, #p, #g, #s, #y], iterator_types = ["parallel", "parallel", "reduction"]}}
      ins(%x, %w, %plane4, %plane5, %sc, %d : {x}, {w}, {p}, {p}, {g}, {s}) outs(%y : {y})
      attrs = {{seq.parallel}} {{
  ^bb0(%a: f32, %b: i8, %p4: i8, %p5: i8, %bs: i8, %bd: f16, %acc: f32):
{plane_bits(2)}
    %c32f = arith.constant 32.0 : f32
    %q = arith.subf %nf, %c32f : f32
    %df = arith.extf %bd : f16 to f32
    %sf = arith.sitofp %bs : i8 to f32
    %step = arith.mulf %df, %sf : f32
    %wv = arith.mulf %q, %step : f32
{SUM}"""


def q5k_plane(t, n, k):
    """The plane of bit 4 of a q5k case's codes."""
    rng = np.random.default_rng(t * 17 + n * 3 + k)
    return rng.integers(0, 256, (n, k // 8)).astype(np.uint8)


def emit(t, n, k, q4k, bits, q6k=False, q5k=False):
    if q6k:
        x, packed, planes, sc, d, y0 = q6k_inputs(t, n, k)
        print(module(x, packed.view(np.int8), y0, "i8",
                     q6k_product_func("product", "?", n, k),
                     q6k_product_func("decode", "1", n, k),
                     maps="#w = affine_map<(n, t, k) -> (n, (k floordiv 32) * 16 + k mod 16)>\n"
                          "#p = affine_map<(n, t, k) -> (n, k floordiv 8)>\n"
                          "#g = affine_map<(n, t, k) -> (n, k floordiv 16)>\n"
                          "#s = affine_map<(n, t, k) -> (n, k floordiv 256)>",
                     extra=[(f"p{4 + i}", p.view(np.int8), "i8") for i, p in enumerate(planes)]
                     + [("sc", sc, "i8"), ("d", d, "f16")]))
        return
    if bits in (5, 6, 8):
        x, packed, planes, d, y0 = group_inputs(t, n, k, bits)
        if bits == 8:
            print(module(x, packed, y0, "i8", product_func("product", "?", n, k, q8=True),
                         product_func("decode", "1", n, k, q8=True),
                         maps="#w = affine_map<(n, t, k) -> (n, k)>\n"
                              "#s = affine_map<(n, t, k) -> (n, k floordiv 32)>",
                         extra=[("d", d, "f16")]))
            return
        print(module(x, packed.view(np.int8), y0, "i8",
                     product_func("product", "?", n, k, len(planes)),
                     product_func("decode", "1", n, k, len(planes)),
                     maps="#w = affine_map<(n, t, k) -> (n, (k floordiv 32) * 16 + k mod 16)>\n"
                          "#p = affine_map<(n, t, k) -> (n, k floordiv 8)>\n"
                          "#s = affine_map<(n, t, k) -> (n, k floordiv 32)>",
                     extra=[(f"p{4 + i}", p.view(np.int8), "i8") for i, p in enumerate(planes)]
                     + [("d", d, "f16")]))
        return
    if q4k or q5k:
        x, packed, sc, m, d, dmin, y0 = q4k_inputs(t, n, k)
        planes = [("p4", q5k_plane(t, n, k).view(np.int8), "i8")] if q5k else []
        print(module(x, packed.view(np.int8), y0, "i8",
                     q4k_product_func("product", "?", n, k, len(planes)),
                     q4k_product_func("decode", "1", n, k, len(planes)),
                     maps="#w = affine_map<(n, t, k) -> (n, (k floordiv 32) * 16 + k mod 16)>\n"
                          "#p = affine_map<(n, t, k) -> (n, k floordiv 8)>\n"
                          "#g = affine_map<(n, t, k) -> (n, k floordiv 32)>\n"
                          "#s = affine_map<(n, t, k) -> (n, k floordiv 256)>",
                     extra=planes + [("sc", sc.view(np.int8), "i8"), ("m", m.view(np.int8), "i8"),
                                     ("d", d, "f16"), ("dmin", dmin, "f16")]))
        return
    x, packed, d, y0 = inputs(t, n, k)
    print(module(x, packed.view(np.int8), y0, "i8",
                 product_func("product", "?", n, k), product_func("decode", "1", n, k),
                 maps="#w = affine_map<(n, t, k) -> (n, (k floordiv 32) * 16 + k mod 16)>\n"
                      "#s = affine_map<(n, t, k) -> (n, k floordiv 32)>",
                 extra=[("d", d, "f16")]))


def check(t, n, k, floats, q4k, bits, text, q6k=False, q5k=False):
    name = "q4k" if q4k else "q5k" if q5k else "q6k" if q6k else f"q{bits}"
    label = (f"{name} product {t}x{n}x{k}"
             + (" (f32 activations)" if floats else ""))
    blocks = printed(text)
    if len(blocks) != 2:
        sys.exit(f"{label}: FAIL: no output")
    q, a = quantize(x := inputs(t, n, k)[0])
    a64 = a[:, :, 0].astype(np.float64)
    if q6k:
        _, packed, planes, sc, d, y0 = q6k_inputs(t, n, k)
        c = (group_codes(packed, planes) - 32).reshape(n, k // 16, 16)
        sub = np.arange(k // 16) // 16  # each sub-block's super-block
        step = d.astype(np.float64)[:, sub] * sc           # [n, k / 16]
        sums = np.einsum("tsj,nsj->tsn", q.reshape(t, k // 16, 16), c)
        a_sub = np.repeat(a64, 2, axis=1)                  # [t, k / 16]
        rounded = np.einsum("ts,ns,tsn->tn", a_sub, step, sums)
        weights = (c * step[:, :, None]).reshape(n, k)
    elif bits in (5, 6, 8):
        _, packed, planes, d, y0 = group_inputs(t, n, k, bits)
        if bits == 8:
            c = packed.astype(np.int64).reshape(n, k // 32, 32)
        else:
            c = (group_codes(packed, planes) - 2 ** (bits - 1)).reshape(n, k // 32, 32)
        d64 = d.astype(np.float64)
        sums = np.einsum("tgj,ngj->tgn", q, c)
        rounded = np.einsum("tg,ng,tgn->tn", a64, d64, sums)
        weights = (c * d64[:, :, None]).reshape(n, k)
    elif q4k or q5k:
        _, packed, sc, m, d, dmin, y0 = q4k_inputs(t, n, k)
        c = group_codes(packed, [q5k_plane(t, n, k)] if q5k else []).reshape(n, k // 32, 32)
        sub = np.arange(k // 32) // 8  # each sub-block's super-block
        step = d.astype(np.float64)[:, sub] * sc          # [n, g]
        offset = dmin.astype(np.float64)[:, sub] * m      # [n, g]
        sums = np.einsum("tgj,ngj->tgn", q, c)
        qsums = q.sum(axis=2)                              # [t, g]
        rounded = (np.einsum("tg,ng,tgn->tn", a64, step, sums)
                   - np.einsum("tg,ng,tg->tn", a64, offset, qsums))
        weights = (c * step[:, :, None] - offset[:, :, None]).reshape(n, k)
    else:
        _, packed, d, y0 = inputs(t, n, k)
        c = (codes(packed) - 8).reshape(n, k // 32, 32)
        d64 = d.astype(np.float64)
        # Exact integer sums per (token, group, row), then both scales.
        sums = np.einsum("tgj,ngj->tgn", q, c)
        rounded = np.einsum("tg,ng,tgn->tn", a64, d64, sums)
        weights = (c * d64[:, :, None]).reshape(n, k)
    exact = x.astype(np.float64) @ weights.T
    want = y0.astype(np.float64) + (exact if floats else rounded)
    got = blocks[0].reshape(t, n)
    scale = np.max(np.abs(want))
    err = np.max(np.abs(got - want)) / scale
    err1 = np.max(np.abs(blocks[1].reshape(1, n) - (want[:1] - y0[:1]))) / scale
    # The other side's rounding, which the test must see.
    other = np.max(np.abs(exact - rounded)) / scale
    print(f"{label}: relative error {err:.3g} (decode {err1:.3g}; "
          f"activation rounding {other:.3g})")
    if not (err <= 1e-5 and err1 <= 1e-5 and other > 1e-3):
        sys.exit(f"{label}: FAIL")
    print(f"{label}: OK")


if __name__ == "__main__":
    mode = sys.argv[1]
    t, n, k = (int(v) for v in sys.argv[2:5])
    flags = sys.argv[5:]
    bits = next((int(f[1]) for f in flags if f in ("q5", "q6", "q8")), 4)
    if mode == "emit":
        emit(t, n, k, "q4k" in flags, bits, "q6k" in flags, "q5k" in flags)
    else:
        check(t, n, k, "float" in flags, "q4k" in flags, bits, sys.stdin.read(),
              "q6k" in flags, "q5k" in flags)
