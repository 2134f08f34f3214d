"""Reads a GPU target's kernels.bin (seqc/artifact.h) without seqc.

    read(ARTIFACT_DIR) -> (magic, manifest, code)

magic is SEQCSPV1 (Vulkan) or SEQCCUB1 (CUDA); manifest maps each key to
its value; code is the bytes after the manifest's padding, which the
kernel.NAME entries' ranges ("spirv=O+N", "cubin=O+N", "ptx=O+N") index.
"""

import os


def read(directory):
    data = open(os.path.join(directory, "kernels.bin"), "rb").read()
    nl = data.index(b"\n")
    magic, size = data[:nl].split(b" ")
    size = int(size)
    text = data[nl + 1:nl + 1 + size].decode()
    code = data[(nl + 1 + size + 15) // 16 * 16:]
    manifest = dict(line.split(" ", 1) for line in text.splitlines()
                    if " " in line)
    return magic.decode(), manifest, code


def kernel_fields(manifest, name):
    """The field=value pairs of kernel.NAME."""
    return dict(f.split("=", 1) for f in manifest["kernel." + name].split())


def code_range(code, fields, field):
    """The bytes of a kernel's code field (spirv, cubin, ptx)."""
    offset, length = map(int, fields[field].split("+"))
    return code[offset:offset + length]
