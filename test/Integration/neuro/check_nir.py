"""Read model.nir with the `nir` package and check every population.

  check_nir.py MODEL.nir --layers L --width C [--tau 2] [--threshold 1]
      [--reset 0] [--reset-mode hard|soft] [--decay-input 1|0]
      [--fire ge|gt] [--dt 1e-4] [--label X]

nir.read (with its type check) must load the file; the graph must hold
exactly one Input -> LIF -> Output population per layer and site (att, ffn)
and nothing else; each LIF's parameters must be the NIR form of the options
the model was compiled with (tau = tau_steps * dt, r = 1 with decay_input
or tau_steps without, v_leak = v_reset), per neuron, and its metadata must
record the firing comparison, the reset, dt and decay_input.

Prints "LABEL: OK ..." or "LABEL: FAIL ..." (exit status 1).
"""

import argparse
import sys

import nir
import nir.serialization
import numpy as np


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("path")
    ap.add_argument("--layers", type=int, required=True)
    ap.add_argument("--width", type=int, required=True)
    ap.add_argument("--tau", type=float, default=2.0)
    ap.add_argument("--threshold", type=float, default=1.0)
    ap.add_argument("--reset", type=float, default=0.0)
    ap.add_argument("--reset-mode", default="hard")
    ap.add_argument("--decay-input", type=int, default=1)
    ap.add_argument("--fire", default="ge")
    ap.add_argument("--dt", type=float, default=1e-4)
    ap.add_argument("--label", default="nir")
    a = ap.parse_args()
    problems = []
    version = nir.serialization.read_version(a.path)
    if version != "1.0.8":
        problems.append(f"version {version!r}")
    g = nir.read(a.path)  # type_check=True
    want = {}
    edges = set()
    for i in range(a.layers):
        for site in ("att", "ffn"):
            name = f"layer{i}_{site}"
            want[name] = (i, site)
            edges |= {(name + "_input", name), (name, name + "_output")}
    names = set(want) | {n + s for n in want for s in ("_input", "_output")}
    if set(g.nodes) != names:
        problems.append(f"nodes {sorted(set(g.nodes) ^ names)} unexpected or missing")
    if set(g.edges) != edges or len(g.edges) != len(edges):
        problems.append(f"edges {sorted(set(g.edges) ^ edges)} unexpected or missing")
    C = a.width
    f32 = np.float32
    expect = {
        "tau": f32(a.tau * a.dt),
        "r": f32(1.0 if a.decay_input else a.tau),
        "v_leak": f32(a.reset),
        "v_threshold": f32(a.threshold),
        "v_reset": f32(a.reset),
    }
    checked = 0
    for name, (layer, site) in want.items():
        node = g.nodes.get(name)
        if not isinstance(node, nir.LIF):
            problems.append(f"{name} is {type(node).__name__}, not LIF")
            continue
        for field, value in expect.items():
            arr = np.asarray(getattr(node, field))
            if arr.shape != (C,) or arr.dtype != np.float32 or not np.all(arr == value):
                problems.append(f"{name}.{field} {arr.dtype}{list(arr.shape)} "
                                f"{np.unique(arr)[:3]}, expected {C} x {value}")
            checked += 1
        for port, kind in (("_input", nir.Input), ("_output", nir.Output)):
            p = g.nodes.get(name + port)
            shape = None if p is None else (
                p.input_type["input"] if kind is nir.Input else p.output_type["output"])
            if not isinstance(p, kind) or list(np.asarray(shape)) != [C]:
                problems.append(f"{name}{port}: {p!r}")
        m = node.metadata
        meta = {"layer": layer, "site": site, "fire": a.fire, "reset": a.reset_mode,
                "decay_input": a.decay_input, "dt": a.dt, "tau_steps": a.tau,
                "fanout": 1}
        for k, v in meta.items():
            if k not in m or m[k] != v:
                problems.append(f"{name} metadata {k} = {m.get(k)!r}, expected {v!r}")
    gm = g.metadata
    for k in ("host_part", "fire_mapping", "partition", "parameter_mapping"):
        if not isinstance(gm.get(k), str) or not gm[k]:
            problems.append(f"graph metadata lacks {k}")
    if gm.get("dt") != a.dt or gm.get("layers") != a.layers:
        problems.append(f"graph metadata dt {gm.get('dt')} layers {gm.get('layers')}")
    if problems:
        print(f"{a.label}: FAIL " + "; ".join(problems[:8]))
        return 1
    print(f"{a.label}: OK nir {version}: {len(want)} LIF populations of {C} "
          f"neurons, {checked} parameter arrays as expected")
    return 0


if __name__ == "__main__":
    sys.exit(main())
