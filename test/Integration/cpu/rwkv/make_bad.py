"""Writes the malformed inputs of bad-input.test into DIR from ok.pth and
ok.safetensors (already in DIR):  make_bad.py DIR
or edits one safetensors file:     make_bad.py --drop NAME SRC DST
                                   make_bad.py --reshape NAME D0,D1 SRC DST"""

import io
import json
import os
import pickle
import struct
import sys
import zipfile


def read_safetensors(path):
    data = open(path, "rb").read()
    n = struct.unpack("<Q", data[:8])[0]
    return json.loads(data[8:8 + n]), data[8 + n:]


def write_safetensors(path, header, body):
    """Writes header and body, repacking the tensors back to back in offset
    order (each takes the bytes its data_offsets name, zero-padded past the
    end), so that an edited header still tiles the body exactly: only the
    intended defect differs from a valid file."""
    packed, out, offset = {}, [], 0
    if "__metadata__" in header:
        packed["__metadata__"] = header["__metadata__"]
    tensors = [(k, v) for k, v in header.items() if k != "__metadata__"]
    for name, info in sorted(tensors, key=lambda kv: kv[1]["data_offsets"][0]):
        begin, end = info["data_offsets"]
        data = body[begin:end].ljust(end - begin, b"\0")
        packed[name] = dict(info, data_offsets=[offset, offset + len(data)])
        out.append(data)
        offset += len(data)
    header, body = packed, b"".join(out)
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + body)


class Evil:
    """Unpickling this would run a shell command."""

    def __init__(self, target):
        self.target = target

    def __reduce__(self):
        return (os.system, ("touch " + self.target,))


def edit(argv):
    """--drop NAME SRC DST or --reshape NAME D0,D1,.. SRC DST on a
    safetensors file (the data stays; a reshape keeps the byte count only
    when the element count matches, so the header is what is checked)."""
    header, body = read_safetensors(argv[-2])
    if argv[0] == "--drop":
        del header[argv[1]]
    else:
        header[argv[1]]["shape"] = [int(x) for x in argv[2].split(",")]
        n = 4
        for x in header[argv[1]]["shape"]:
            n *= x
        begin = header[argv[1]]["data_offsets"][0]
        header[argv[1]]["data_offsets"] = [begin, begin + n]
    write_safetensors(argv[-1], header, body)


def main():
    if sys.argv[1].startswith("--"):
        return edit(sys.argv[1:])
    d = sys.argv[1]
    pth = open(os.path.join(d, "ok.pth"), "rb").read()
    open(os.path.join(d, "truncated.pth"), "wb").write(pth[: len(pth) // 2])
    st = open(os.path.join(d, "ok.safetensors"), "rb").read()
    open(os.path.join(d, "truncated.safetensors"), "wb").write(st[:-100])
    open(os.path.join(d, "garbage.bin"), "wb").write(b"hello, not a model\n" * 4)
    open(os.path.join(d, "badjson.safetensors"), "wb").write(
        struct.pack("<Q", 16) + b"{not json at all")

    # The same archive with deflated entries.
    with zipfile.ZipFile(os.path.join(d, "ok.pth")) as src, zipfile.ZipFile(
            os.path.join(d, "compressed.pth"), "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            dst.writestr(info.filename, src.read(info.filename))

    # A torch.save-shaped archive whose pickle calls os.system.
    with zipfile.ZipFile(os.path.join(d, "evil.pth"), "w",
                         zipfile.ZIP_STORED) as z:
        z.writestr("archive/data.pkl",
                   pickle.dumps({"emb.weight": Evil(os.path.join(d, "pwned"))},
                                protocol=2))
        z.writestr("archive/version", "3\n")

    header, body = read_safetensors(os.path.join(d, "ok.safetensors"))
    h = json.loads(json.dumps(header))
    h["emb.weight"]["dtype"] = "F64"
    h["emb.weight"]["shape"] = [h["emb.weight"]["shape"][0],
                                h["emb.weight"]["shape"][1] // 2]
    write_safetensors(os.path.join(d, "f64.safetensors"), h, body)

    h = json.loads(json.dumps(header))
    del h["blocks.0.att.output.weight"]
    write_safetensors(os.path.join(d, "missing.safetensors"), h, body)

    h = json.loads(json.dumps(header))
    h["blocks.0.ffn.value.weight"]["shape"] = list(
        reversed(h["blocks.0.ffn.value.weight"]["shape"]))
    write_safetensors(os.path.join(d, "misshaped.safetensors"), h, body)

    h = {("model.layers.0." + k if k != "__metadata__" else k): v
         for k, v in header.items()}
    write_safetensors(os.path.join(d, "unknown.safetensors"), h, body)


if __name__ == "__main__":
    main()
