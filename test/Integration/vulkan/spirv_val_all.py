"""Runs spirv-val on every kernel of a Vulkan artifact's kernels.bin.

  spirv_val_all.py ARTIFACT_DIR ENV...

Each ENV is a spirv-val --target-env (vulkan1.1, vulkan1.3). Prints
"N kernels valid for ENV,..." or the first failure (exit status 1).
"""

import os
import subprocess
import sys
import tempfile


def main():
    path = os.path.join(sys.argv[1], "kernels.bin")
    envs = sys.argv[2:]
    data = open(path, "rb").read()
    nl = data.index(b"\n")
    magic, size = data[:nl].split(b" ")
    if magic != b"SEQCSPV1":
        print(f"{path}: not a Vulkan kernels file")
        return 1
    text = data[nl + 1:nl + 1 + int(size)].decode()
    code = data[(nl + 1 + int(size) + 15) // 16 * 16:]
    kernels = {}
    for line in text.splitlines():
        key, _, value = line.partition(" ")
        if key.startswith("kernel."):
            fields = dict(f.split("=", 1) for f in value.split(" "))
            offset, length = map(int, fields["spirv"].split("+"))
            kernels[key[len("kernel."):]] = code[offset:offset + length]
    if not kernels:
        print(f"{path}: no kernels")
        return 1
    with tempfile.TemporaryDirectory() as tmp:
        for name, spirv in kernels.items():
            spv = os.path.join(tmp, name + ".spv")
            with open(spv, "wb") as f:
                f.write(spirv)
            for env in envs:
                r = subprocess.run(["spirv-val", "--target-env", env, spv],
                                   capture_output=True, text=True)
                if r.returncode:
                    print(f"kernel {name}: spirv-val --target-env {env}: "
                          f"{r.stdout}{r.stderr}")
                    return 1
    print(f"{len(kernels)} kernels valid for {','.join(envs)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
