"""Trains a tiny byte-level SpikeGPT on tinyshakespeare (torch, CPU).

    /usr/bin/python3 models/train_spikegpt.py [--steps N] [--threads 1] ...

The model is SpikeGPT (official parameter names and shapes, the same as
RWKV-4's: the LIF neurons have none): RWKV-4 blocks whose attention and
feed-forward outputs pass through leaky integrate-and-fire neurons before
they are added to the residual stream, x + LIF1(att(ln1 x)), then
+ LIF2(ffn(ln2 x)). The vocabulary is the 256 byte values, so the embedding
is real-valued: the official inference code binarises it only for its
77-symbol vocabulary (binary_embedding 'auto' is 'off' here), and this
training does not binarise it either, so that training and inference agree.
With 4 layers the rescale every 6 layers never applies.

Training is SpikeGPT's (src/model.py Block): multi-step LIF over the
sequence with tau 2, threshold 1, hard reset to 0, decay_input, the spike a
Heaviside step (h >= threshold) whose gradient is the ATan surrogate
(alpha 2), the reset not detached; membranes start at 0 for every sequence.
The WKV is RWKV-4's parallel form (models/train_rwkv4.py). Unlike the
official training there is no dropout (the model is tiny and trains for
minutes).

Evaluation scores the held-out last 10% of the bytes as one continuous
stream with the official RNN-mode math (src/model_run.py: one token at a
time, WKV with the max trick, membranes persisting across tokens), in
float32 torch: the number seqc reproduces. The same stream is also scored
by the independent numpy reference, test/reference/spikegpt_ref.py
(--ref-eval, float32), and in windows of --ctx bytes by the training form.

Writes the state_dict in the official layout (float32, time_mix [1, 1, C])
with torch.save to --out, and next to it a .json with the hyperparameters,
the losses, the held-out perplexities, firing rates and the timings.
"""

import argparse
import collections
import hashlib
import json
import math
import sys
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent))
import train_rwkv4 as rwkv  # noqa: E402  (RWKV-4 time/channel mixing, WKV, schedule)

REPO = Path(__file__).resolve().parent.parent
VOCAB = 256
LN_EPS = 1e-5
HELDOUT_FRACTION = 0.1
TAU, V_THRESHOLD, V_RESET, ATAN_ALPHA = 2.0, 1.0, 0.0, 2.0


# --- Spiking neurons (training form) ----------------------------------------------

class SpikeATan(torch.autograd.Function):
    """Forward: heaviside(z) = (z >= 0); backward: ATan surrogate
    d/dz [atan(pi/2 alpha z) / pi + 1/2] = alpha/2 / (1 + (pi/2 alpha z)^2)."""

    @staticmethod
    def forward(ctx, z):
        ctx.save_for_backward(z)
        return (z >= 0).to(z.dtype)

    @staticmethod
    def backward(ctx, grad):
        (z,) = ctx.saved_tensors
        return grad * (ATAN_ALPHA / 2) / (1 + (math.pi / 2 * ATAN_ALPHA * z) ** 2)


def lif_multistep(x, v=None):
    """LIF over x [B, T, C] along T from membrane v (0 if None).

    h = v + (x - (v - v_reset)) / tau; s = (h >= v_th); v = h (1 - s) + v_reset s.
    Returns (spikes [B, T, C], final v [B, C]).
    """
    v = torch.zeros_like(x[:, 0]) if v is None else v
    out = []
    for t in range(x.shape[1]):
        h = v + (x[:, t] - (v - V_RESET)) / TAU
        s = SpikeATan.apply(h - V_THRESHOLD)
        v = h * (1 - s) + V_RESET * s
        out.append(s)
    return torch.stack(out, 1), v


class Block(nn.Module):
    """SpikeGPT block: x + LIF1(att(ln1 x)), then + LIF2(ffn(ln2 x))."""

    def __init__(self, layer, n_layer, c, wkv_chunk):
        super().__init__()
        self.ln1 = nn.LayerNorm(c, eps=LN_EPS)
        self.ln2 = nn.LayerNorm(c, eps=LN_EPS)
        if layer == 0:
            self.ln0 = nn.LayerNorm(c, eps=LN_EPS)
        self.att = rwkv.TimeMix(layer, n_layer, c, wkv_chunk)
        self.ffn = rwkv.ChannelMix(layer, n_layer, c, 4 * c)

    def forward(self, x, rates=None):
        s1, _ = lif_multistep(self.att(self.ln1(x)))
        x = x + s1
        s2, _ = lif_multistep(self.ffn(self.ln2(x)))
        if rates is not None:
            rates.append((s1.mean().item(), s2.mean().item()))
        return x + s2


class SpikeGPT(nn.Module):
    """SpikeGPT whose state_dict has the official names, shapes and order."""

    def __init__(self, n_layer, c, wkv_chunk, vocab=VOCAB):
        super().__init__()
        self.emb = nn.Embedding(vocab, c)
        self.blocks = nn.ModuleList(Block(i, n_layer, c, wkv_chunk) for i in range(n_layer))
        self.ln_out = nn.LayerNorm(c, eps=LN_EPS)
        self.head = rwkv.Projection(c, vocab)
        rwkv.RWKV4._init_matrices(self)  # the official RWKV-4 / SpikeGPT init

    def forward(self, tokens, rates=None):
        """tokens [B, T] (membranes and WKV from zero) -> logits [B, T, V]."""
        x = self.blocks[0].ln0(self.emb(tokens))
        for block in self.blocks:
            x = block(x, rates)
        return self.head(self.ln_out(x))

    def set_wkv_chunk(self, chunk):
        for block in self.blocks:
            block.att.wkv_chunk = chunk


# --- RNN mode (evaluation), float32 torch -----------------------------------------

class RNNState:
    """att_x, ffn_x, aa, bb, pp, mem_att, mem_ffn: [L, C] each (pp = -1e30)."""

    def __init__(self, n_layer, c, dtype=torch.float32):
        z = lambda: torch.zeros(n_layer, c, dtype=dtype)  # noqa: E731
        self.att_x, self.ffn_x, self.aa, self.bb = z(), z(), z(), z()
        self.pp = torch.full((n_layer, c), -1e30, dtype=dtype)
        self.mem_att, self.mem_ffn = z(), z()


def _ln(x, p, prefix):
    return F.layer_norm(x, (x.shape[-1],), p[prefix + ".weight"], p[prefix + ".bias"], LN_EPS)


def _lif_steps(x, v):
    """RNN-mode LIF over the rows of x [T, C] from v [C]; spikes, new v."""
    out = torch.empty_like(x)
    for t in range(x.shape[0]):
        h = v + (x[t] - (v - V_RESET)) / TAU
        s = h >= V_THRESHOLD
        v = torch.where(s, torch.full_like(h, V_RESET), h)
        out[t] = s
    return out, v


@torch.no_grad()
def rnn_forward(p, tokens, st, counts=None):
    """The official RNN mode over tokens, carrying st; returns logits [T, V].

    Token by token it is model_run.py's computation; the projections of a
    layer are batched over the tokens (the same products, row by row) and
    the WKV and the LIF run token by token.
    """
    x = p["emb.weight"][torch.as_tensor(tokens)]
    n_layer = st.aa.shape[0]
    for i in range(n_layer):
        b = f"blocks.{i}."
        if i == 0:
            x = _ln(x, p, b + "ln0")
        h = _ln(x, p, b + "ln1")
        sx = torch.cat([st.att_x[i][None], h[:-1]])
        st.att_x[i] = h[-1]
        mk, mv, mr = (p[b + "att.time_mix_" + m].reshape(-1) for m in "kvr")
        r = torch.sigmoid((h * mr + sx * (1 - mr)) @ p[b + "att.receptance.weight"].T)
        k = (h * mk + sx * (1 - mk)) @ p[b + "att.key.weight"].T
        v = (h * mv + sx * (1 - mv)) @ p[b + "att.value.weight"].T
        w, u = -torch.exp(p[b + "att.time_decay"]), p[b + "att.time_first"]
        aa, bb, pp = st.aa[i], st.bb[i], st.pp[i]
        wkv = torch.empty_like(k)
        for t in range(k.shape[0]):
            ww = u + k[t]
            q = torch.maximum(pp, ww)
            e1, e2 = torch.exp(pp - q), torch.exp(ww - q)
            wkv[t] = (e1 * aa + e2 * v[t]) / (e1 * bb + e2)
            ww = pp + w
            q = torch.maximum(ww, k[t])
            e1, e2 = torch.exp(ww - q), torch.exp(k[t] - q)
            aa, bb, pp = e1 * aa + e2 * v[t], e1 * bb + e2, q
        st.aa[i], st.bb[i], st.pp[i] = aa, bb, pp
        s1, st.mem_att[i] = _lif_steps((r * wkv) @ p[b + "att.output.weight"].T, st.mem_att[i])
        x = x + s1
        h = _ln(x, p, b + "ln2")
        sx = torch.cat([st.ffn_x[i][None], h[:-1]])
        st.ffn_x[i] = h[-1]
        mk, mr = (p[b + "ffn.time_mix_" + m].reshape(-1) for m in "kr")
        r = torch.sigmoid((h * mr + sx * (1 - mr)) @ p[b + "ffn.receptance.weight"].T)
        kk = torch.square(torch.relu((h * mk + sx * (1 - mk)) @ p[b + "ffn.key.weight"].T))
        s2, st.mem_ffn[i] = _lif_steps(r * (kk @ p[b + "ffn.value.weight"].T), st.mem_ffn[i])
        x = x + s2
        if counts is not None:
            counts[i] += np.array([s1.sum().item(), s2.sum().item()])
    return _ln(x, p, "ln_out") @ p["head.weight"].T


def continuous_nll(p, n_layer, data, chunk=512, dtype=torch.float32):
    """Summed NLL of data[1:] as one stream from the fresh state (byte 0 fed,
    not scored); also the spikes per layer and site. Returns (nll, n, counts)."""
    p = {k: v.to(dtype) for k, v in p.items()}
    st = RNNState(n_layer, p["emb.weight"].shape[1], dtype)
    counts = np.zeros((n_layer, 2))
    total = 0.0
    for start in range(0, len(data) - 1, chunk):
        inp = data[start:min(start + chunk, len(data) - 1)]
        tgt = torch.as_tensor(data[start + 1:start + 1 + len(inp)])
        logp = torch.log_softmax(rnn_forward(p, inp, st, counts).double(), -1)
        total -= logp[torch.arange(len(tgt)), tgt].sum().item()
    return total, len(data) - 1, counts


def reference_nll(state_dict, data):
    """The same stream through the independent numpy reference (float32)."""
    sys.path.insert(0, str(REPO / "test" / "reference"))
    import spikegpt_ref
    w = {k: v.detach().float().numpy() for k, v in state_dict.items()}
    model = spikegpt_ref.SpikeGPT(w, spikegpt_ref.Options())
    assert not model.binary
    state = model.init_state()
    total = 0.0
    for j in range(len(data) - 1):
        logits, state, _, _ = model.step(int(data[j]), state)
        z = logits.astype(np.float64)
        m = z.max()
        total -= z[data[j + 1]] - m - math.log(np.exp(z - m).sum())
    return total, len(data) - 1


@torch.no_grad()
def windowed_nll(model, data, ctx, batch=64):
    """Summed NLL of data[1:] in non-overlapping windows of ctx tokens, each
    from the zero state (training form)."""
    data = torch.as_tensor(data, dtype=torch.long)
    n_full = (len(data) - 1) // ctx
    total = 0.0
    for start in range(0, n_full, batch):
        idx = torch.arange(start, min(start + batch, n_full))[:, None] * ctx
        pos = idx + torch.arange(ctx)[None, :]
        total += F.cross_entropy(model(data[pos]).reshape(-1, VOCAB), data[pos + 1].reshape(-1),
                                 reduction="sum").item()
    rest = n_full * ctx
    if rest < len(data) - 1:
        total += F.cross_entropy(model(data[rest:-1][None])[0], data[rest + 1:],
                                 reduction="sum").item()
    return total, len(data) - 1


def self_check(model, data, tokens=100, feed=7):
    """Training form (float64, whole sequence from zero) vs the RNN mode
    (float64, `feed` tokens per call): spikes are discontinuous, so the check
    is the largest log-probability difference (0 up to rounding when every
    spike agrees). Returns it."""
    ref = SpikeGPT(len(model.blocks), model.emb.weight.shape[1], tokens).double()
    ref.load_state_dict(model.state_dict())
    seq = torch.as_tensor(data[:tokens], dtype=torch.long)[None]
    with torch.no_grad():
        par = torch.log_softmax(ref(seq)[0], -1)
    p = {k: v.double() for k, v in model.state_dict().items()}
    st = RNNState(len(model.blocks), model.emb.weight.shape[1], torch.float64)
    rnn = torch.cat([torch.log_softmax(rnn_forward(p, data[s:min(s + feed, tokens)], st), -1)
                     for s in range(0, tokens, feed)])
    return float((par - rnn).abs().max())


# --- Training ---------------------------------------------------------------------

def train(model, train_data, args):
    rng = np.random.default_rng(args.seed)
    opt = rwkv.make_optimizer(model, args)
    data = torch.as_tensor(train_data, dtype=torch.long)
    losses, logged, rates = [], 0.0, []
    start = last = time.perf_counter()
    for step in range(args.steps):
        for group in opt.param_groups:
            group["lr"] = rwkv.lr_at(step, args)
        idx = torch.as_tensor(rng.integers(0, len(data) - args.ctx - 1, args.batch))
        pos = idx[:, None] + torch.arange(args.ctx)[None, :]
        rates.clear()
        logits = model(data[pos], rates)
        loss = F.cross_entropy(logits.reshape(-1, VOCAB), data[pos + 1].reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), args.grad_clip)
        opt.step()
        losses.append(loss.item())
        logged += loss.item()
        if (step + 1) % args.log_every == 0 or step + 1 == args.steps:
            now = time.perf_counter()
            n = (step % args.log_every) + 1
            fire = " ".join(f"{a:.2f}/{f:.2f}" for a, f in rates)
            print(f"step {step + 1:6d}/{args.steps}  loss {logged / n:.4f}  "
                  f"lr {rwkv.lr_at(step, args):.2e}  firing att/ffn {fire}  "
                  f"{n * args.batch * args.ctx / (now - last):,.0f} tok/s", flush=True)
            logged, last = 0.0, now
    seconds = time.perf_counter() - start
    tail = losses[-max(1, len(losses) // 10):]
    return float(np.mean(tail)), seconds, losses


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path,
                        default=REPO / ".." / "shared" / "data" / "tinyshakespeare.txt")
    parser.add_argument("--out", type=Path,
                        default=REPO / "models" / "spikegpt-tiny-shakespeare.pth")
    parser.add_argument("--layers", type=int, default=4)
    parser.add_argument("--embd", type=int, default=128)
    parser.add_argument("--ctx", type=int, default=128)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--wkv-chunk", type=int, default=16)
    parser.add_argument("--steps", type=int, default=1200,
                        help="default: about 20 minutes on one thread (the embedded model)")
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--lr-final", type=float, default=1e-4)
    parser.add_argument("--warmup", type=int, default=50)
    parser.add_argument("--weight-decay", type=float, default=0.01)
    parser.add_argument("--grad-clip", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--log-every", type=int, default=25)
    parser.add_argument("--no-ref-eval", dest="ref_eval", action="store_false",
                        help="skip scoring the held-out stream with the numpy reference")
    parser.add_argument("--heldout-limit", type=int, default=0,
                        help="score only the first N held-out bytes (quick runs; 0 = all)")
    args = parser.parse_args()
    args.warmup = min(args.warmup, max(args.steps // 10, 1))

    if not args.data.is_file():
        sys.exit(f"error: training data {args.data} not found (tinyshakespeare.txt; --data)")
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    raw = args.data.read_bytes()
    data = np.frombuffer(raw, dtype=np.uint8).astype(np.int64)
    split = len(data) - int(len(data) * HELDOUT_FRACTION)
    train_data, heldout = data[:split], data[split:]
    if args.heldout_limit:
        heldout = heldout[:args.heldout_limit]

    model = SpikeGPT(args.layers, args.embd, args.wkv_chunk)
    n_params = sum(p.numel() for p in model.parameters())
    print(f"SpikeGPT {args.layers} x {args.embd}, {n_params:,} parameters; "
          f"train bytes [0, {split}), held-out [{split}, {len(data)})", flush=True)
    train_loss, seconds, losses = train(model, train_data, args)
    model.eval()

    check = self_check(model, heldout)
    print(f"self-check: training form vs RNN mode float64 log-probs differ by {check:.1e}",
          flush=True)
    win_nll, win_n = windowed_nll(model, heldout, args.ctx)
    sd = rwkv.official_state_dict(model)
    t0 = time.perf_counter()
    cont_nll, cont_n, counts = continuous_nll(sd, args.layers, heldout)
    cont_seconds = time.perf_counter() - t0
    win_ppl, cont_ppl = math.exp(win_nll / win_n), math.exp(cont_nll / cont_n)
    rates = (counts / (cont_n * args.embd)).tolist()
    print(f"held-out ppl/byte: windowed {win_ppl:.4f}, continuous RNN mode {cont_ppl:.4f} "
          f"({cont_seconds:.0f} s); firing rate per layer att/ffn "
          + " ".join(f"{a:.3f}/{f:.3f}" for a, f in rates), flush=True)
    ref_ppl, ref_seconds = None, None
    if args.ref_eval:
        t0 = time.perf_counter()
        ref_nll, ref_n = reference_nll(sd, heldout)
        ref_seconds = time.perf_counter() - t0
        ref_ppl = math.exp(ref_nll / ref_n)
        print(f"held-out ppl/byte, numpy reference (float32): {ref_ppl:.4f} "
              f"({ref_seconds:.0f} s)", flush=True)

    args.out.parent.mkdir(parents=True, exist_ok=True)
    torch.save(collections.OrderedDict(sd), args.out)
    info = {
        "model": "SpikeGPT, byte-level (vocab 256 = byte values)",
        "checkpoint": args.out.name,
        "layers": args.layers, "embd": args.embd, "ffn": 4 * args.embd, "vocab": VOCAB,
        "parameters": n_params,
        "inference_options": {
            "binary_embedding": "off (auto: vocab 256 != 77; training did not binarise)",
            "rescale_every": "6 (official; never applies with 4 layers)",
            "lif": {"tau": TAU, "v_threshold": V_THRESHOLD, "v_reset": V_RESET,
                    "reset": "hard", "decay_input": True, "fire": "ge"}},
        "training": {"steps": args.steps, "batch": args.batch, "ctx": args.ctx,
                     "wkv_chunk": args.wkv_chunk,
                     "lif": "multi-step, membranes from 0 per sequence, ATan surrogate "
                            f"alpha {ATAN_ALPHA}, reset not detached",
                     "dropout": 0.0,
                     "optimizer": "AdamW betas (0.9, 0.99) eps 1e-8, weight decay on matrices",
                     "lr": args.lr, "lr_final": args.lr_final, "warmup_steps": args.warmup,
                     "schedule": "linear warmup, cosine decay to lr_final",
                     "weight_decay": args.weight_decay, "grad_clip": args.grad_clip,
                     "seed": args.seed, "threads": args.threads,
                     "train_loss": train_loss,
                     "train_loss_definition": "mean cross-entropy (nats/byte) of the last 10% of steps",
                     "loss_every_100_steps": [round(float(np.mean(losses[s:s + 100])), 4)
                                              for s in range(0, len(losses), 100)],
                     "seconds": round(seconds, 1)},
        "data": {"file": args.data.name, "sha256": hashlib.sha256(raw).hexdigest(),
                 "bytes": len(data), "train_bytes": [0, split],
                 "heldout_bytes": [split, len(data)]},
        "heldout": {
            "scored_bytes": cont_n,
            "continuous_ppl": cont_ppl,
            "continuous_definition": (
                "exp(mean NLL) over held-out bytes 1 .. N-1; one stream from the fresh "
                "state (WKV and membranes), byte 0 fed but not scored, byte j scored given "
                "held-out bytes 0 .. j-1; official RNN-mode math, float32 torch"),
            "continuous_seconds": round(cont_seconds, 1),
            "reference_continuous_ppl": ref_ppl,
            "reference_definition": ("the same stream through test/reference/spikegpt_ref.py "
                                     "(numpy float32, one token per step)"),
            "reference_seconds": None if ref_seconds is None else round(ref_seconds, 1),
            "firing_rate_per_layer_att_ffn": rates,
            "windowed_ppl": win_ppl,
            "windowed_definition": (
                f"exp(mean NLL) over held-out bytes 1 .. N-1; non-overlapping windows of "
                f"{args.ctx} input bytes, each from zero WKV state and membranes "
                "(training form, float32)"),
            "self_check_max_logprob_diff": check,
            "self_check_definition": ("training form vs RNN mode, float64, first 100 "
                                      "held-out bytes, RNN fed 7 bytes per call; the "
                                      "residual stream receives only spikes, so 0 means "
                                      "every spike agreed"),
        },
        "torch_version": torch.__version__,
    }
    args.out.with_suffix(".json").write_text(json.dumps(info, indent=2) + "\n")
    print(f"wrote {args.out} and {args.out.with_suffix('.json')}")


if __name__ == "__main__":
    main()
