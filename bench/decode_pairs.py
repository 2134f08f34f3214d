"""Decode speed of pairs of artifacts, run alternately.

    /usr/bin/python3 bench/decode_pairs.py [--build build] [--repeat 3]
        [--decode 16] [--rounds 3] [--out FILE.json]
        LABEL=BEFORE_DIR,AFTER_DIR ...

For comparing two builds of seqc on the same checkpoint: compile the
checkpoint with each (`seqc compile ... -o BEFORE_DIR`, then with the other
build `-o AFTER_DIR`), then give the pairs here. Every round runs
`seqc-run bench` (this build's, so the bandwidth probe is the same for
both) on each pair's two artifacts one after the other, the order swapped
from round to round, so that both see the same machine load. Records per
run the decode ms/token, the read bandwidth probe of the same run and
the roofline ratio; per pair the ratio before/after of each round and
their range. On a shared machine single runs differ by 10-20%; the ratio
within one round is what to quote.

A side may be DIR@VAR=VALUE: that artifact run with the environment
variable set (one artifact against itself under a runtime setting, e.g.
a Vulkan artifact's subgroup kernels against its fallbacks:
`sg=DIR,DIR@SEQC_VULKAN_SUBGROUPS=0`).
"""

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "bench"))
from machine import machine  # noqa: E402


def split_side(side):
    """DIR or DIR@VAR=VALUE: the artifact and the environment it runs in."""
    path, at, setting = side.partition("@")
    var, eq, value = setting.partition("=")
    if at and (not eq or not var):
        sys.exit(f"decode_pairs.py: {side!r}: expected DIR@VAR=VALUE")
    return path, ({var: value} if at else {})


def parse_pairs(args, script):
    """LABEL=BEFORE_DIR,AFTER_DIR arguments as pairs with no runs yet; exits
    naming the argument that is not one, or a side that is no artifact."""
    pairs = []
    for p in args:
        label, sep, dirs = p.partition("=")
        before, comma, after = dirs.partition(",")
        if not sep or not comma or not before or not after:
            sys.exit(f"{script}: {p!r}: expected LABEL=BEFORE_DIR,AFTER_DIR")
        for d in (split_side(before)[0], split_side(after)[0]):
            if not (Path(d) / "manifest.json").is_file():
                sys.exit(f"{script}: {d}: not an artifact (no manifest.json)")
        pairs.append({"label": label, "before": before, "after": after, "runs": []})
    return pairs


def alternate(pairs, repeat, measure, speedup, describe):
    """`repeat` rounds over the pairs, each measuring both sides of a pair
    (measure(side) -> dict), before then after in even rounds and the other
    way in odd ones; appends {before, after, speedup} to the pair's runs and
    prints `describe` of it."""
    for r in range(repeat):
        for p in pairs:
            order = ("before", "after") if r % 2 == 0 else ("after", "before")
            res = {side: measure(p[side]) for side in order}
            res["speedup"] = speedup(res)
            p["runs"].append(res)
            print(f"{p['label']}: {describe(res)}", flush=True)


def table(pairs, columns):
    """A markdown table, a row per pair: each column (header, key, side or
    None for the run itself, format) the range of that value over the runs."""
    print("\n| artifact | " + " | ".join(c[0] for c in columns) + " |")
    print("|---|" + "---|" * len(columns))
    for p in pairs:
        cells = []
        for _, key, side, fmt in columns:
            v = [r[side][key] if side else r[key] for r in p["runs"]]
            cells.append(fmt.format(min(v)) + "–" + fmt.format(max(v)))
        print(f"| {p['label']} | " + " | ".join(cells) + " |")


def bench(run, artifact, decode, rounds):
    path, env = split_side(artifact)
    out = subprocess.run([str(run), "bench", path, "--prefill", "1",
                          "--decode", str(decode), "--rounds", str(rounds)],
                         check=True, capture_output=True, text=True,
                         env={**os.environ, **env}).stdout
    d = json.loads(out)
    return {k: d[k] for k in ("decode_ms_per_token", "read_bandwidth_gb_s",
                              "roofline_ratio", "token_read_bytes",
                              "weights_format", "weight_pages")}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--build", type=Path, default=REPO / "build")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--decode", type=int, default=16)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--out", type=Path)
    ap.add_argument("pairs", nargs="+", help="LABEL=BEFORE_DIR,AFTER_DIR")
    a = ap.parse_args()
    run = a.build / "bin" / "seqc-run"
    pairs = parse_pairs(a.pairs, "decode_pairs.py")
    alternate(pairs, a.repeat, lambda side: bench(run, side, a.decode, a.rounds),
              lambda res: (res["before"]["decode_ms_per_token"] /
                           res["after"]["decode_ms_per_token"]),
              lambda res: (f"before {res['before']['decode_ms_per_token']:.2f} ms "
                           f"({res['before']['roofline_ratio']:.2f} of roofline), after "
                           f"{res['after']['decode_ms_per_token']:.2f} ms "
                           f"({res['after']['roofline_ratio']:.2f}), "
                           f"{res['speedup']:.2f}x"))
    table(pairs, [("before ms/token", "decode_ms_per_token", "before", "{:.1f}"),
                  ("after ms/token", "decode_ms_per_token", "after", "{:.1f}"),
                  ("speedup (same round)", "speedup", None, "{:.2f}"),
                  ("roofline before", "roofline_ratio", "before", "{:.2f}"),
                  ("roofline after", "roofline_ratio", "after", "{:.2f}")])
    if a.out:
        a.out.write_text(json.dumps({"machine": machine(), "repeat": a.repeat,
                                     "decode_tokens": a.decode, "rounds": a.rounds,
                                     "pairs": pairs}, indent=1) + "\n")


if __name__ == "__main__":
    main()
