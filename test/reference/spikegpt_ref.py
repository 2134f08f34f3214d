"""Independent numpy reference of SpikeGPT inference (the official RNN mode).

Written from SpikeGPT's RNN-mode inference code (src/model_run.py, class
RWKV_RNN, as run.py uses it) and SpikingJelly's LIFNode, in float32 with the
operations in the order that code performs them, one token per call. It
shares no code with the compiler; only the checkpoint readers and writers
below are generic.

Per token (C = n_embd, L = layers, i = layer):

    x = emb[tok]                       binarised to (emb >= 0) with
                                       binary_embedding on ('auto': vocab == 77)
    for i in 0 .. L-1:
      if i == 0: x = LN(x; ln0)
      h = LN(x; ln1); xx = att_x[i]; att_x[i] = h
      xk, xv, xr = h*mix + xx*(1-mix)               (att.time_mix_{k,v,r})
      r = sigmoid(Wr xr); k = Wk xk; v = Wv xv
      WKV-4 with the max trick on (aa, bb, pp), pp = -1e30 when fresh,
      w = -exp(time_decay), u = time_first:
        ww = u + k; p = max(pp, ww); e1 = exp(pp-p); e2 = exp(ww-p)
        wkv = (e1*aa + e2*v) / (e1*bb + e2)
        ww = pp + w; p = max(ww, k); e1 = exp(ww-p); e2 = exp(k-p)
        aa = e1*aa + e2*v; bb = e1*bb + e2; pp = p
      s_att = LIF(mem_att[i], Wo (r*wkv)); x = x + s_att
      h = LN(x; ln2); xx = ffn_x[i]; ffn_x[i] = h
      xk, xr = h*mix + xx*(1-mix)                   (ffn.time_mix_{k,r})
      s_ffn = LIF(mem_ffn[i], sigmoid(Wr xr) * (Wv relu(Wk xk)^2)); x = x + s_ffn
      if N > 0 and (i+1) % N == 0: x = x / 2        (rescale_every N)
    logits = Whead LN(x; ln_out)

LIF (SpikingJelly LIFNode: decay_input, hard reset; the membrane persists
across tokens, one per layer and site):

    h = v + (x - (v - v_reset)) / tau
    s = h >= v_threshold   ('ge', SpikingJelly's heaviside)   or  h > v_threshold ('gt')
    v = v_reset where s, else h

With rescale_every N > 0, att.output.weight and ffn.value.weight of layer i
are divided by 2**(i // N) at load, as the official loader does.

API:
    load(path) -> {name: float32 array}      .pth (torch zip) or .safetensors,
        the official names; shapes as stored (time_mix [1, 1, C] in official
        checkpoints; [C] is accepted too: SpikeGPT squeezes every time_*).
    Options(binary_embedding='auto', rescale_every=6, tau=2.0, v_threshold=1.0,
            v_reset=0.0, fire='ge', ln_eps=1e-5)
    model = SpikeGPT(weights, opts); state = model.init_state()
    logits, state, spikes_att, spikes_ffn = model.step(token, state)
    random_checkpoint(n_layer, n_embd, vocab, seed) -> {name: float32 array}

Command line:
    spikegpt_ref.py random --layers 2 --embd 64 --vocab 256 --seed 0 -o X.pth|X.safetensors
    spikegpt_ref.py trace CKPT --tokens 1,2,3 [--binary-embedding auto|on|off]
        [--rescale-every N] [--fire ge|gt] -o T.npz
        (logits [T, V]; att_x, ffn_x, aa, bb, pp, mem_att, mem_ffn [T, L, C],
         the state after each token; spikes_att, spikes_ffn [T, L, C] bool)
"""

import argparse
import collections
import dataclasses
import io
import json
import math
import os
import pickle
import struct
import sys
import zipfile

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import checkpoint  # noqa: E402  (the .pth / safetensors writers)

F32 = np.float32
EMPTY_PP = -1e30
STATE_FIELDS = ("att_x", "ffn_x", "aa", "bb", "pp", "mem_att", "mem_ffn")


# --- Reading checkpoints ----------------------------------------------------------

def _bf16_to_f32(bits):
    return (np.asarray(bits, dtype=np.uint32) << 16).view(np.float32)


# torch storage class -> (numpy dtype of the bytes, decoder to float32)
_STORAGES = {
    "FloatStorage": (np.float32, None),
    "HalfStorage": (np.float16, None),
    "DoubleStorage": (np.float64, None),
    "BFloat16Storage": (np.uint16, _bf16_to_f32),
}


class _StorageType:
    def __init__(self, name):
        if name not in _STORAGES:
            raise ValueError(f"unsupported tensor storage torch.{name}")
        self.name = name


def _rebuild_tensor(storage, offset, size, stride, *_):
    item = storage.itemsize
    return np.lib.stride_tricks.as_strided(storage[offset:], shape=tuple(size),
                                           strides=tuple(s * item for s in stride)).copy()


def _rebuild_parameter(data, *_):
    return data


def read_pth(path):
    """{name: array} of a torch.save'd state_dict (zip format), without torch."""
    with zipfile.ZipFile(path) as z:
        names = z.namelist()
        pkl = next(n for n in names if n.endswith("/data.pkl"))
        root = pkl[:-len("data.pkl")]
        order = root + "byteorder"
        big = order in names and z.read(order).strip() == b"big"
        cache = {}

        class Unpickler(pickle.Unpickler):
            def find_class(self, module, name):
                if module == "collections" and name == "OrderedDict":
                    return collections.OrderedDict
                if module == "torch._utils" and name == "_rebuild_tensor_v2":
                    return _rebuild_tensor
                if module == "torch._utils" and name == "_rebuild_parameter":
                    return _rebuild_parameter
                if module == "torch" and name.endswith("Storage"):
                    return _StorageType(name)
                raise pickle.UnpicklingError(f"{path}: unexpected global {module}.{name}")

            def persistent_load(self, pid):
                _, stype, key, _loc, _numel = pid
                if key not in cache:
                    dtype, _ = _STORAGES[stype.name]
                    dt = np.dtype(dtype).newbyteorder(">" if big else "<")
                    cache[key] = np.frombuffer(z.read(root + "data/" + key), dtype=dt).astype(dtype)
                return cache[key]

        tensors = Unpickler(io.BytesIO(z.read(pkl))).load()
    # bf16 storages are read as their raw uint16 bits
    return {k: (_bf16_to_f32(v) if v.dtype == np.uint16 else v) for k, v in tensors.items()}


def read_safetensors(path):
    """{name: array} of a safetensors file (F32, F16, BF16)."""
    with open(path, "rb") as f:
        data = f.read()
    n = struct.unpack("<Q", data[:8])[0]
    header = json.loads(data[8:8 + n])
    body = data[8 + n:]
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        a, b = info["data_offsets"]
        raw = body[a:b]
        if info["dtype"] == "BF16":
            arr = _bf16_to_f32(np.frombuffer(raw, dtype="<u2"))
        else:
            arr = np.frombuffer(raw, dtype={"F32": "<f4", "F16": "<f2", "F64": "<f8"}[info["dtype"]])
        out[name] = arr.reshape(info["shape"])
    return out


def load(path):
    """Official-name weights as float32 arrays from a .pth or .safetensors file.

    Shapes are as stored: time_mix_* stay [1, 1, C] in an official checkpoint
    (SpikeGPT squeezes every time_* tensor at load; so does SpikeGPT below).
    """
    path = str(path)
    if path.endswith(".safetensors"):
        w = read_safetensors(path)
    else:
        w = read_pth(path)
    return {k: np.ascontiguousarray(v, dtype=F32) for k, v in w.items()}


def save(path, weights):
    """Writes float32 weights as .safetensors (by suffix) or torch-zip .pth."""
    path = str(path)
    if path.endswith(".safetensors"):
        checkpoint.write_safetensors(path, weights)
    else:
        checkpoint.write_pth(path, weights)


# --- The model --------------------------------------------------------------------

@dataclasses.dataclass
class Options:
    binary_embedding: str = "auto"   # auto (vocab == 77) | on | off
    rescale_every: int = 6           # RWKV_RESCALE_LAYER; 0 = off
    tau: float = 2.0
    v_threshold: float = 1.0
    v_reset: float = 0.0
    fire: str = "ge"                 # ge (SpikeGPT) | gt
    ln_eps: float = 1e-5


@dataclasses.dataclass
class State:
    """Recurrent state; every field float32 [L, C]."""
    att_x: np.ndarray
    ffn_x: np.ndarray
    aa: np.ndarray
    bb: np.ndarray
    pp: np.ndarray
    mem_att: np.ndarray
    mem_ffn: np.ndarray

    def copy(self):
        return State(*(np.array(getattr(self, f), dtype=F32) for f in STATE_FIELDS))


def n_layers(weights):
    n = 0
    while f"blocks.{n}.att.key.weight" in weights:
        n += 1
    return n


def shapes(n_layer, n_embd, vocab):
    """Official SpikeGPT (= RWKV-4) names and shapes, in state_dict order."""
    c, f = n_embd, 4 * n_embd
    s = {"emb.weight": (vocab, c)}
    for i in range(n_layer):
        b = f"blocks.{i}."
        s[b + "ln1.weight"] = s[b + "ln1.bias"] = (c,)
        s[b + "ln2.weight"] = s[b + "ln2.bias"] = (c,)
        if i == 0:
            s[b + "ln0.weight"] = s[b + "ln0.bias"] = (c,)
        s[b + "att.time_decay"] = s[b + "att.time_first"] = (c,)
        for m in "kvr":
            s[b + "att.time_mix_" + m] = (1, 1, c)
        for proj in ("key", "value", "receptance", "output"):
            s[b + f"att.{proj}.weight"] = (c, c)
        for m in "kr":
            s[b + "ffn.time_mix_" + m] = (1, 1, c)
        s[b + "ffn.key.weight"] = (f, c)
        s[b + "ffn.receptance.weight"] = (c, c)
        s[b + "ffn.value.weight"] = (c, f)
    s["ln_out.weight"] = s["ln_out.bias"] = (c,)
    s["head.weight"] = (vocab, c)
    return s


class SpikeGPT:
    """SpikeGPT in RNN mode, float32, one token per step."""

    def __init__(self, weights, opts=None):
        self.opts = opts = opts or Options()
        if opts.binary_embedding not in ("auto", "on", "off"):
            raise ValueError(f"binary_embedding must be auto|on|off, not {opts.binary_embedding!r}")
        if opts.fire not in ("ge", "gt"):
            raise ValueError(f"fire must be ge|gt, not {opts.fire!r}")
        self.n_layer = n_layers(weights)
        self.vocab, self.n_embd = weights["emb.weight"].shape
        expected = shapes(self.n_layer, self.n_embd, self.vocab)
        for name, shape in expected.items():
            if name not in weights:
                raise KeyError(f"checkpoint lacks {name} (expected shape {list(shape)})")
            got = np.shape(weights[name])
            if name.split(".")[-1].startswith("time_"):
                ok = int(np.prod(got)) == self.n_embd
            else:
                ok = tuple(got) == shape
            if not ok:
                raise ValueError(f"{name} has shape {list(got)}, expected {list(shape)}")
        w = {}
        for name, a in weights.items():
            a = np.asarray(a, dtype=F32)
            if ".time_" in name:
                a = a.reshape(-1)
            if name.endswith(".time_decay"):
                a = -np.exp(a)
            w[name] = a
        n = opts.rescale_every
        if n > 0:
            for i in range(self.n_layer):
                for name in (f"blocks.{i}.att.output.weight", f"blocks.{i}.ffn.value.weight"):
                    w[name] = (w[name] / F32(2 ** (i // n))).astype(F32)
        self.w = w
        self.binary = (opts.binary_embedding == "on" or
                       (opts.binary_embedding == "auto" and self.vocab == 77))

    def init_state(self):
        shape = (self.n_layer, self.n_embd)
        z = lambda: np.zeros(shape, dtype=F32)  # noqa: E731
        return State(att_x=z(), ffn_x=z(), aa=z(), bb=z(),
                     pp=np.full(shape, EMPTY_PP, dtype=F32), mem_att=z(), mem_ffn=z())

    def _ln(self, x, prefix):
        mean = x.mean(dtype=F32)
        var = ((x - mean) ** 2).mean(dtype=F32)
        return ((x - mean) / np.sqrt(var + F32(self.opts.ln_eps)) * self.w[prefix + ".weight"]
                + self.w[prefix + ".bias"]).astype(F32)

    def _lif(self, v, x):
        o = self.opts
        tau, thr, rst = F32(o.tau), F32(o.v_threshold), F32(o.v_reset)
        h = (v + (x - (v - rst)) / tau).astype(F32)
        s = h >= thr if o.fire == "ge" else h > thr
        return s, np.where(s, rst, h).astype(F32)

    def step(self, token, state):
        """One token -> (logits [V], new state, spikes_att [L, C], spikes_ffn [L, C])."""
        w = self.w
        st = state.copy()
        sig = lambda z: (F32(1) / (F32(1) + np.exp(-z))).astype(F32)  # noqa: E731
        spikes_att = np.zeros((self.n_layer, self.n_embd), dtype=bool)
        spikes_ffn = np.zeros_like(spikes_att)
        x = w["emb.weight"][int(token)]
        if self.binary:
            x = (x >= 0).astype(F32)
        for i in range(self.n_layer):
            b = f"blocks.{i}."
            if i == 0:
                x = self._ln(x, b + "ln0")
            # time mixing
            h = self._ln(x, b + "ln1")
            xx = st.att_x[i].copy()
            st.att_x[i] = h
            mk, mv, mr = (w[b + "att.time_mix_" + m] for m in "kvr")
            xk = h * mk + xx * (F32(1) - mk)
            xv = h * mv + xx * (F32(1) - mv)
            xr = h * mr + xx * (F32(1) - mr)
            r = sig(w[b + "att.receptance.weight"] @ xr)
            k = w[b + "att.key.weight"] @ xk
            v = w[b + "att.value.weight"] @ xv
            aa, bb, pp = st.aa[i], st.bb[i], st.pp[i]
            ww = w[b + "att.time_first"] + k
            p = np.maximum(pp, ww)
            e1, e2 = np.exp(pp - p), np.exp(ww - p)
            wkv = (e1 * aa + e2 * v) / (e1 * bb + e2)
            ww = pp + w[b + "att.time_decay"]
            p = np.maximum(ww, k)
            e1, e2 = np.exp(ww - p), np.exp(k - p)
            st.aa[i] = e1 * aa + e2 * v
            st.bb[i] = e1 * bb + e2
            st.pp[i] = p
            att = w[b + "att.output.weight"] @ (r * wkv)
            s, st.mem_att[i] = self._lif(st.mem_att[i], att)
            spikes_att[i] = s
            x = (x + s.astype(F32)).astype(F32)
            # channel mixing
            h = self._ln(x, b + "ln2")
            xx = st.ffn_x[i].copy()
            st.ffn_x[i] = h
            mk, mr = (w[b + "ffn.time_mix_" + m] for m in "kr")
            xk = h * mk + xx * (F32(1) - mk)
            xr = h * mr + xx * (F32(1) - mr)
            r = sig(w[b + "ffn.receptance.weight"] @ xr)
            kk = np.square(np.maximum(w[b + "ffn.key.weight"] @ xk, F32(0)))
            ffn = r * (w[b + "ffn.value.weight"] @ kk)
            s, st.mem_ffn[i] = self._lif(st.mem_ffn[i], ffn)
            spikes_ffn[i] = s
            x = (x + s.astype(F32)).astype(F32)
            n = self.opts.rescale_every
            if n > 0 and (i + 1) % n == 0:
                x = (x / F32(2)).astype(F32)
        logits = (w["head.weight"] @ self._ln(x, "ln_out")).astype(F32)
        return logits, st, spikes_att, spikes_ffn

    def run(self, tokens, state=None):
        """Steps through tokens; returns the trace dict and the final state."""
        state = self.init_state() if state is None else state
        out = {k: [] for k in ("logits",) + STATE_FIELDS + ("spikes_att", "spikes_ffn")}
        for tok in tokens:
            logits, state, sa, sf = self.step(tok, state)
            out["logits"].append(logits)
            for f in STATE_FIELDS:
                out[f].append(getattr(state, f))
            out["spikes_att"].append(sa)
            out["spikes_ffn"].append(sf)
        trace = {k: np.stack(v) if v else np.zeros((0,)) for k, v in out.items()}
        return trace, state


# --- Random checkpoints -----------------------------------------------------------

# Gains of the projections into the LIF sites: they put the LIF inputs at a
# scale where a moderate fraction of the neurons fires (rates printed by
# `random`; about 20% at the default shapes).
ATT_OUTPUT_GAIN = 8.0
FFN_VALUE_GAIN = 6.0


def random_checkpoint(n_layer, n_embd, vocab, seed=0):
    """Seeded float32 weights with the official names and shapes.

    time_decay, time_first and time_mix_* follow SpikeGPT's model.py
    RWKV_TimeMix / RWKV_ChannelMix initialisation (the trained values stay
    near it); layer norms 1 + N(0, 0.1^2) / N(0, 0.1^2); embedding N(0, 1);
    matrices N(0, 1/fan_in), att.output and ffn.value scaled up so that the
    LIF inputs cross the threshold at a moderate rate.
    """
    rng = np.random.default_rng(seed)
    c = n_embd
    ramp = np.arange(c, dtype=np.float64) / c
    out = {}
    for name, shape in shapes(n_layer, n_embd, vocab).items():
        layer = int(name.split(".")[1]) if name.startswith("blocks.") else 0
        r01 = layer / (n_layer - 1) if n_layer > 1 else 0.0
        r10 = 1.0 - layer / n_layer
        if name == "emb.weight":
            a = rng.normal(0.0, 1.0, shape)
        elif name.endswith("time_decay"):
            h = np.arange(c, dtype=np.float64)
            a = -5 + 8 * (h / max(c - 1, 1)) ** (0.7 + 1.3 * r01)
        elif name.endswith("time_first"):
            zigzag = np.array([(i + 1) % 3 - 1 for i in range(c)], dtype=np.float64) * 0.5
            a = math.log(0.3) + zigzag
        elif name.endswith("att.time_mix_k") or name.startswith("blocks.") and ".ffn.time_mix_" in name:
            a = ramp ** r10
        elif name.endswith("att.time_mix_v"):
            a = ramp ** r10 + 0.3 * r01
        elif name.endswith("att.time_mix_r"):
            a = ramp ** (0.5 * r10)
        elif len(shape) == 1:
            a = (1.0 if name.endswith(".weight") else 0.0) + rng.normal(0.0, 0.1, shape)
        else:
            a = rng.normal(0.0, 1.0 / math.sqrt(shape[1]), shape)
            if name.endswith("att.output.weight"):
                a *= ATT_OUTPUT_GAIN
            elif name.endswith("ffn.value.weight"):
                a *= FFN_VALUE_GAIN
        out[name] = np.asarray(a, dtype=np.float64).reshape(shape).astype(F32)
    return out


# --- Command line -----------------------------------------------------------------

def _options(args):
    return Options(binary_embedding=args.binary_embedding, rescale_every=args.rescale_every,
                   fire=args.fire)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("random", help="write a seeded random checkpoint")
    r.add_argument("--layers", type=int, default=2)
    r.add_argument("--embd", type=int, default=64)
    r.add_argument("--vocab", type=int, default=256)
    r.add_argument("--seed", type=int, default=0)
    r.add_argument("-o", "--output", required=True)
    r.add_argument("--rates-tokens", type=int, default=32,
                   help="tokens over which the firing rates are printed")
    t = sub.add_parser("trace", help="per-token golden trace of a checkpoint")
    t.add_argument("checkpoint")
    t.add_argument("--tokens", required=True, help="comma-separated token ids")
    t.add_argument("--binary-embedding", default="auto", choices=("auto", "on", "off"))
    t.add_argument("--rescale-every", type=int, default=6)
    t.add_argument("--fire", default="ge", choices=("ge", "gt"))
    t.add_argument("-o", "--output", required=True)
    args = ap.parse_args(argv)

    if args.cmd == "random":
        w = random_checkpoint(args.layers, args.embd, args.vocab, args.seed)
        save(args.output, w)
        toks = np.random.default_rng(args.seed + 1).integers(0, args.vocab, args.rates_tokens)
        trace, _ = SpikeGPT(w).run(toks)
        att = trace["spikes_att"].mean(axis=(0, 2))
        ffn = trace["spikes_ffn"].mean(axis=(0, 2))
        print(f"wrote {args.output}; firing rate per layer over {len(toks)} tokens: "
              + " ".join(f"L{i} att {a:.3f} ffn {f:.3f}" for i, (a, f) in enumerate(zip(att, ffn))))
        return 0
    w = load(args.checkpoint)
    tokens = [int(s) for s in args.tokens.split(",") if s.strip()]
    model = SpikeGPT(w, _options(args))
    trace, _ = model.run(tokens)
    np.savez(args.output, **trace)
    return 0


if __name__ == "__main__":
    sys.exit(main())
