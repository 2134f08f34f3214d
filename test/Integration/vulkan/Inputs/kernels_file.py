"""Rewrites a Vulkan kernel artifact's kernels.bin (seqc/artifact.h layout)
for the bad-input tests: the manifest and the SPIR-V are edited as a
hostile or corrupted file would be, with the header kept consistent.

    kernels_file.py DIR set-field KERNEL FIELD VALUE   edit kernel.KERNEL
    kernels_file.py DIR spirv-magic KERNEL             break its SPIR-V magic
    kernels_file.py DIR magic                          break the file magic
    kernels_file.py DIR set KEY VALUE                  edit a manifest line
    kernels_file.py DIR drop-fallbacks                 remove every fallback
"""

import sys


def read(path):
    data = open(path, "rb").read()
    nl = data.index(b"\n")
    magic, n = data[:nl].split()
    n = int(n)
    text = data[nl + 1:nl + 1 + n].decode()
    start = (nl + 1 + n + 15) // 16 * 16
    return magic, text, data[start:]


def write(path, magic, text, blob):
    head = magic + b" " + str(len(text.encode())).encode() + b"\n"
    data = head + text.encode()
    data += b"\0" * ((-len(data)) % 16)
    open(path, "wb").write(data + blob)


def main(argv):
    path = argv[0] + "/kernels.bin"
    magic, text, blob = read(path)
    lines = text.splitlines()
    op = argv[1]
    if op == "magic":
        magic = b"NOTSPIRV"
    elif op == "set":
        key, value = argv[2], argv[3]
        lines = [f"{key} {value}" if l.split(" ", 1)[0] == key else l
                 for l in lines]
    elif op == "drop-fallbacks":
        lines = [" ".join(f for f in l.split(" ")
                          if not f.startswith("fallback_"))
                 if l.startswith("kernel.") else l for l in lines]
    elif op in ("set-field", "spirv-magic"):
        key = "kernel." + argv[2]
        for i, l in enumerate(lines):
            if l.split(" ", 1)[0] != key:
                continue
            fields = dict(f.split("=", 1) for f in l.split(" ")[1:])
            if op == "set-field":
                fields[argv[3]] = argv[4]
            else:
                offset = int(fields["spirv"].split("+")[0])
                blob = blob[:offset] + b"\0\0\0\0" + blob[offset + 4:]
            lines[i] = key + " " + " ".join(f"{k}={v}"
                                            for k, v in fields.items())
    write(path, magic, "\n".join(lines) + "\n", blob)


if __name__ == "__main__":
    main(sys.argv[1:])
