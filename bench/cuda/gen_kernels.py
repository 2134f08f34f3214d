"""Writes the CUDA benchmark's kernel module (bench/cuda/run.sh).

    gen_kernels.py OUT.mlir [--rows R] [--cols C] [--copy-floats N]
                   [--tokens T] [--width C]
    gen_kernels.py OUT.mlir --model MODEL [--weights f32|f16|i8]   (MODELS below)

- `copy`: dst[i] = src[i] over N float32 (default 2^28: 1 GiB each way),
  1024 threads per block, four floats per thread in one 16-byte load and
  store (`vector.load`/`vector.store` with alignment 16: ld.global.v4.f32):
  the device's copy bandwidth, the reference the products are compared
  with. (One float per thread reached about half of it on an H200.)
- `matvec_f32`, `matvec_f16`, `matvec_i8`: the decode products of
  lib/Target/GPU/kernels/decode.mlir, taken from that file unchanged but for
  the shape, R x C (default 16384 x 8192: 512, 256 and 128 MiB of weights,
  each far larger than an H200's 50 MiB L2, so every launch streams its
  weights from HBM).
- `matmul_f32`, `matmul_f16`, `matmul_i8`: the tiled prefill products
  (lib/Target/GPU/kernels/prefill.py, which writes prefill.mlir) at
  T x C x C (tokens x width x width; default 2048 x 4096 x 4096: 68.7
  GFLOP a launch, 512 blocks), timed as FLOP/s; `matmul_f16_mma`, the
  tensor-core product of lib/Target/CUDA/kernels/prefill_mma.py, at the
  same shape.
- `fma_peak`: the FP32 rate the products are compared with: 16 blocks per
  SM of an H200 (2112) x 256 threads, each 4096 rounds of 8 independent
  fused multiply-adds (2 FLOP each), the sums stored so nothing is dropped.

With --model, the module is instead the large products of one decode step
of RWKV-7 1.5B or LLaMA 1B (MODELS below), one kernel per product with its
own weights, which `seqc-cuda-run --sequence` launches in order.
"""

import argparse
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(
    __file__))))
DECODE = os.path.join(ROOT, "lib", "Target", "GPU", "kernels", "decode.mlir")
PREFILL = os.path.join(ROOT, "lib", "Target", "GPU", "kernels",
                       "prefill.py")
PREFILL_MMA = os.path.join(ROOT, "lib", "Target", "CUDA", "kernels",
                           "prefill_mma.py")

FMA_BLOCKS, FMA_ROUNDS = 2112, 4096

# The large products of one decode step (rows x columns, in launch order)
# of two model shapes; the low-rank and elementwise work, the WKV and the
# attention are not in them.
MODELS = {
    # RWKV-7 1.5B: 24 layers of width 2048, FFN 8192, vocabulary 65536.
    "rwkv7-1.5b": [(f"l{l}_{n}", r, c) for l in range(24) for n, r, c in (
        ("att_r", 2048, 2048), ("att_k", 2048, 2048), ("att_v", 2048, 2048),
        ("att_o", 2048, 2048), ("ffn_key", 8192, 2048),
        ("ffn_value", 2048, 8192))] + [("head", 65536, 2048)],
    # LLaMA 1B (Llama-3.2-1B's shapes): 16 layers of width 2048, 8 KV heads
    # of 64, FFN 8192, vocabulary 128256.
    "llama-1b": [(f"l{l}_{n}", r, c) for l in range(16) for n, r, c in (
        ("q", 2048, 2048), ("k", 512, 2048), ("v", 512, 2048),
        ("o", 2048, 2048), ("gate", 8192, 2048), ("up", 8192, 2048),
        ("down", 2048, 8192))] + [("head", 128256, 2048)],
    # The same steps with the products that read one input fused into one
    # launch (RWKV-7: r, k, v; LLaMA: q, k, v and gate, up): what a
    # schedule that concatenates those weights would launch.
    "rwkv7-1.5b-fused": [(f"l{l}_{n}", r, c) for l in range(24) for n, r, c in (
        ("att_rkv", 6144, 2048), ("att_o", 2048, 2048),
        ("ffn_key", 8192, 2048), ("ffn_value", 2048, 8192))] +
    [("head", 65536, 2048)],
    "llama-1b-fused": [(f"l{l}_{n}", r, c) for l in range(16) for n, r, c in (
        ("qkv", 3072, 2048), ("o", 2048, 2048), ("gate_up", 16384, 2048),
        ("down", 2048, 8192))] + [("head", 128256, 2048)],
}

COPY = """
func.func @copy(%src: memref<{n}xf32>, %dst: memref<{n}xf32>) {{
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c4 = arith.constant 4 : index
  %c1024 = arith.constant 1024 : index
  %cblocks = arith.constant {blocks} : index
  scf.parallel (%b) = (%c0) to (%cblocks) step (%c1) {{
    scf.parallel (%t) = (%c0) to (%c1024) step (%c1) {{
      %base = arith.muli %b, %c1024 : index
      %q = arith.addi %base, %t : index
      %i = arith.muli %q, %c4 : index
      %v = vector.load %src[%i] {{alignment = 16}} : memref<{n}xf32>, vector<4xf32>
      vector.store %v, %dst[%i] {{alignment = 16}} : memref<{n}xf32>, vector<4xf32>
    }} {{mapping = [#threads]}}
  }} {{mapping = [#blocks]}}
  return
}}
"""


def matvec_functions(text, rows, cols):
    """decode.mlir's products with R x C in place of 512 x 256: the weight
    memref 512 x N (N words a row: 256 f32, 128 pairs of f16, 64 quads of
    int8) becomes R x N * C / 256, the vectors 256 and 512 become C and R,
    and so do the constants %rows and %words the loops are bounded by."""
    out = []
    for m in re.finditer(r"^func\.func @matvec_\w+\(.*?^}\n", text,
                         re.M | re.S):
        f = m.group(0)
        # One pass each, so a new size is never taken for an old one.
        f = re.sub(r"memref<512x(\d+)x(\w+)>",
                   lambda t: f"memref<{rows}x{int(t.group(1)) * cols // 256}"
                             f"x{t.group(2)}>", f)
        f = re.sub(r"memref<(256|512)xf32>",
                   lambda t: f"memref<{cols if t.group(1) == '256' else rows}"
                             "xf32>", f)
        f = re.sub(r"(%rows = arith\.constant )512\b", rf"\g<1>{rows}", f)
        f = re.sub(r"(%words = arith\.constant )(\d+)\b",
                   lambda t: f"{t.group(1)}{int(t.group(2)) * cols // 256}", f)
        out.append(f)
    if len(out) != 3:
        sys.exit(f"gen_kernels.py: expected 3 matvec functions in {DECODE}, "
                 f"found {len(out)}")
    return out


FMA = """
func.func @fma_peak(%y: memref<{n}xf32>) {{
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c256 = arith.constant 256 : index
  %cblocks = arith.constant {blocks} : index
  %rounds = arith.constant {rounds} : index
  %a = arith.constant 0.999 : f32
  %b = arith.constant 0.001 : f32
  scf.parallel (%blk) = (%c0) to (%cblocks) step (%c1) {{
    scf.parallel (%t) = (%c0) to (%c256) step (%c1) {{
      %base = arith.muli %blk, %c256 : index
      %i = arith.addi %base, %t : index
      %ii = arith.index_cast %i : index to i32
      %f = arith.sitofp %ii : i32 to f32
{init}
      %r:8 = scf.for %k = %c0 to %rounds step %c1 iter_args({args}) -> ({types}) {{
{body}
        scf.yield {yields} : {types}
      }}
{total}
      memref.store %s7, %y[%i] : memref<{n}xf32>
    }} {{mapping = [#threads]}}
  }} {{mapping = [#blocks]}}
  return
}}
"""


def fma_function():
    init = "\n".join(f"      %v{j} = arith.addf %f, %b{'' if j == 0 else ''} : f32"
                     if j == 0 else
                     f"      %v{j} = arith.addf %v{j - 1}, %b : f32"
                     for j in range(8))
    args = ", ".join(f"%p{j} = %v{j}" for j in range(8))
    body = "\n".join(f"        %q{j} = math.fma %p{j}, %a, %b : f32"
                     for j in range(8))
    yields = ", ".join(f"%q{j}" for j in range(8))
    total = "\n".join(["      %s0 = arith.addf %r#0, %r#1 : f32"] +
                      [f"      %s{j - 1} = arith.addf %s{j - 2}, %r#{j} : f32"
                       for j in range(2, 8)] +
                      ["      %s7 = arith.addf %s6, %f : f32"])
    return FMA.format(n=FMA_BLOCKS * 256, blocks=FMA_BLOCKS,
                      rounds=FMA_ROUNDS, init=init, args=args, body=body,
                      yields=yields, types=", ".join(["f32"] * 8),
                      total=total)


def matmul_functions(tokens, width):
    """prefill.py's products and prefill_mma.py's at tokens x width x
    width."""
    sys.path.insert(0, os.path.dirname(PREFILL))
    sys.path.insert(0, os.path.dirname(PREFILL_MMA))
    import prefill
    import prefill_mma
    return [prefill.kernel(kind, tokens, width, width)
            for kind in ("f32", "f16", "i8")] + [
                prefill_mma.kernel(tokens, width, width)]


def model_functions(text, model, kind):
    """One function per product of `model`'s decode step: decode.mlir's
    matvec_KIND at that product's shape, named after it."""
    out = []
    for name, rows, cols in MODELS[model]:
        f = [g for g in matvec_functions(text, rows, cols)
             if g.startswith(f"func.func @matvec_{kind}(")][0]
        out.append(f.replace(f"@matvec_{kind}(", f"@{name}(", 1))
    return out


def main():
    p = argparse.ArgumentParser()
    p.add_argument("out")
    p.add_argument("--rows", type=int, default=16384)
    p.add_argument("--cols", type=int, default=8192)
    p.add_argument("--copy-floats", type=int, default=1 << 28)
    p.add_argument("--tokens", type=int, default=2048)
    p.add_argument("--width", type=int, default=4096)
    p.add_argument("--model", choices=sorted(MODELS),
                   help="write the products of one decode step of this "
                   "model instead (one kernel each, each its own weights)")
    p.add_argument("--weights", choices=("f32", "f16", "i8"), default="f16")
    a = p.parse_args()
    if a.cols % 4 or a.copy_floats % 4096:
        sys.exit("gen_kernels.py: --cols must be a multiple of 4 and "
                 "--copy-floats of 4096")
    if a.tokens % 128 or a.width % 128:
        sys.exit("gen_kernels.py: --tokens and --width must be multiples of "
                 "128")
    text = open(DECODE).read()
    header = "\n".join(l for l in text.splitlines()
                       if l.startswith("#blocks") or l.startswith("#threads")
                       or l.startswith("#workgroup"))
    if a.model:
        with open(a.out, "w") as f:
            f.write(f"// Generated by bench/cuda/gen_kernels.py --model {a.model} "
                    f"--weights {a.weights}.\n")
            f.write(header + "\n\nmodule {\n")
            for fn in model_functions(text, a.model, a.weights):
                f.write("\n" + fn)
            f.write("}\n")
        return
    body = matvec_functions(text, a.rows, a.cols)
    with open(a.out, "w") as f:
        f.write("// Generated by bench/cuda/gen_kernels.py from "
                "lib/Target/GPU/kernels/decode.mlir and prefill.py.\n")
        f.write(header + "\n\nmodule {\n")
        f.write(COPY.format(n=a.copy_floats, blocks=a.copy_floats // 4096))
        for fn in body:
            f.write("\n" + fn)
        for fn in matmul_functions(a.tokens, a.width):
            f.write(fn)
        f.write(fma_function())
        f.write("}\n")


if __name__ == "__main__":
    main()
