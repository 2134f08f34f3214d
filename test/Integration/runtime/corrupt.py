"""Damages an artifact the way an interrupted copy or a hostile edit would.

  corrupt.py flip DIR OFFSET        flip one bit of weights.bin's blob byte OFFSET
  corrupt.py truncate FILE BYTES    cut FILE to BYTES (negative: that many off)
  corrupt.py unchecked DIR          weights.bin's header without its checksums
                                    (an older header), so the runtime's later
                                    checks answer
  corrupt.py edit DIR KEY VALUE     replace a manifest value inside model.so,
                                    keeping the file's length (VALUE is cut or
                                    padded with spaces to the old length)
  corrupt.py rename DIR KEY NEW     rename a manifest key inside model.so (NEW
                                    has KEY's length)
"""
import os
import sys

cmd = sys.argv[1]
if cmd == "flip":
    path = os.path.join(sys.argv[2], "weights.bin")
    data = bytearray(open(path, "rb").read())
    data[4096 + int(sys.argv[3])] ^= 0x10
    open(path, "wb").write(data)
elif cmd == "truncate":
    n = int(sys.argv[3])
    size = os.path.getsize(sys.argv[2])
    os.truncate(sys.argv[2], n if n >= 0 else size + n)
elif cmd == "unchecked":
    path = os.path.join(sys.argv[2], "weights.bin")
    data = bytearray(open(path, "rb").read())
    line = bytes(data[: data.index(b"\n")]).split(b" ")
    header = b" ".join(line[:3]) + b"\n"
    data[:4096] = header + b"\0" * (4096 - len(header))
    open(path, "wb").write(data)
elif cmd == "edit":
    path = os.path.join(sys.argv[2], "model.so")
    key, value = sys.argv[3].encode(), sys.argv[4].encode()
    data = bytearray(open(path, "rb").read())
    at = data.index(b"\n" + key + b" ") + len(key) + 2
    end = data.index(b"\n", at)
    old = end - at
    data[at:end] = (value + b" " * old)[:old]
    open(path, "wb").write(data)
elif cmd == "rename":
    path = os.path.join(sys.argv[2], "model.so")
    key, new = sys.argv[3].encode(), sys.argv[4].encode()
    assert len(key) == len(new), "the new key must have the old one's length"
    data = bytearray(open(path, "rb").read())
    at = data.index(b"\n" + key + b" ") + 1
    data[at:at + len(key)] = new
    open(path, "wb").write(data)
else:
    sys.exit("unknown command " + cmd)
