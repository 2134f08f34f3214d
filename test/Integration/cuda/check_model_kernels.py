"""Checks a CUDA model artifact's kernels.bin without a GPU.

  check_model_kernels.py ARTIFACT_DIR

Every kernel's cubin is an ELF image and its PTX has the kernel's entry and
no call to a libdevice function left unresolved; each kernel is listed
once; seqc_init_state and seqc_step (and seqc_prefill, when the manifest
has prefill_tokens) have schedules whose dispatches name listed kernels.
Prints one summary line, or the first problem (exit 1).
"""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "..", "reference"))
import kernels_file  # noqa: E402


def main():
    magic, manifest, code = kernels_file.read(sys.argv[1])
    if magic != "SEQCCUB1":
        print(f"{sys.argv[1]}: not a CUDA artifact")
        return 1
    names = manifest["kernels"].split()
    if len(set(names)) != len(names):
        print("a kernel is listed twice")
        return 1
    seen = set()
    for name in names:
        fields = kernels_file.kernel_fields(manifest, name)
        cubin = kernels_file.code_range(code, fields, "cubin")
        ptx = kernels_file.code_range(code, fields, "ptx").decode()
        if not cubin.startswith(b"\x7fELF"):
            print(f"kernel {name}: its cubin is not ELF")
            return 1
        if f".entry {fields['entry']}" not in ptx:
            print(f"kernel {name}: its PTX has no entry {fields['entry']}")
            return 1
        if ".extern .func __nv_" in ptx:
            print(f"kernel {name}: its PTX calls libdevice")
            return 1
        key = (ptx, fields["grid"], fields["workgroup"], fields["bindings"])
        if key in seen:
            print(f"kernel {name}: the same as an earlier one")
            return 1
        seen.add(key)
    counts = []
    entries = ["seqc_init_state", "seqc_step"]
    if "prefill_tokens" in open(os.path.join(sys.argv[1],
                                             "manifest.json")).read():
        entries.append("seqc_prefill")
    for entry in entries:
        line = manifest.get("schedule." + entry)
        if line is None:
            print(f"no schedule for {entry}")
            return 1
        dispatches = [f for f in line.split() if f.startswith("dispatch=")]
        for d in dispatches:
            if d[len("dispatch="):].split(":")[0] not in names:
                print(f"{entry}: {d} names no listed kernel")
                return 1
        counts.append(f"{entry} {len(dispatches)}")
    print(f"kernels: {len(names)}, dispatches: {', '.join(counts)}; every "
          "cubin is ELF, every PTX has its entry and no libdevice call")
    return 0


if __name__ == "__main__":
    sys.exit(main())
