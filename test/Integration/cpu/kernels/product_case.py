"""Shared pieces of the product execution cases (int8_dot_case.py,
float_product_case.py): a product as the model builders write it (a
linalg.generic over (n, t, k) marked seq.parallel: y[t, n] += x[t, k] *
w'[n, k], w' the weight converted in the body), a module that runs it as a
prefill product (a dynamic token count, onto y0) and as a decode product
(the first token, onto zeros) and prints both results, and the parser of
what it prints.
"""

import re

import numpy as np


def dense(a, elt):
    def fmt(v):
        return str(int(v)) if elt.startswith("i") else repr(float(v))
    rows = ", ".join("[" + ", ".join(fmt(v) for v in r) + "]" for r in a)
    return f"dense<[{rows}]>"


def product_func(name, rows, n, k, wtype, convert, mul, add):
    """`rows` tokens (? or 1); `convert` turns the weight %b into %bf (or
    is empty for f32 weights, whose %b is used as is); `mul` and `add` are
    the operands of the body's multiply and add, in that order."""
    x, w, y = f"memref<{rows}x{k}xf32>", f"memref<{n}x{k}x{wtype}>", f"memref<{rows}x{n}xf32>"
    return f"""func.func @{name}(%x: {x}, %w: {w}, %y: {y}) {{
  linalg.generic {{indexing_maps = [#x, #w, #y], iterator_types = ["parallel", "parallel", "reduction"]}}
      ins(%x, %w : {x}, {w}) outs(%y : {y})
      attrs = {{seq.parallel}} {{
  ^bb0(%a: f32, %b: {wtype}, %acc: f32):
    {convert}
    %p = arith.mulf {mul} fastmath<reassoc,contract> : f32
    %s = arith.addf {add} fastmath<reassoc,contract> : f32
    linalg.yield %s : f32
  }}
  return
}}"""


def module(x, w, y0, wtype, prefill, decode, maps="#w = affine_map<(n, t, k) -> (n, k)>",
           extra=()):
    """The test module: globals x [T, K] f32, w [N, K] `wtype` (any shape:
    its element type is `wtype`), y0 [T, N] f32 and `extra` weight operands
    ((name, array, element type) after w), the functions `prefill`
    (@product) and `decode` (@decode) taking (x, w, extra..., y), and a
    @main that prints y0 + x·w'ᵀ, then x[0]·w'ᵀ. `maps` defines the weight
    operands' affine maps."""
    t, k = x.shape
    n = y0.shape[1]

    def mtype(a, elt):
        return "memref<" + "x".join(str(d) for d in a.shape) + f"x{elt}>"
    weights = [("w", w, wtype)] + list(extra)
    globals_ = "\n".join(f'memref.global "private" constant @{name} : {mtype(a, elt)} = '
                          f"{dense(a, elt)}" for name, a, elt in weights)
    gets = "\n".join(f"  %{name} = memref.get_global @{name} : {mtype(a, elt)}"
                      for name, a, elt in weights)
    args = ", ".join(f"%{name}" for name, _, _ in weights)
    types = ", ".join(mtype(a, elt) for _, a, elt in weights)
    return f"""#x = affine_map<(n, t, k) -> (t, k)>
{maps}
#y = affine_map<(n, t, k) -> (t, n)>
memref.global "private" constant @x : memref<{t}x{k}xf32> = {dense(x, "f32")}
{globals_}
memref.global "private" constant @y0 : memref<{t}x{n}xf32> = {dense(y0, "f32")}
func.func private @printMemrefF32(memref<*xf32>)
{prefill}
{decode}
func.func @main() {{
  %x = memref.get_global @x : memref<{t}x{k}xf32>
{gets}
  %y0 = memref.get_global @y0 : memref<{t}x{n}xf32>
  %y = memref.alloc() : memref<{t}x{n}xf32>
  memref.copy %y0, %y : memref<{t}x{n}xf32> to memref<{t}x{n}xf32>
  %xd = memref.cast %x : memref<{t}x{k}xf32> to memref<?x{k}xf32>
  %yd = memref.cast %y : memref<{t}x{n}xf32> to memref<?x{n}xf32>
  call @product(%xd, {args}, %yd) : (memref<?x{k}xf32>, {types}, memref<?x{n}xf32>) -> ()
  %u = memref.cast %y : memref<{t}x{n}xf32> to memref<*xf32>
  call @printMemrefF32(%u) : (memref<*xf32>) -> ()
  %x1 = memref.subview %x[0, 0] [1, {k}] [1, 1] : memref<{t}x{k}xf32> to memref<1x{k}xf32, strided<[{k}, 1]>>
  %x1c = memref.alloc() : memref<1x{k}xf32>
  memref.copy %x1, %x1c : memref<1x{k}xf32, strided<[{k}, 1]>> to memref<1x{k}xf32>
  %y1 = memref.alloc() : memref<1x{n}xf32>
  %zero = arith.constant 0.0 : f32
  linalg.fill ins(%zero : f32) outs(%y1 : memref<1x{n}xf32>)
  call @decode(%x1c, {args}, %y1) : (memref<1x{k}xf32>, {types}, memref<1x{n}xf32>) -> ()
  %u1 = memref.cast %y1 : memref<1x{n}xf32> to memref<*xf32>
  call @printMemrefF32(%u1) : (memref<*xf32>) -> ()
  return
}}"""


def printed(text):
    """The arrays printMemrefF32 printed, in order."""
    number = r"-?(?:nan|inf|\d+(?:\.\d*)?(?:e[-+]?\d+)?)"
    return [np.array([float(v) for v in re.findall(number, s.split("data =", 1)[1])])
            for s in text.split("Unranked Memref")[1:]]
