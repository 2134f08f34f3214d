#!/usr/bin/env python3
"""Mutation probe of the checkpoint readers: seqc import on mutated copies of
small fixtures, each run under a time limit and an address-space limit,
counting the outcomes.

    python3 scripts/probe_readers.py SEQC [-n N] [--seed S] [--jobs J]
        [--timeout SECONDS] [--memory-mib MIB] [--keep DIR]

Fixtures (written into a temporary directory with the numpy references):
RWKV-4 .pth and safetensors, RWKV-5.0, 5.2, 6, 7, a LLaMA model directory
(safetensors + config.json) and its GGUF file. Mutations: bit flips, byte
runs overwritten, truncation, and huge or negative numbers written over the
numbers of a header (JSON integers, pickle integers, GGUF u64/u32 fields).

Outcomes: `error` (exit 1 with seqc's error line), `accepted` (exit 0),
`crash` (a signal: SIGSEGV, SIGBUS, SIGABRT, ...), `abort` (an uncaught
exception or "LLVM ERROR" without a signal), `hang` (past the time limit)
and `other` (any other exit). Exit status 1 when any crash, abort or hang
was seen; --keep DIR keeps those inputs.
"""

import argparse
import collections
import concurrent.futures
import os
import random
import re
import resource
import shutil
import signal
import struct
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REF = os.path.join(ROOT, "test", "reference")
HUGE = [0, 1, 255, 2**31 - 1, 2**31, 2**32 - 1, 2**32, 2**40, 2**62, 2**63 - 8,
        2**63 - 1, 2**64 - 1]


def make_fixtures(d):
    py = sys.executable
    run = lambda *a: subprocess.run([py, *a], check=True, stdout=subprocess.DEVNULL)
    ck = os.path.join(REF, "checkpoint.py")
    r567 = os.path.join(REF, "rwkv567_ref.py")
    run(ck, "random-rwkv4", "--layers", "2", "--embd", "16", "--vocab", "64",
        "--seed", "1", "-o", os.path.join(d, "v4.pth"))
    run(ck, "random-rwkv4", "--layers", "2", "--embd", "16", "--vocab", "64",
        "--seed", "1", "--format", "safetensors", "-o", os.path.join(d, "v4.safetensors"))
    for v, fmt, lora in (("5.0", "pth", []), ("5", "safetensors", []),
                         ("6", "pth", ["--lora", "4,8"]),
                         ("7", "safetensors", ["--lora", "4"])):
        run(r567, "random", "--version", v, "--layers", "2", "--embd", "32",
            "--heads", "2", "--vocab", "40", *lora, "--format", fmt,
            "-o", os.path.join(d, f"v{v}.{fmt}"))
    run(os.path.join(REF, "llama_ref.py"), "random", os.path.join(d, "llama"),
        "--layers", "2", "--embd", "32", "--heads", "2", "--kv-heads", "1",
        "--ffn", "48", "--vocab", "64", "--context", "16")
    run(os.path.join(REF, "gguf_writer.py"), os.path.join(d, "llama"),
        os.path.join(d, "llama.gguf"))
    return [os.path.join(d, f) for f in sorted(os.listdir(d))]


def header_numbers(data, kind):
    """(offset, width) of the numbers in a file's header that an edit can
    make huge."""
    spots = []
    if kind == "json":
        for m in re.finditer(rb"-?\d+", data):
            spots.append((m.start(), m.end() - m.start(), "text"))
    elif kind == "safetensors":
        n = struct.unpack_from("<Q", data)[0]
        spots.append((0, 8, "u64"))
        for m in re.finditer(rb"-?\d+", data[8:8 + min(n, len(data))]):
            spots.append((8 + m.start(), m.end() - m.start(), "text"))
    elif kind == "gguf":
        spots += [(8 + 8 * i, 8, "u64") for i in range(2)]
        for m in re.finditer(rb"blk\.|token_embd|output|llama\.", data[:65536]):
            spots.append((m.end() + 8, 8, "u64"))
            spots.append((m.end() + 16, 4, "u32"))
    elif kind == "pth":
        pkl = data.find(b"data.pkl")
        for m in re.finditer(rb"[KMJ\x8a]", data[pkl:pkl + 65536]):
            spots.append((pkl + m.start() + 1, 4, "u32"))
    return spots


def mutate(data, kind, rng):
    data = bytearray(data)
    how = rng.randrange(5)
    if how == 0 or not data:  # bit flips
        for _ in range(rng.randint(1, 8)):
            if data:
                i = rng.randrange(len(data))
                data[i] ^= 1 << rng.randrange(8)
    elif how == 1:  # a run of bytes overwritten
        i = rng.randrange(len(data))
        n = rng.randint(1, 16)
        data[i:i + n] = bytes(rng.choice((0, 0xFF, rng.randrange(256))) for _ in range(n))
    elif how == 2:  # truncation
        data = data[:rng.randrange(len(data))]
    else:  # a huge number over a header number
        spots = header_numbers(bytes(data), kind)
        if not spots:
            return mutate(bytes(data), kind, rng)
        at, width, fmt = rng.choice(spots)
        v = rng.choice(HUGE)
        if rng.random() < 0.2:
            v = -v
        if fmt == "text":
            data[at:at + width] = str(v).encode()
        elif fmt == "u64":
            data[at:at + 8] = struct.pack("<Q", v % 2**64)
        else:
            data[at:at + 4] = struct.pack("<I", v % 2**32)
    return bytes(data)


def limits(memory_mib):
    def apply():
        resource.setrlimit(resource.RLIMIT_AS, (memory_mib << 20, memory_mib << 20))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    return apply


def run_one(seqc, path, timeout, memory_mib):
    try:
        p = subprocess.run([seqc, "import", path, "-o", os.devnull],
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                           timeout=timeout, preexec_fn=limits(memory_mib))
    except subprocess.TimeoutExpired:
        return "hang", ""
    err = p.stderr.decode("utf-8", "replace")
    if p.returncode < 0:
        return "crash", signal.Signals(-p.returncode).name
    if "LLVM ERROR" in err or "terminate called" in err or "Stack dump" in err:
        return "abort", err.strip().splitlines()[-1][:120] if err.strip() else ""
    if p.returncode == 0:
        return "accepted", ""
    if p.returncode == 1 and "error:" in err:
        return "error", ""
    return "other", f"exit {p.returncode}: {err.strip()[:120]}"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("seqc")
    ap.add_argument("-n", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--timeout", type=float, default=20)
    ap.add_argument("--memory-mib", type=int, default=4096)
    ap.add_argument("--keep")
    a = ap.parse_args()
    rng = random.Random(a.seed)
    work = tempfile.mkdtemp(prefix="seqc-probe-")
    try:
        os.makedirs(os.path.join(work, "fixtures"))
        fixtures = make_fixtures(os.path.join(work, "fixtures"))
        cases = []
        for i in range(a.n):
            src = rng.choice(fixtures)
            case = os.path.join(work, f"case{i}")
            if os.path.isdir(src):  # LLaMA: mutate config.json or the weights
                shutil.copytree(src, case)
                name = rng.choice(("config.json", "model.safetensors"))
                kind = "json" if name == "config.json" else "safetensors"
                target = os.path.join(case, name)
            else:
                kind = {"pth": "pth", "gguf": "gguf"}.get(src.rsplit(".", 1)[1], "safetensors")
                target = case = case + "." + src.rsplit(".", 1)[1]
            data = open(os.path.join(src, name) if os.path.isdir(src) else src, "rb").read()
            open(target, "wb").write(mutate(data, kind, rng))
            cases.append(case)
        counts, notes = collections.Counter(), collections.Counter()
        with concurrent.futures.ThreadPoolExecutor(a.jobs) as ex:
            results = ex.map(lambda c: (c, run_one(a.seqc, c, a.timeout, a.memory_mib)), cases)
            for case, (outcome, note) in results:
                counts[outcome] += 1
                if outcome in ("crash", "abort", "hang", "other"):
                    notes[f"{outcome}: {note}"] += 1
                    if a.keep:
                        os.makedirs(a.keep, exist_ok=True)
                        dst = os.path.join(a.keep, os.path.basename(case))
                        (shutil.copytree if os.path.isdir(case) else shutil.copy)(case, dst)
                shutil.rmtree(case, ignore_errors=True) if os.path.isdir(case) else os.remove(case)
        print(f"{a.n} runs: " + ", ".join(f"{k} {counts[k]}" for k in
              ("error", "accepted", "crash", "abort", "hang", "other")))
        for note, n in notes.most_common(20):
            print(f"  {n:5d}  {note}")
        return 1 if counts["crash"] + counts["abort"] + counts["hang"] else 0
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
