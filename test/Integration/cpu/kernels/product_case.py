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


def module(x, w, y0, wtype, prefill, decode):
    """The test module: globals x [T, K] f32, w [N, K] `wtype`, y0 [T, N]
    f32, the functions `prefill` (@product) and `decode` (@decode) from
    product_func, and a @main that prints y0 + x·w'ᵀ, then x[0]·w'ᵀ."""
    t, k = x.shape
    n = w.shape[0]
    return f"""#x = affine_map<(n, t, k) -> (t, k)>
#w = affine_map<(n, t, k) -> (n, k)>
#y = affine_map<(n, t, k) -> (t, n)>
memref.global "private" constant @x : memref<{t}x{k}xf32> = {dense(x, "f32")}
memref.global "private" constant @w : memref<{n}x{k}x{wtype}> = {dense(w, wtype)}
memref.global "private" constant @y0 : memref<{t}x{n}xf32> = {dense(y0, "f32")}
func.func private @printMemrefF32(memref<*xf32>)
{prefill}
{decode}
func.func @main() {{
  %x = memref.get_global @x : memref<{t}x{k}xf32>
  %w = memref.get_global @w : memref<{n}x{k}x{wtype}>
  %y0 = memref.get_global @y0 : memref<{t}x{n}xf32>
  %y = memref.alloc() : memref<{t}x{n}xf32>
  memref.copy %y0, %y : memref<{t}x{n}xf32> to memref<{t}x{n}xf32>
  %xd = memref.cast %x : memref<{t}x{k}xf32> to memref<?x{k}xf32>
  %yd = memref.cast %y : memref<{t}x{n}xf32> to memref<?x{n}xf32>
  call @product(%xd, %w, %yd) : (memref<?x{k}xf32>, memref<{n}x{k}x{wtype}>, memref<?x{n}xf32>) -> ()
  %u = memref.cast %y : memref<{t}x{n}xf32> to memref<*xf32>
  call @printMemrefF32(%u) : (memref<*xf32>) -> ()
  %x1 = memref.subview %x[0, 0] [1, {k}] [1, 1] : memref<{t}x{k}xf32> to memref<1x{k}xf32, strided<[{k}, 1]>>
  %x1c = memref.alloc() : memref<1x{k}xf32>
  memref.copy %x1, %x1c : memref<1x{k}xf32, strided<[{k}, 1]>> to memref<1x{k}xf32>
  %y1 = memref.alloc() : memref<1x{n}xf32>
  %zero = arith.constant 0.0 : f32
  linalg.fill ins(%zero : f32) outs(%y1 : memref<1x{n}xf32>)
  call @decode(%x1c, %w, %y1) : (memref<1x{k}xf32>, memref<{n}x{k}x{wtype}>, memref<1x{n}xf32>) -> ()
  %u1 = memref.cast %y1 : memref<1x{n}xf32> to memref<*xf32>
  call @printMemrefF32(%u1) : (memref<*xf32>) -> ()
  return
}}"""


def printed(text):
    """The arrays printMemrefF32 printed, in order."""
    number = r"-?(?:nan|inf|\d+(?:\.\d*)?(?:e[-+]?\d+)?)"
    return [np.array([float(v) for v in re.findall(number, s.split("data =", 1)[1])])
            for s in text.split("Unranked Memref")[1:]]
