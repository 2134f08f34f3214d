"""Writes a `target NAME` line into the manifest embedded in a model.so.

The manifest is a C string in the library, so the line replaces the
`description` line in place: the rest of that line becomes a line without a
space, which manifest readers skip. The `target` line the compiler wrote is
renamed to a key of the same length that no reader knows.
"""
import re
import sys

path, target = sys.argv[1], sys.argv[2]
data = open(path, "rb").read()
data = data.replace(b"\ntarget ", b"\nxtrget ", 1)
match = re.search(rb"\ndescription [^\n]*\n", data)
assert match, "no description line"
old = match.group(0)
line = b"\ntarget " + target.encode() + b"\n"
assert len(line) + 1 <= len(old), "description line too short"
new = line + b"z" * (len(old) - len(line) - 1) + b"\n"
open(path, "wb").write(data.replace(old, new, 1))
