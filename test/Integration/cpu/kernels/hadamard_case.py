"""seq.hadamard compiled for the CPU, applied to the identity: the printed
rows are the rotation matrix itself. Checks: entries are +-1/sqrt(n), rows
orthonormal (H H^T = I), transpose=true gives the transpose, and for a power
of two the matrix is Sylvester's (numpy, independently built). Also a
random [3, 2n] input with two blocks against the recovered matrix, and its
every other column (a view with stride 2) rotated as one block.

    hadamard_case.py emit N > case.mlir
    hadamard_case.py check N < printed.txt
"""

import re
import sys

import numpy as np


def sylvester(n):
    h = np.ones((1, 1))
    while h.shape[0] < n:
        h = np.block([[h, h], [h, -h]])
    return h


def random_input(n):
    return np.random.default_rng(n).uniform(-1, 1, (3, 2 * n)).astype(np.float32)


def dense(x):
    rows = ", ".join("[" + ", ".join(repr(float(v)) for v in r) + "]" for r in x)
    return f"dense<[{rows}]> : tensor<{x.shape[0]}x{x.shape[1]}xf32>"


def emit(n):
    eye = np.eye(n, dtype=np.float32)
    x = random_input(n)
    print(f"""func.func private @printMemrefF32(memref<*xf32>)
func.func @show(%t: tensor<?x?xf32>) {{
  %b = bufferization.to_buffer %t : tensor<?x?xf32> to memref<?x?xf32>
  %u = memref.cast %b : memref<?x?xf32> to memref<*xf32>
  call @printMemrefF32(%u) : (memref<*xf32>) -> ()
  return
}}
func.func @main() {{
  %i = arith.constant {dense(eye)}
  %x = arith.constant {dense(x)}
  %h = seq.hadamard %i : tensor<{n}x{n}xf32>
  %ht = seq.hadamard %i {{transpose = true}} : tensor<{n}x{n}xf32>
  %y = seq.hadamard %x {{block_size = {n} : i64}} : tensor<3x{2 * n}xf32>
  %xs = tensor.extract_slice %x[0, 0] [3, {n}] [1, 2] : tensor<3x{2 * n}xf32> to tensor<3x{n}xf32>
  %ys = seq.hadamard %xs : tensor<3x{n}xf32>
  %a = tensor.cast %h : tensor<{n}x{n}xf32> to tensor<?x?xf32>
  %b = tensor.cast %ht : tensor<{n}x{n}xf32> to tensor<?x?xf32>
  %c = tensor.cast %y : tensor<3x{2 * n}xf32> to tensor<?x?xf32>
  %d = tensor.cast %ys : tensor<3x{n}xf32> to tensor<?x?xf32>
  call @show(%a) : (tensor<?x?xf32>) -> ()
  call @show(%b) : (tensor<?x?xf32>) -> ()
  call @show(%c) : (tensor<?x?xf32>) -> ()
  call @show(%d) : (tensor<?x?xf32>) -> ()
  return
}}""")


def check(n, text):
    number = r"-?(?:nan|inf|\d+(?:\.\d*)?(?:e[-+]?\d+)?)"
    blocks = [np.array([float(v) for v in re.findall(number, b.split("data =", 1)[1])])
              for b in text.split("Unranked Memref")[1:]]
    # Row i of the printed result is H applied to e_i: column i of c*H.
    m = blocks[0].reshape(n, n).T
    mt = blocks[1].reshape(n, n).T
    c = 1 / np.sqrt(n)
    errors = {
        "entries": np.max(np.abs(np.abs(m) - c)),
        "orthonormal": np.max(np.abs(m @ m.T - np.eye(n))),
        "transpose": np.max(np.abs(mt - m.T)),
    }
    if n & (n - 1) == 0:
        errors["sylvester"] = np.max(np.abs(m - sylvester(n) * c))
    x = random_input(n).astype(np.float64)
    want = np.concatenate([x[:, :n] @ m.T, x[:, n:] @ m.T], axis=1)
    errors["blocks"] = np.max(np.abs(blocks[2].reshape(3, 2 * n) - want))
    errors["strided"] = np.max(np.abs(blocks[3].reshape(3, n) - x[:, ::2] @ m.T))
    for k, v in errors.items():
        print(f"order {n} {k}: max error {v:.3g}")
    if not all(v <= 1e-5 for v in errors.values()):
        sys.exit(f"order {n}: FAIL")
    print(f"order {n}: OK")


if __name__ == "__main__":
    mode, n = sys.argv[1], int(sys.argv[2])
    emit(n) if mode == "emit" else check(n, sys.stdin.read())
