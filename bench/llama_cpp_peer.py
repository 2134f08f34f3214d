"""seqc beside llama.cpp on the same GGUF files, run alternately.

    python3 bench/llama_cpp_peer.py [--build build] [--work /tmp/seqc-peer]
        [--formats f16,q8_0,q4_0] [--layers 22] [--repeat 3] [--decode 32]
        [--prefill 512] [--depth-layers 2] [--contexts 2048,8192]
        [--out bench/results/llama_cpp_peer.json]

The first run creates a virtual environment in build-peers/venv and
installs llama-cpp-python (which builds llama.cpp from source with every
SIMD extension this CPU has but AMX: see cmake_args), the `gguf` package
and numpy from PyPI, then re-runs itself there; later runs reuse it. Not
part of the test command.

Models: TinyLlama-1.1B's shape (22 layers of width 2048, 32 query heads
sharing 4 KV heads of 64, SwiGLU 5632, vocabulary 32000) with random
weights, written by the `gguf` package (not by seqc's test writer) once per
format: F16, Q8_0 or Q4_0 for every matrix, the embedding and the output
included; norms in F32. Each file is compiled by `seqc compile` with the
format seqc has for it: F16 -> --weights=fp16, Q4_0 -> --weights=q4 and
Q8_0 -> --weights=q8 (the same blocks, kept exactly, so both programs read
the same bytes).

Weights: for each format, --repeat rounds of [seqc, llama.cpp] (the order
alternates between rounds), each a fresh process on 2 threads: prefill
tokens/s of a --prefill-token prompt in one call (llama.cpp: n_batch =
n_ubatch = the prompt), then ms per decoded token over --decode tokens.

KV depth: a --depth-layers model of the same layer shape (F16 weights) with
the cache filled to each of --contexts, then --decode tokens timed; caches
paired by bits: f16/f16, llama.cpp q8_0 (flash attention, as llama.cpp
requires for a quantized V) / seqc 8-bit KIVI, q4_0 / 4-bit KIVI, and
seqc's 2-bit KIVI alone (llama.cpp has no 2-bit cache). KIVI: groups of
32, a full-precision window of 32.

RWKV (--rwkv): llama.cpp runs RWKV-6 and RWKV-7 GGUF files, which seqc
imports too. First a check: random small RWKV-6 and RWKV-7 checkpoints
(test/reference/rwkv567_ref.py) written in llama.cpp's GGUF layout by
test/reference/rwkv_gguf_writer.py, f32; both programs' logits for the
same tokens, the largest difference recorded. Then the RWKV-7 0.4B shape
(bench/rwkv_decode.py's random checkpoint) as F16, Q8_0 and Q4_0 GGUF
(the writer's layout, written by the `gguf` package: the matrices in the
named type, the small RWKV tensors in f32), timed as the weights above.

Ratios are llama.cpp's time over seqc's (above 1: seqc is faster), per
round and their median. The JSON has the machine, llama.cpp's version and
every round.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
import venv
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
VENV = REPO / "build-peers" / "venv"
sys.path.insert(0, str(REPO / "bench"))
from machine import machine  # noqa: E402

SHAPE = dict(embd=2048, heads=32, kv_heads=4, head_dim=64, ffn=5632, vocab=32000)
FORMATS = {"f16": ("F16", 1, "fp16"), "q8_0": ("Q8_0", 7, "q8"),
           "q4_0": ("Q4_0", 2, "q4")}
# (label, seqc flags, llama.cpp K/V type or None).
CACHES = [("f16", ["--kv-f16"], "f16"),
          ("8-bit", ["--kv-bits", "8", "--kv-group", "32", "--kv-window", "32"], "q8_0"),
          ("4-bit", ["--kv-bits", "4", "--kv-group", "32", "--kv-window", "32"], "q4_0"),
          ("2-bit", ["--kv-bits", "2", "--kv-group", "32", "--kv-window", "32"], None)]
GGML_TYPE = {"f16": 1, "q8_0": 8, "q4_0": 2}


def cmake_args():
    """llama.cpp's build flags for this CPU: every SIMD extension it has
    (from /proc/cpuinfo), but not AMX: ggml's AMX matrix products crash
    (SIGSEGV in ggml_backend_amx_mul_mat on any quantized prompt of more
    than one token) on virtual machines that report AMX, as the machines
    these figures were measured on do."""
    flags = set()
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("flags"):
            flags = set(line.split(":", 1)[1].split())
            break
    isa = {"GGML_AVX": "avx", "GGML_AVX2": "avx2", "GGML_FMA": "fma", "GGML_F16C": "f16c",
           "GGML_BMI2": "bmi2", "GGML_AVX_VNNI": "avx_vnni", "GGML_AVX512": "avx512f",
           "GGML_AVX512_VBMI": "avx512vbmi", "GGML_AVX512_VNNI": "avx512_vnni",
           "GGML_AVX512_BF16": "avx512_bf16"}
    args = ["-DLLAVA_BUILD=OFF", "-DGGML_NATIVE=OFF"]
    args += [f"-D{k}={'ON' if v in flags else 'OFF'}" for k, v in isa.items()]
    return " ".join(args)


def ensure_venv():
    """Re-runs this script in build-peers/venv, creating it first."""
    if Path(sys.prefix).resolve() == VENV.resolve():
        return
    py = VENV / "bin" / "python"
    if not py.exists():
        print(f"creating {VENV}", flush=True)
        venv.create(VENV, with_pip=True)
    stamp = VENV / "llama-cpp-cmake-args"
    probe = subprocess.run([py, "-c", "import llama_cpp, gguf, numpy"],
                           capture_output=True)
    if (probe.returncode != 0 or not stamp.exists()
            or stamp.read_text() != cmake_args()):
        print("installing llama-cpp-python (builds llama.cpp), gguf, numpy", flush=True)
        env = dict(os.environ, CMAKE_ARGS=cmake_args(),
                   CMAKE_BUILD_PARALLEL_LEVEL=str(os.cpu_count() or 2))
        subprocess.run([py, "-m", "pip", "install", "--no-cache-dir", "--force-reinstall",
                        "llama-cpp-python", "gguf", "numpy"], check=True, env=env)
        stamp.write_text(cmake_args())
    os.execv(str(py), [str(py), __file__] + sys.argv[1:])


def write_gguf(path, fmt, layers, context, seed=0):
    """A LLaMA GGUF of SHAPE with random weights, every matrix in `fmt`."""
    import gguf
    import numpy as np

    qtype = getattr(gguf.GGMLQuantizationType, FORMATS[fmt][0])
    s = SHAPE
    w = gguf.GGUFWriter(str(path), "llama")
    w.add_name(f"random TinyLlama-1.1B shape, {layers} layers")
    w.add_context_length(context)
    w.add_embedding_length(s["embd"])
    w.add_block_count(layers)
    w.add_feed_forward_length(s["ffn"])
    w.add_head_count(s["heads"])
    w.add_head_count_kv(s["kv_heads"])
    w.add_rope_dimension_count(s["head_dim"])
    w.add_layer_norm_rms_eps(1e-5)
    w.add_rope_freq_base(10000.0)
    w.add_file_type(FORMATS[fmt][1])
    # A SentencePiece vocabulary: llama.cpp needs the byte tokens (it looks
    # up <0x0A>); seqc skips the tokenizer arrays.
    tokens = ["<unk>", "<s>", "</s>"] + [f"<0x{b:02X}>" for b in range(256)]
    tokens += [f"t{i}" for i in range(s["vocab"] - len(tokens))]
    types = [2, 3, 3] + [6] * 256 + [1] * (s["vocab"] - 259)
    w.add_tokenizer_model("llama")
    w.add_token_list(tokens)
    w.add_token_scores([0.0] * s["vocab"])
    w.add_token_types(types)
    w.add_bos_token_id(1)
    w.add_eos_token_id(2)
    w.add_unk_token_id(0)
    rng = np.random.default_rng(seed)
    e, kv = s["embd"], s["kv_heads"] * s["head_dim"]

    def matrix(name, rows, cols):
        a = rng.standard_normal((rows, cols), dtype=np.float32) / np.sqrt(cols)
        data = gguf.quants.quantize(a, qtype)
        w.add_tensor(name, data, raw_dtype=qtype)

    def ones(name, n):
        w.add_tensor(name, np.ones(n, np.float32))

    matrix("token_embd.weight", s["vocab"], e)
    ones("output_norm.weight", e)
    matrix("output.weight", s["vocab"], e)
    for i in range(layers):
        ones(f"blk.{i}.attn_norm.weight", e)
        matrix(f"blk.{i}.attn_q.weight", e, e)
        matrix(f"blk.{i}.attn_k.weight", kv, e)
        matrix(f"blk.{i}.attn_v.weight", kv, e)
        matrix(f"blk.{i}.attn_output.weight", e, e)
        ones(f"blk.{i}.ffn_norm.weight", e)
        matrix(f"blk.{i}.ffn_gate.weight", s["ffn"], e)
        matrix(f"blk.{i}.ffn_up.weight", s["ffn"], e)
        matrix(f"blk.{i}.ffn_down.weight", e, s["ffn"])
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def tokens(n, seed):
    return [(seed * 7919 + i * 104729) % (SHAPE["vocab"] - 300) + 259 for i in range(n)]


def llama_worker(a):
    """One llama.cpp measurement in this process; prints its JSON."""
    import llama_cpp

    contexts = [int(c) for c in a.contexts.split(",")] if a.contexts else []
    n_ctx = max(contexts + [a.prefill]) + a.decode + 16
    kw = {}
    if a.kv != "f16":
        kw = dict(type_k=GGML_TYPE[a.kv], type_v=GGML_TYPE[a.kv], flash_attn=True)
    llm = llama_cpp.Llama(model_path=a.model, n_ctx=n_ctx, n_threads=2, n_threads_batch=2,
                          n_batch=max(512, a.prefill), n_ubatch=max(512, a.prefill),
                          verbose=False, **kw)
    out = {"llama_cpp_python": llama_cpp.__version__}
    if not contexts:
        prompt = tokens(a.prefill, 1)
        t = time.perf_counter()
        llm.eval(prompt)
        out["prefill_tokens_per_s"] = a.prefill / (time.perf_counter() - t)
        ids = tokens(a.decode, 2)
        t = time.perf_counter()
        for i in ids:
            llm.eval([i])
        out["decode_ms_per_token"] = (time.perf_counter() - t) / a.decode * 1e3
    else:
        out["decode_at_context"] = []
        filled = 0
        for c in contexts:
            llm.eval(tokens(c - filled, 3 + c))
            ids = tokens(a.decode, 4 + c)
            t = time.perf_counter()
            for i in ids:
                llm.eval([i])
            ms = (time.perf_counter() - t) / a.decode * 1e3
            filled = c + a.decode
            out["decode_at_context"].append({"context": c, "ms_per_token": ms})
    print(json.dumps(out))


def run_json(cmd):
    r = subprocess.run([str(c) for c in cmd], capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"failed ({r.returncode}): {' '.join(map(str, cmd))}\n{r.stderr[-2000:]}")
    return json.loads(r.stdout)


def llama_run(a, model, kv="f16", contexts=""):
    return run_json([sys.executable, __file__, "--llama-worker", "--model", model, "--kv", kv,
                     "--prefill", a.prefill, "--decode", a.decode, "--contexts", contexts])


def seqc_compile(a, model, out, flags):
    """Compiles every run (--force): an artifact kept from an earlier run
    would measure an earlier seqc."""
    subprocess.run([str(a.build / "bin" / "seqc"), "compile", str(model), "-o", str(out),
                    "--force"] + flags, check=True, capture_output=True)


def llama_logits(model, toks):
    """llama.cpp's logits of every token (worker output: a JSON list)."""
    r = subprocess.run([sys.executable, "-c", (
        "import json, sys, llama_cpp\n"
        f"llm = llama_cpp.Llama(model_path={str(model)!r}, n_ctx=64, n_threads=2,"
        " logits_all=True, verbose=False)\n"
        f"llm.eval({toks!r})\n"
        f"print(json.dumps([list(map(float, llm.scores[i])) for i in range({len(toks)})]))")],
        capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"llama.cpp failed on {model}:\n{r.stderr[-2000:]}")
    return json.loads(r.stdout)


def reference(*args):
    """Runs a test/reference script with the system Python (Debian numpy)."""
    subprocess.run(["/usr/bin/python3"] + [str(x) for x in args], check=True,
                   capture_output=True)


def rwkv_check(a):
    """seqc's and llama.cpp's logits on the same small RWKV-6/7 GGUF files."""
    import numpy as np

    ref = REPO / "test" / "reference"
    out = []
    toks = [1, 2, 3, 4, 5, 6, 7, 8]
    for version in (6, 7):
        st = a.work / f"rwkv{version}-small.safetensors"
        gg = a.work / f"rwkv{version}-small.gguf"
        reference(ref / "rwkv567_ref.py", "random", "--version", version, "--layers", 2,
                  "--embd", 128, "--heads", 2, "--vocab", 300, "--seed", 5,
                  "--format", "safetensors", "-o", st)
        reference(ref / "rwkv_gguf_writer.py", st, gg, "--dtype", "f32")
        art = a.work / f"seqc-rwkv{version}-small"
        seqc_compile(a, gg, art, [])
        raw = a.work / f"rwkv{version}-small.f32"
        subprocess.run([str(a.build / "bin" / "seqc-run"), "logits", str(art), "--tokens",
                        ",".join(map(str, toks)), "--all", "-o", str(raw)],
                       check=True, capture_output=True)
        mine = np.fromfile(raw, dtype=np.float32).reshape(len(toks), -1)
        theirs = np.array(llama_logits(gg, toks), dtype=np.float32)
        diff = float(np.max(np.abs(mine - theirs)))
        out.append({"version": version, "tokens": len(toks),
                    "max_abs_logit_difference": diff,
                    "max_abs_logit": float(np.max(np.abs(theirs)))})
        print(f"RWKV-{version}: seqc vs llama.cpp logits, max |difference| {diff:.3g}",
              flush=True)
    return out


def write_rwkv_gguf(checkpoint, path, fmt):
    """An official RWKV checkpoint as llama.cpp's converter lays it out
    (test/reference/rwkv_gguf_writer.py's convert: names, shapes, the
    metadata), written by the `gguf` package: the matrices in `fmt`, the
    small RWKV tensors in f32 (as the converter and llama-quant.cpp keep
    them)."""
    import gguf
    import numpy as np

    sys.path.insert(0, str(REPO / "test" / "reference"))
    import rwkv_gguf_writer as rw

    arch, hp, tensors, _ = rw.convert(rw.read_safetensors(str(checkpoint)), 0)
    qtype = getattr(gguf.GGMLQuantizationType, FORMATS[fmt][0])
    w = gguf.GGUFWriter(str(path), arch)
    w.add_name("random RWKV-7 0.4B shape")
    w.add_block_count(hp["layers"])
    w.add_context_length(1048576)
    w.add_embedding_length(hp["embd"])
    w.add_feed_forward_length(hp["ffn"])
    w.add_uint32(f"{arch}.wkv.head_size", hp["head_size"])
    w.add_float32(f"{arch}.attention.layer_norm_epsilon", 1e-5)
    w.add_uint32(f"{arch}.attention.head_count", 0)
    for key, rank in (("decay", "w"), ("iclr", "a"), ("value_residual_mix", "v"), ("gate", "g")):
        w.add_uint32(f"{arch}.attention.{key}_lora_rank", hp[rank])
    w.add_tokenizer_model("rwkv")
    w.add_token_list([f"<{i}>" for i in range(hp["vocab"])])
    for name, t in tensors:
        small = any(x in name for x in rw.SMALL) or t.ndim != 2
        if small:
            w.add_tensor(name, np.ascontiguousarray(t, dtype=np.float32))
        else:
            w.add_tensor(name, gguf.quants.quantize(t, qtype), raw_dtype=qtype)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def compare_weights(a, gg, art, flags, label):
    """--repeat alternating rounds of seqc and llama.cpp on one GGUF file."""
    seqc_compile(a, gg, art, flags)
    rounds = []
    for r in range(a.repeat):
        pair = {}
        order = ["seqc", "llama.cpp"] if r % 2 == 0 else ["llama.cpp", "seqc"]
        for who in order:
            if who == "seqc":
                j = run_json([a.build / "bin" / "seqc-run", "bench", art, "--prefill",
                              a.prefill, "--decode", a.decode, "--rounds", 1])
                pair["seqc"] = {"decode_ms_per_token": j["decode_ms_per_token"],
                                "prefill_tokens_per_s": j["prefill"][0]["tokens_per_s"],
                                "read_bandwidth_gb_s": j["read_bandwidth_gb_s"],
                                "roofline_ratio": j["roofline_ratio"],
                                "weight_bytes": j["weight_bytes"]}
            else:
                pair["llama.cpp"] = llama_run(a, gg)
        pair["decode_ratio"] = ratio(pair["llama.cpp"]["decode_ms_per_token"],
                                     pair["seqc"]["decode_ms_per_token"])
        pair["prefill_ratio"] = ratio(pair["seqc"]["prefill_tokens_per_s"],
                                      pair["llama.cpp"]["prefill_tokens_per_s"])
        rounds.append(pair)
        print(label, f"round {r}:", json.dumps(pair), flush=True)
    return {"gguf_bytes": gg.stat().st_size, "rounds": rounds,
            "decode_ratio_median": statistics.median(p["decode_ratio"] for p in rounds),
            "prefill_ratio_median": statistics.median(p["prefill_ratio"] for p in rounds)}


def ratio(llama, seqc):
    return llama / seqc if seqc > 0 else None


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--build", type=Path, default=REPO / "build")
    ap.add_argument("--work", type=Path, default=Path("/tmp/seqc-peer"))
    ap.add_argument("--formats", default="f16,q8_0,q4_0")
    ap.add_argument("--layers", type=int, default=22)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--decode", type=int, default=32)
    ap.add_argument("--prefill", type=int, default=512)
    ap.add_argument("--depth-layers", type=int, default=2)
    ap.add_argument("--contexts", default="2048,8192",
                    help="KV depths (empty: skip the depth runs)")
    ap.add_argument("--rwkv", action="store_true",
                    help="RWKV instead of LLaMA: the logit check and the RWKV-7 0.4B shape")
    ap.add_argument("--out", type=Path)
    # The llama.cpp worker (run by this script in a child process).
    ap.add_argument("--llama-worker", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--model", help=argparse.SUPPRESS)
    ap.add_argument("--kv", default="f16", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.llama_worker:
        llama_worker(a)
        return
    ensure_venv()
    if a.out is None:
        a.out = REPO / "bench" / "results" / (
            "llama_cpp_peer_rwkv.json" if a.rwkv else "llama_cpp_peer.json")
    a.build = a.build.resolve()
    a.work.mkdir(parents=True, exist_ok=True)
    import llama_cpp

    result = {"machine": machine(), "threads": 2,
              "llama_cpp_python": llama_cpp.__version__, "llama_cpp_cmake_args": cmake_args(),
              "shape": dict(SHAPE, layers=a.layers), "prefill_tokens": a.prefill,
              "decode_tokens": a.decode, "weights": [], "kv_depth": []}
    if a.rwkv:
        rwkv_runs(a, result)
    else:
        llama_runs(a, result)
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {a.out}")


def rwkv_runs(a, result):
    """The RWKV logit check, then the RWKV-7 0.4B shape at each format."""
    result["shape"] = "rwkv7-0.4b"
    result["logit_check"] = rwkv_check(a)
    formats = [f for f in a.formats.split(",") if f]
    st = a.work / "rwkv7-0.4b.safetensors"
    if formats and not st.exists():
        subprocess.run(["/usr/bin/python3", "-c",
                        "import sys; sys.path.insert(0, 'bench'); import rwkv_decode; "
                        f"rwkv_decode.make_checkpoint('rwkv7-0.4b', {str(st)!r})"],
                       check=True, cwd=REPO)
    for fmt in formats:
        gg = a.work / f"rwkv7-0.4b-{fmt}.gguf"
        if not gg.exists():
            print(f"writing {gg}", flush=True)
            write_rwkv_gguf(st, gg, fmt)
        entry = compare_weights(a, gg, a.work / f"seqc-rwkv7-0.4b-{fmt}",
                                [f"--weights={FORMATS[fmt][2]}"], fmt)
        entry.update(gguf=FORMATS[fmt][0], seqc_weights=FORMATS[fmt][2])
        result["weights"].append(entry)


def llama_runs(a, result):
    """The TinyLlama-shaped weights at each format, then the KV depths."""
    for fmt in [f for f in a.formats.split(",") if f]:
        gg = a.work / f"tinyllama-{a.layers}l-{fmt}.gguf"
        if not gg.exists():
            print(f"writing {gg}", flush=True)
            write_gguf(gg, fmt, a.layers, a.prefill + a.decode + 64)
        entry = compare_weights(a, gg, a.work / f"seqc-{a.layers}l-{fmt}",
                                [f"--weights={FORMATS[fmt][2]}",
                                 f"--context={a.prefill + a.decode + 64}"], fmt)
        entry.update(gguf=FORMATS[fmt][0], seqc_weights=FORMATS[fmt][2])
        result["weights"].append(entry)
    contexts = a.contexts
    if contexts:
        gg = a.work / f"tinyllama-{a.depth_layers}l-f16-depth.gguf"
        top = max(int(c) for c in contexts.split(","))
        if not gg.exists():
            print(f"writing {gg}", flush=True)
            write_gguf(gg, "f16", a.depth_layers, top + a.decode + 64)
        for label, flags, kv in CACHES:
            art = a.work / f"seqc-{a.depth_layers}l-depth-{label}"
            seqc_compile(a, gg, art, ["--weights=fp16", f"--context={top + a.decode + 64}"]
                         + flags)
            j = run_json([a.build / "bin" / "seqc-run", "bench", art, "--prefill", 64,
                          "--decode", a.decode, "--rounds", 1, "--contexts", contexts])
            entry = {"cache": label, "seqc_flags": flags, "llama_cpp_kv": kv,
                     "seqc": j["decode_at_context"],
                     "seqc_kv_bytes_per_token": j.get("kv_bytes_per_token")}
            if kv:
                entry["llama.cpp"] = llama_run(a, gg, kv, contexts)["decode_at_context"]
                entry["decode_ratio"] = [
                    ratio(l["ms_per_token"], s["ms_per_token"])
                    for l, s in zip(entry["llama.cpp"], entry["seqc"])]
            print("depth", json.dumps(entry), flush=True)
            result["kv_depth"].append(entry)


if __name__ == "__main__":
    main()
