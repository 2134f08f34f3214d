"""Runs spirv-val on every kernel of a Vulkan artifact's kernels.bin (and on
each kernel's fallback, where it has one).

  spirv_val_all.py ARTIFACT_DIR ENV...

Each ENV is a spirv-val --target-env (vulkan1.1, vulkan1.3). Prints
"N kernels valid for ENV,..." or the first failure (exit status 1).
"""

import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "..", "reference"))
import kernels_file  # noqa: E402


def main():
    magic, manifest, code = kernels_file.read(sys.argv[1])
    envs = sys.argv[2:]
    if magic != "SEQCSPV1":
        print(f"{sys.argv[1]}: not a Vulkan artifact")
        return 1
    kernels = {}
    for name in manifest.get("kernels", "").split():
        fields = kernels_file.kernel_fields(manifest, name)
        kernels[name] = kernels_file.code_range(code, fields, "spirv")
        # Its twin without subgroup operations, where it has one.
        if "fallback_spirv" in fields:
            kernels[name + ".fallback"] = kernels_file.code_range(
                code, fields, "fallback_spirv")
    if not kernels:
        print(f"{sys.argv[1]}: no kernels")
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
