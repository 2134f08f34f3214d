"""Trains a tiny byte-level RWKV-4 on tinyshakespeare (torch, CPU).

    /usr/bin/python3 models/train_rwkv4.py [--steps N] [--threads 1] ...

The model is the official RWKV-4 (same parameter names and shapes as the
official checkpoints, ln0 on the first block, ffn size 4C) with a vocabulary
of the 256 byte values. Training uses the parallel (softmax) form of the
WKV, in blocks of --wkv-chunk tokens, and starts every sequence from the
zero state; evaluation scores the held-out
last 10% of the bytes both in windows (parallel form) and as one continuous
stream through the recurrent form in float64, the way a runtime that carries
the state over the whole text sees it.

Writes the state_dict in the official layout (float32, time_mix tensors
[1, 1, C]) with torch.save to --out, and next to it a .json with the
hyperparameters, the losses, the held-out perplexities and the timings.

The default --steps takes about 10 minutes on one thread of the project's
machine (about 0.7 s a step), the continuous evaluation about 2 more.
"""

import argparse
import collections
import copy
import hashlib
import json
import math
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

REPO = Path(__file__).resolve().parent.parent
VOCAB = 256  # raw bytes
LN_EPS = 1e-5
HELDOUT_FRACTION = 0.1


# --- Model (training form) ------------------------------------------------------

def token_shift(x):
    """x [B, T, C] -> the previous token's x, zeros at position 0."""
    return F.pad(x, (0, 0, 1, -1))


def intra_chunk_logits(time_decay, time_first, q):
    """[C, q, q] WKV logits within q tokens, without the keys.

    Entry [c, t, i] is -(t-1-i) exp(time_decay[c]) for i < t,
    time_first[c] for i = t and -inf for i > t.
    """
    t = torch.arange(q, device=time_decay.device)
    lag = (t[:, None] - 1 - t[None, :]).to(time_decay.dtype)        # t-1-i
    decay = -lag * torch.exp(time_decay)[:, None, None]
    bonus = time_first[:, None, None].expand_as(decay)
    return torch.where(t[None, :] < t[:, None], decay,
                       torch.where(t[None, :] == t[:, None], bonus,
                                   torch.full_like(decay, -math.inf)))


def wkv_parallel(time_decay, time_first, k, v, chunk):
    """RWKV-4 WKV over whole sequences from the zero state, as softmaxes.

    Per channel, y_t = sum_i softmax_i(L[t, i]) v_i with
    L[t, i] = -(t-1-i) exp(time_decay) + k_i for i < t, time_first + k_t for
    i = t and -inf for i > t: the RNN's (A + e^{u+k_t} v_t) / (B + e^{u+k_t})
    with A, B summed from zero, numerically stable in any precision.

    With chunk >= T this is one T x T softmax per channel. A smaller chunk
    splits the sequence into blocks of `chunk` tokens: within a block the
    same softmax, and the tokens before it enter as one more softmax entry,
    their log-sum-exp weight log B (decayed to each token) with their mean
    value A / B. The result is the same; the cost drops from T^2 to
    T * (chunk + 1) per channel.
    k, v: [B, T, C]; returns y [B, T, C].
    """
    n_tok = k.shape[1]
    q = min(chunk, n_tok)
    rate = torch.exp(time_decay)                                    # w = -rate
    base = intra_chunk_logits(time_decay, time_first, q)            # [C, q, q]
    j = torch.arange(q, dtype=k.dtype, device=k.device)
    to_token = -j[None, :] * rate[:, None]                          # [C, q]: j w
    to_end = -(q - 1 - j)[None, :] * rate[:, None]                  # [C, q]: (q-1-i) w
    blocks = zip(k.transpose(1, 2).split(q, -1), v.transpose(1, 2).split(q, -1))
    ys, log_b, mean_v = [], None, None
    for s, (kc, vc) in zip(range(0, n_tok, q), blocks):            # [B, C, n]
        n = kc.shape[-1]
        logits = base[:, :n, :n] + kc[:, :, None, :]                # [B, C, n, n]
        values = vc
        if log_b is not None:  # the tokens before this block
            past = log_b[:, :, None] + to_token[:, :n]
            logits = torch.cat([logits, past[..., None]], -1)
            values = torch.cat([vc, mean_v[..., None]], -1)
        ys.append((torch.softmax(logits, -1) * values[:, :, None, :]).sum(-1))
        if s + q < n_tok:  # (A, B) after this block, as log B and A / B
            end = kc + to_end
            if log_b is not None:
                end = torch.cat([end, (log_b - q * rate)[..., None]], -1)
            log_b = torch.logsumexp(end, -1)
            mean_v = (torch.softmax(end, -1) * values).sum(-1)
    return torch.cat(ys, -1).transpose(1, 2)


class Projection(nn.Module):
    """y = x @ weight.T without bias (nn.Linear's parameter name and shape).

    Computed as a 1x1 convolution, which torch runs on its bundled oneDNN:
    Debian's torch takes matrix products from the system BLAS, by default
    the reference one, with which nn.Linear trains about 10x slower.
    """

    def __init__(self, n_in, n_out):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(n_out, n_in))

    def forward(self, x):
        """x [B, T, n_in] -> [B, T, n_out]."""
        return F.conv1d(x.transpose(1, 2), self.weight[:, :, None]).transpose(1, 2)


def channel_ramp(c):
    """i / C for i in 0 .. C-1, shaped [1, 1, C]."""
    return (torch.arange(c, dtype=torch.float32) / c)[None, None, :]


class TimeMix(nn.Module):
    """RWKV-4 attention (time mixing), official parameter names."""

    def __init__(self, layer, n_layer, c, wkv_chunk):
        super().__init__()
        self.wkv_chunk = wkv_chunk
        ratio_0_to_1 = layer / (n_layer - 1) if n_layer > 1 else 0.0
        ratio_1_to_0 = 1.0 - layer / n_layer
        h = torch.arange(c, dtype=torch.float32)
        self.time_decay = nn.Parameter(
            -5 + 8 * (h / max(c - 1, 1)) ** (0.7 + 1.3 * ratio_0_to_1))
        zigzag = torch.tensor([(i + 1) % 3 - 1 for i in range(c)], dtype=torch.float32) * 0.5
        self.time_first = nn.Parameter(torch.full((c,), math.log(0.3)) + zigzag)
        ramp = channel_ramp(c)
        self.time_mix_k = nn.Parameter(ramp ** ratio_1_to_0)
        self.time_mix_v = nn.Parameter(ramp ** ratio_1_to_0 + 0.3 * ratio_0_to_1)
        self.time_mix_r = nn.Parameter(ramp ** (0.5 * ratio_1_to_0))
        self.key = Projection(c, c)
        self.value = Projection(c, c)
        self.receptance = Projection(c, c)
        self.output = Projection(c, c)

    def forward(self, x):
        sx = token_shift(x)
        xk = x * self.time_mix_k + sx * (1 - self.time_mix_k)
        xv = x * self.time_mix_v + sx * (1 - self.time_mix_v)
        xr = x * self.time_mix_r + sx * (1 - self.time_mix_r)
        r = torch.sigmoid(self.receptance(xr))
        y = wkv_parallel(self.time_decay, self.time_first, self.key(xk), self.value(xv),
                         self.wkv_chunk)
        return self.output(r * y)


class ChannelMix(nn.Module):
    """RWKV-4 feed-forward (channel mixing), official parameter names."""

    def __init__(self, layer, n_layer, c, ffn):
        super().__init__()
        ramp = channel_ramp(c) ** (1.0 - layer / n_layer)
        self.time_mix_k = nn.Parameter(ramp.clone())
        self.time_mix_r = nn.Parameter(ramp.clone())
        self.key = Projection(c, ffn)
        self.receptance = Projection(c, c)
        self.value = Projection(ffn, c)

    def forward(self, x):
        sx = token_shift(x)
        xk = x * self.time_mix_k + sx * (1 - self.time_mix_k)
        xr = x * self.time_mix_r + sx * (1 - self.time_mix_r)
        k = torch.square(torch.relu(self.key(xk)))
        return torch.sigmoid(self.receptance(xr)) * self.value(k)


class Block(nn.Module):
    """Pre-norm residual block: x + att(ln1(x)), then + ffn(ln2(x))."""

    def __init__(self, layer, n_layer, c, ffn, wkv_chunk):
        super().__init__()
        self.ln1 = nn.LayerNorm(c, eps=LN_EPS)
        self.ln2 = nn.LayerNorm(c, eps=LN_EPS)
        if layer == 0:
            self.ln0 = nn.LayerNorm(c, eps=LN_EPS)
        self.att = TimeMix(layer, n_layer, c, wkv_chunk)
        self.ffn = ChannelMix(layer, n_layer, c, ffn)

    def forward(self, x):
        x = x + self.att(self.ln1(x))
        return x + self.ffn(self.ln2(x))


class RWKV4(nn.Module):
    """RWKV-4 whose state_dict has the official names, shapes and order."""

    def __init__(self, n_layer, c, wkv_chunk, vocab=VOCAB):
        super().__init__()
        self.emb = nn.Embedding(vocab, c)
        self.blocks = nn.ModuleList(Block(i, n_layer, c, 4 * c, wkv_chunk)
                                    for i in range(n_layer))
        self.ln_out = nn.LayerNorm(c, eps=LN_EPS)
        self.head = Projection(c, vocab)
        self._init_matrices()

    def _init_matrices(self):
        """Official RWKV-4 initialization of the embedding and the matrices.

        Embedding U(-1e-4, 1e-4); the projections into the residual stream
        that start silent (att key/receptance/output, ffn value/receptance)
        zero; the others orthogonal, with gain sqrt(rows / cols) when they
        have more rows than columns and the head with a further 0.5.
        """
        zero = (".att.key.", ".att.receptance.", ".att.output.",
                ".ffn.value.", ".ffn.receptance.")
        with torch.no_grad():
            for name, p in self.named_parameters():
                if name == "emb.weight":
                    nn.init.uniform_(p, -1e-4, 1e-4)
                elif p.dim() == 2:
                    if any(z in name for z in zero):
                        nn.init.zeros_(p)
                        continue
                    gain = math.sqrt(p.shape[0] / p.shape[1]) if p.shape[0] > p.shape[1] else 1.0
                    if name == "head.weight":
                        gain *= 0.5
                    nn.init.orthogonal_(p, gain=gain)

    def forward(self, tokens):
        """tokens [B, T] (from the zero state) -> logits [B, T, V]."""
        x = self.blocks[0].ln0(self.emb(tokens))
        for block in self.blocks:
            x = block(x)
        return self.head(self.ln_out(x))

    def set_wkv_chunk(self, chunk):
        """Tokens per parallel WKV block (the result does not depend on it)."""
        for block in self.blocks:
            block.att.wkv_chunk = chunk


# --- Recurrent form (evaluation) ------------------------------------------------

def rnn_init_state(n_layer, c):
    """[L, 5, C] float64: att_prev_x, aa, bb, pp, ffn_prev_x (pp = -1e30)."""
    state = np.zeros((n_layer, 5, c))
    state[:, 3] = -1e30
    return state


def _ln(x, p, prefix):
    """LayerNorm over the last axis with the weights p[prefix + '.weight'/'.bias']."""
    mean = x.mean(-1, keepdims=True)
    var = ((x - mean) ** 2).mean(-1, keepdims=True)
    return (x - mean) / np.sqrt(var + LN_EPS) * p[prefix + ".weight"] + p[prefix + ".bias"]


def _sigmoid(x):
    """Logistic function."""
    return 1.0 / (1.0 + np.exp(-x))


def rnn_forward(p, tokens, state):
    """The recurrent RWKV-4 in float64 numpy, carrying state over calls.

    p: state_dict as float64 arrays; tokens: byte ids; state: [L, 5, C] as
    from rnn_init_state, updated in place. WKV runs token by token on the
    scaled sums (aa, bb, pp); everything else is batched over the tokens,
    which changes nothing in the result. Returns logits [T, V].
    """
    x = _ln(p["emb.weight"][np.asarray(tokens)], p, "blocks.0.ln0")
    for i in range(state.shape[0]):
        b = f"blocks.{i}."
        xx = _ln(x, p, b + "ln1")
        sx = np.concatenate([state[i, 0][None], xx[:-1]])
        state[i, 0] = xx[-1]
        mix = {m: p[b + "att.time_mix_" + m].reshape(-1) for m in "kvr"}
        xk, xv, xr = (xx * mix[m] + sx * (1 - mix[m]) for m in "kvr")
        r = _sigmoid(xr @ p[b + "att.receptance.weight"].T)
        k = xk @ p[b + "att.key.weight"].T
        v = xv @ p[b + "att.value.weight"].T
        w, u = -np.exp(p[b + "att.time_decay"]), p[b + "att.time_first"]
        # WKV: the sums A, B are kept as aa = A / exp(pp), bb = B / exp(pp)
        # with pp raised, once per call, to the largest key seen, so that
        # every exponential below is at most exp(u) (float64 has ample range).
        aa, bb, pp = state[i, 1], state[i, 2], state[i, 3]
        new_pp = np.maximum(pp, k.max(0))
        scale = np.exp(pp - new_pp)  # 0 for a fresh state
        aa, bb = aa * scale, bb * scale
        ek = np.exp(k - new_pp)
        ekv = ek * v
        decay = np.exp(w)
        past_a, past_b = np.empty_like(k), np.empty_like(k)
        for t in range(len(k)):  # the recurrence, token by token
            past_a[t], past_b[t] = aa, bb
            aa = decay * aa + ekv[t]
            bb = decay * bb + ek[t]
        bonus = np.exp(u + k - new_pp)
        y = (past_a + bonus * v) / (past_b + bonus)
        state[i, 1], state[i, 2], state[i, 3] = aa, bb, new_pp
        x = x + (r * y) @ p[b + "att.output.weight"].T

        xx = _ln(x, p, b + "ln2")
        sx = np.concatenate([state[i, 4][None], xx[:-1]])
        state[i, 4] = xx[-1]
        mk, mr = (p[b + "ffn.time_mix_" + m].reshape(-1) for m in "kr")
        xk, xr = xx * mk + sx * (1 - mk), xx * mr + sx * (1 - mr)
        r = _sigmoid(xr @ p[b + "ffn.receptance.weight"].T)
        k = np.square(np.maximum(xk @ p[b + "ffn.key.weight"].T, 0.0))
        x = x + r * (k @ p[b + "ffn.value.weight"].T)
    return _ln(x, p, "ln_out") @ p["head.weight"].T


def log_softmax(logits):
    """Log-probabilities over the last axis."""
    m = logits.max(-1, keepdims=True)
    return logits - m - np.log(np.exp(logits - m).sum(-1, keepdims=True))


def continuous_nll(p, n_layer, data, chunk=1024):
    """Summed NLL (nats) of data[1:], each byte given all earlier ones.

    One stream from the fresh state: data[0] is fed but not scored (nothing
    precedes it), data[j] for j >= 1 is scored from the logits after
    data[0 .. j-1]. Returns (sum of NLL, number of scored bytes).
    """
    state = rnn_init_state(n_layer, p["emb.weight"].shape[1])
    total = 0.0
    for start in range(0, len(data) - 1, chunk):
        inp = data[start:min(start + chunk, len(data) - 1)]
        tgt = data[start + 1:start + 1 + len(inp)]
        logp = log_softmax(rnn_forward(p, inp, state))
        total -= logp[np.arange(len(tgt)), tgt].sum()
    return total, len(data) - 1


# --- Evaluation with the training form ---------------------------------------------

@torch.no_grad()
def windowed_nll(model, data, ctx, batch=64):
    """Summed NLL of data[1:] in non-overlapping windows of ctx tokens.

    Window j feeds data[j*ctx .. j*ctx+ctx-1] from the zero state and scores
    data[j*ctx+1 .. j*ctx+ctx] (the last window is shorter), so every byte
    but the first is scored once, as in continuous_nll, with at most ctx
    bytes of context. Returns (sum of NLL, number of scored bytes).
    """
    data = torch.as_tensor(data, dtype=torch.long)
    n_full = (len(data) - 1) // ctx
    total = 0.0
    for start in range(0, n_full, batch):
        idx = torch.arange(start, min(start + batch, n_full))[:, None] * ctx
        pos = idx + torch.arange(ctx)[None, :]
        logits = model(data[pos])
        total += F.cross_entropy(logits.reshape(-1, VOCAB), data[pos + 1].reshape(-1),
                                 reduction="sum").item()
    rest = n_full * ctx
    if rest < len(data) - 1:
        logits = model(data[rest:-1][None])
        total += F.cross_entropy(logits[0], data[rest + 1:], reduction="sum").item()
    return total, len(data) - 1


def self_check(model, data, tokens=100, feed=7):
    """Asserts that the training and the recurrent forms agree in float64.

    Scores data[:tokens] with the parallel form (the model in float64) in
    blocks of the training's WKV chunk and in one tokens x tokens softmax,
    and with rnn_forward fed `feed` tokens per call, so that the state is
    carried across calls. Returns the largest log-probability difference.
    """
    ref = copy.deepcopy(model).double()
    seq = torch.as_tensor(data[:tokens], dtype=torch.long)[None]
    parallel = []
    for chunk in (model.blocks[0].att.wkv_chunk, tokens):
        ref.set_wkv_chunk(chunk)
        with torch.no_grad():
            parallel.append(torch.log_softmax(ref(seq)[0], -1).numpy())
    p = state_dict_arrays(model)
    state = rnn_init_state(len(model.blocks), model.emb.weight.shape[1])
    rnn = np.concatenate([log_softmax(rnn_forward(p, data[s:min(s + feed, tokens)], state))
                          for s in range(0, tokens, feed)])
    diff = max(float(np.abs(par - rnn).max()) for par in parallel)
    assert diff < 1e-9, f"parallel and recurrent forms differ by {diff}"
    return diff


def state_dict_arrays(model):
    """The model's parameters as float64 numpy arrays, by official name."""
    return {k: v.detach().double().numpy() for k, v in model.state_dict().items()}


# --- Training ---------------------------------------------------------------------

def lr_at(step, args):
    """Linear warmup to --lr, then cosine decay to --lr-final at the last step."""
    if step < args.warmup:
        return args.lr * (step + 1) / args.warmup
    progress = (step - args.warmup) / max(args.steps - args.warmup - 1, 1)
    return args.lr_final + 0.5 * (args.lr - args.lr_final) * (1 + math.cos(math.pi * progress))


def make_optimizer(model, args):
    """AdamW with weight decay on the matrices only (not on norms and time_*)."""
    decay = [p for p in model.parameters() if p.dim() == 2]
    other = [p for p in model.parameters() if p.dim() != 2]
    return torch.optim.AdamW([{"params": decay, "weight_decay": args.weight_decay},
                              {"params": other, "weight_decay": 0.0}],
                             lr=args.lr, betas=(0.9, 0.99), eps=1e-8)


def train(model, train_data, args):
    """Runs args.steps steps; returns (mean loss of the last 10% of steps, seconds)."""
    rng = np.random.default_rng(args.seed)
    opt = make_optimizer(model, args)
    data = torch.as_tensor(train_data, dtype=torch.long)
    losses, logged = [], 0.0
    start = last = time.perf_counter()
    for step in range(args.steps):
        for group in opt.param_groups:
            group["lr"] = lr_at(step, args)
        idx = torch.as_tensor(rng.integers(0, len(data) - args.ctx - 1, args.batch))
        pos = idx[:, None] + torch.arange(args.ctx)[None, :]
        logits = model(data[pos])
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
            print(f"step {step + 1:6d}/{args.steps}  loss {logged / n:.4f}  "
                  f"lr {lr_at(step, args):.2e}  "
                  f"{n * args.batch * args.ctx / (now - last):,.0f} tok/s", flush=True)
            logged, last = 0.0, now
    seconds = time.perf_counter() - start
    tail = losses[-max(1, len(losses) // 10):]
    return float(np.mean(tail)), seconds


def official_state_dict(model):
    """The state_dict as plain float32 contiguous tensors, official order."""
    return collections.OrderedDict((k, v.detach().float().contiguous().clone())
                                   for k, v in model.state_dict().items())


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path,
                        default=REPO / ".." / "shared" / "data" / "tinyshakespeare.txt")
    parser.add_argument("--out", type=Path, default=REPO / "models" / "rwkv4-tiny-shakespeare.pth")
    parser.add_argument("--layers", type=int, default=4)
    parser.add_argument("--embd", type=int, default=128)
    parser.add_argument("--ctx", type=int, default=128)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--wkv-chunk", type=int, default=16,
                        help="tokens per parallel WKV block (>= ctx: one ctx x ctx softmax)")
    parser.add_argument("--steps", type=int, default=800,
                        help="default: about 10 minutes on one thread")
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--lr-final", type=float, default=1e-4)
    parser.add_argument("--warmup", type=int, default=50,
                        help="warmup steps, at most 10%% of --steps")
    parser.add_argument("--weight-decay", type=float, default=0.01)
    parser.add_argument("--grad-clip", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--log-every", type=int, default=25)
    args = parser.parse_args()
    args.warmup = min(args.warmup, max(args.steps // 10, 1))

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    raw = args.data.read_bytes()
    data = np.frombuffer(raw, dtype=np.uint8).astype(np.int64)
    split = len(data) - int(len(data) * HELDOUT_FRACTION)
    train_data, heldout = data[:split], data[split:]

    model = RWKV4(args.layers, args.embd, args.wkv_chunk)
    n_params = sum(p.numel() for p in model.parameters())
    print(f"RWKV-4 {args.layers} x {args.embd}, {n_params:,} parameters; "
          f"train bytes [0, {split}), held-out [{split}, {len(data)})", flush=True)
    train_loss, seconds = train(model, train_data, args)
    model.eval()

    check = self_check(model, heldout)
    print(f"self-check: parallel vs recurrent float64 log-probs differ by {check:.1e}")
    win_nll, win_n = windowed_nll(model, heldout, args.ctx)
    p = state_dict_arrays(model)
    t0 = time.perf_counter()
    cont_nll, cont_n = continuous_nll(p, args.layers, heldout)
    cont_seconds = time.perf_counter() - t0
    win_ppl, cont_ppl = math.exp(win_nll / win_n), math.exp(cont_nll / cont_n)
    print(f"held-out ppl/byte: windowed {win_ppl:.4f}, continuous {cont_ppl:.4f} "
          f"({cont_seconds:.0f} s)")

    args.out.parent.mkdir(parents=True, exist_ok=True)
    torch.save(official_state_dict(model), args.out)
    info = {
        "model": "RWKV-4, byte-level (vocab 256 = byte values)",
        "checkpoint": args.out.name,
        "layers": args.layers, "embd": args.embd, "ffn": 4 * args.embd, "vocab": VOCAB,
        "parameters": n_params,
        "training": {"steps": args.steps, "batch": args.batch, "ctx": args.ctx,
                     "wkv_chunk": args.wkv_chunk,
                     "optimizer": "AdamW betas (0.9, 0.99) eps 1e-8, weight decay on matrices",
                     "lr": args.lr, "lr_final": args.lr_final, "warmup_steps": args.warmup,
                     "schedule": "linear warmup, cosine decay to lr_final",
                     "weight_decay": args.weight_decay, "grad_clip": args.grad_clip,
                     "seed": args.seed, "threads": args.threads,
                     "train_loss": train_loss,
                     "train_loss_definition": "mean cross-entropy (nats/byte) of the last 10% of steps",
                     "seconds": round(seconds, 1)},
        "data": {"file": args.data.name, "sha256": hashlib.sha256(raw).hexdigest(),
                 "bytes": len(data), "train_bytes": [0, split],
                 "heldout_bytes": [split, len(data)]},
        "heldout": {
            "scored_bytes": cont_n,
            "windowed_ppl": win_ppl,
            "windowed_definition": (
                f"exp(mean NLL) over held-out bytes 1 .. N-1; non-overlapping windows of "
                f"{args.ctx} input bytes, each from the zero state (parallel form, float32)"),
            "continuous_ppl": cont_ppl,
            "continuous_definition": (
                "exp(mean NLL) over held-out bytes 1 .. N-1; one stream from the fresh "
                "state, byte 0 fed but not scored, byte j scored given held-out bytes "
                "0 .. j-1 (recurrent form, float64)"),
        },
        "torch_version": torch.__version__,
    }
    args.out.with_suffix(".json").write_text(json.dumps(info, indent=2) + "\n")
    print(f"wrote {args.out} and {args.out.with_suffix('.json')}")


if __name__ == "__main__":
    main()
