"""The machine a benchmark's figures were measured on, for its JSON."""

import os
from pathlib import Path


def machine():
    """The CPU the figures were measured on (/proc/cpuinfo) and its threads."""
    info = {"cpus": os.cpu_count()}
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return info
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() == "model name" and "model" not in info:
            info["model"] = value.strip()
        if key.strip() == "flags" and "isa" not in info:
            flags = set(value.split())
            info["isa"] = [f for f in ("avx2", "fma", "f16c", "avx512f", "avx512bw",
                                       "avx512_vnni", "avx_vnni") if f in flags]
    return info
