"""seq.quantize / seq.dequantize compiled for the CPU against the numpy
reference (test/reference/quant_ref.py), storage bytes included.

    quant_case.py emit  VARIANT > ops.mlir          @quant and @dequant (seq ops)
    quant_case.py main  VARIANT < lowered.mlir      the lowered module plus a @main
    quant_case.py check VARIANT < printed.txt

The two functions are lowered first (convert-seq-to-linalg), so that their
codes cross the function boundary as the packed storage bytes; @main, added
to the lowered module, calls them on constant data and prints the bytes,
the scales, the minima and the dequantized tensor. Bytes must match the
reference's packing exactly (so the codes do: they are unpacked from them
and compared too), parameters and dequantized values to TOL (printMemrefF32
prints six significant digits; the arithmetic is the reference's). Each
case has a line of inputs that fall exactly half-way between two codes
(rounded away from zero) and a line whose groups have a zero range (scale 1).
"""

import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "..", "reference"))
import quant_ref  # noqa: E402

sys.path.insert(0, os.path.dirname(__file__))
from wkv_case import parse_printed  # noqa: E402

F32 = np.float32
TOL = 1e-5  # relative to 1 + |value|

# name: (shape, bits, group, axis, symmetric, scale type)
VARIANTS = {
    "asym4": ((3, 16), 4, 8, 1, False, "f32"),
    "asym3_pad": ((4, 20), 3, 10, 1, False, "f32"),
    "sym2_axis0": ((8, 12), 2, 4, 0, True, "f32"),
    "sym8": ((2, 32), 8, 16, 1, True, "f32"),
    "asym4_f16": ((4, 16), 4, 8, 1, False, "f16"),
    "sym3_axis0_f16": ((6, 13), 3, 3, 0, True, "f16"),
}


def case(variant, seed):
    shape, bits, group, axis, sym, st = VARIANTS[variant]
    rng = np.random.default_rng(seed)
    x = rng.normal(0.0, 2.0, shape).astype(F32)
    xt = np.moveaxis(x, axis, 0)  # lines along the quantization axis: xt[:, j]
    n = shape[axis]
    # Line 0: integers with every group spanning the grid at scale 2, so odd
    # values land half-way between two codes.
    top = 2 * (2 ** (bits - 1) - 1) if sym else 2 * (2 ** bits - 1)
    lo = -top if sym else 0
    line = rng.integers(lo, top + 1, n).astype(F32)
    for g in range(0, n, group):
        line[g], line[g + 1] = F32(top), F32(lo)
    xt[:, 0] = line
    # Line 1: groups with a zero range.
    xt[:, 1] = F32(0.0 if sym else 1.25)
    return np.ascontiguousarray(x)


def types(variant):
    shape, bits, group, axis, sym, st = VARIANTS[variant]
    enc = (f"#seq.quant<bits = {bits}, group = {group}, axis = {axis}, "
           f"{'symmetric' if sym else 'asymmetric'}{'' if st == 'f32' else ', scale = ' + st}>")
    dims = "x".join(map(str, shape))
    pshape = list(shape)
    pshape[axis] //= group
    pdims = "x".join(map(str, pshape))
    codes = f"tensor<{dims}xi{bits}, {enc}>"
    param = f"tensor<{pdims}x{st}>"
    packed = f"tensor<{shape[0]}x{(shape[1] + 7) // 8 * bits}xi8>"
    return f"tensor<{dims}xf32>", codes, param, packed, sym


def emit(variant):
    real, codes, param, _, sym = types(variant)
    params = [param] if sym else [param, param]
    names = ["%s"] if sym else ["%s", "%m"]
    print(f"func.func @quant(%x: {real}) -> ({', '.join([codes] + params)}) {{")
    print(f"  %q, {', '.join(names)} = seq.quantize %x : {real} -> {', '.join([codes] + params)}")
    print(f"  return %q, {', '.join(names)} : {', '.join([codes] + params)}")
    print("}")
    args = ", ".join(f"{n}: {t}" for n, t in zip(["%q"] + names, [codes] + params))
    print(f"func.func @dequant({args}) -> {real} {{")
    print(f"  %x = seq.dequantize %q, {', '.join(names)} : {', '.join([codes] + params)} -> {real}")
    print(f"  return %x : {real}")
    print("}")


def dense(a):
    def fmt(v):
        return "[" + ", ".join(fmt(e) for e in v) + "]" if isinstance(v, list) else repr(float(v))
    return f"dense<{fmt(a.tolist())}> : tensor<{'x'.join(map(str, a.shape))}xf32>"


def to_f32_func(name, elt, conv):
    return f"""
func.func @{name}(%t: tensor<?x?x{elt}>) {{
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %d0 = tensor.dim %t, %c0 : tensor<?x?x{elt}>
  %d1 = tensor.dim %t, %c1 : tensor<?x?x{elt}>
  %e = tensor.empty(%d0, %d1) : tensor<?x?xf32>
  %f = linalg.generic {{indexing_maps = [affine_map<(i, j) -> (i, j)>, affine_map<(i, j) -> (i, j)>],
                       iterator_types = ["parallel", "parallel"]}}
      ins(%t : tensor<?x?x{elt}>) outs(%e : tensor<?x?xf32>) {{
  ^bb0(%a: {elt}, %o: f32):
    {conv}
    linalg.yield %r : f32
  }} -> tensor<?x?xf32>
  call @print(%f) : (tensor<?x?xf32>) -> ()
  return
}}"""


def main_module(variant, lowered, x):
    real, _, param, packed, sym = types(variant)
    st = VARIANTS[variant][5]
    body = lowered.rstrip()
    assert body.endswith("}"), "expected a module"
    ptypes = [param.replace(f"x{st}>", f"x{st}>")] * (1 if sym else 2)
    res = ["%p", "%s"] + ([] if sym else ["%m"])
    out = [body[:-1],
           "func.func private @printMemrefF32(memref<*xf32>)",
           "func.func @print(%m: tensor<?x?xf32>) {",
           "  %b = bufferization.to_buffer %m : tensor<?x?xf32> to memref<?x?xf32>",
           "  %u = memref.cast %b : memref<?x?xf32> to memref<*xf32>",
           "  call @printMemrefF32(%u) : (memref<*xf32>) -> ()",
           "  return", "}",
           to_f32_func("print_i8", "i8", "%r = arith.uitofp %a : i8 to f32"),
           to_f32_func("print_f16", "f16", "%r = arith.extf %a : f16 to f32"),
           "func.func @main() {",
           f"  %x = arith.constant {dense(x)}",
           f"  {', '.join(res)} = call @quant(%x) : ({real}) -> ({', '.join([packed] + ptypes)})",
           f"  %d = call @dequant({', '.join(res)}) : ({', '.join([packed] + ptypes)}) -> {real}"]
    def show(v, t, fn):
        return [f"  {v}_c = tensor.cast {v} : {t} to tensor<?x?x{t.split('x')[-1]}",
                f"  call @{fn}({v}_c) : (tensor<?x?x{t.split('x')[-1]}) -> ()"]
    out += show("%p", packed, "print_i8")
    for v in res[1:]:
        out += show(v, param, "print" if st == "f32" else "print_f16")
    out += show("%d", real, "print")
    out += ["  return", "}", "}"]
    print("\n".join(out))


def check(variant, x, text):
    shape, bits, group, axis, sym, st = VARIANTS[variant]
    printed = parse_printed(text)
    want = 3 if sym else 4
    if len(printed) != want:
        sys.exit(f"expected {want} printed tensors, got {len(printed)}")
    codes, s, m = quant_ref.quantize(x, bits, group, axis, sym, st)
    ref_packed = quant_ref.pack(codes, bits, sym)
    ref_deq = quant_ref.dequantize(codes, s, m, bits, group, axis)
    got_packed = printed[0].astype(np.int64)
    failures = []
    same_bytes = got_packed.size == ref_packed.size and np.array_equal(
        got_packed, ref_packed.reshape(-1))
    got_codes = quant_ref.unpack(got_packed.reshape(ref_packed.shape).astype(np.uint8),
                                 shape[1], bits, sym) if got_packed.size == ref_packed.size else None
    wrong_codes = -1 if got_codes is None else int(np.count_nonzero(got_codes != codes))
    g = quant_ref._grouped(x, group, axis)
    sx = np.expand_dims(s.astype(F32), axis + 1)
    mx = 0 if m is None else np.expand_dims(m.astype(F32), axis + 1)
    ratio = ((g - mx) / sx).astype(F32)
    ties = int(np.count_nonzero(np.abs(ratio - np.trunc(ratio)) == 0.5))
    print(f"{variant}: {ref_packed.size} bytes {'equal' if same_bytes else 'DIFFER'}; "
          f"{codes.size} codes, {wrong_codes} differ; {ties} half-way inputs")
    if not same_bytes or wrong_codes != 0:
        failures.append("storage")
    checks = [("scales", printed[1], s.astype(np.float64))]
    if not sym:
        checks.append(("minima", printed[2], m.astype(np.float64)))
    checks.append(("dequantized", printed[-1], ref_deq.astype(np.float64)))
    for name, got, ref in checks:
        ref = ref.reshape(-1)
        err = np.max(np.abs(got - ref) / (1 + np.abs(ref))) if got.size == ref.size else np.inf
        print(f"{variant} {name}: max error {err:.3g} (tolerance {TOL:g})")
        if not err <= TOL:
            failures.append(name)
    if ties == 0:
        failures.append("no half-way inputs in the case")
    if failures:
        sys.exit(f"{variant}: wrong {failures}")
    print(f"{variant}: OK")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("mode", choices=["emit", "main", "check"])
    p.add_argument("variant", choices=sorted(VARIANTS))
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args()
    x = case(a.variant, a.seed)
    if a.mode == "emit":
        emit(a.variant)
    elif a.mode == "main":
        main_module(a.variant, sys.stdin.read(), x)
    else:
        check(a.variant, x, sys.stdin.read())


if __name__ == "__main__":
    main()
