"""Trains a tiny byte-level RWKV-5 (Eagle, 5.2) on tinyshakespeare (torch, CPU).

    /usr/bin/python3 models/train_rwkv5.py [--steps N] [--threads 1] ...

The model is the official RWKV-5.2 (the parameter names and shapes of the
official checkpoints, test/reference/rwkv567_ref.py's `shapes`) with a
vocabulary of the 256 byte values: 4 layers of width 128, 2 heads of 64,
ffn int(3.5 C) // 32 * 32. Parameters start from
rwkv567_ref.random_weights (output projections zero, embedding scaled by
0.1). Training computes the WKV in its chunked parallel form, per head: within
a block of --chunk tokens

    y[t] = sum_s A[t, s] v[s] + (r[t] * w^tau) S,
    A[t, s] = sum_i r[t, i] k[s, i] w_i^(t-1-s) (s < t),
    A[t, t] = sum_i r[t, i] u_i k[t, i],

with S the state at the block's start (tau: t's index in the block), and
S <- w^chunk S + sum_s (k[s] * w^(chunk-1-s)) v[s]^T after it, from the zero
state, on sequences of --ctx bytes sampled from the first
90% of the text. Writes the state_dict in the official layout (float32)
with torch.save to --out and a .json beside it (hyperparameters, losses,
timings); the held-out perplexity is measured on the compiled model
(`seqc-run ppl`, README.md). The training form is checked against the
numpy reference in float64 (`--check`: rwkv567_ref.forward, token by
token). With Debian's generic BLAS a step takes about 14 s on one thread
of the project's machine; with libopenblas0-pthread installed (a Debian
package) about 1 s.
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
from torch.nn import functional as F

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "test" / "reference"))
import rwkv567_ref  # noqa: E402

VOCAB = 256
LN_EPS = 1e-5
GN_EPS = 64e-5
HELDOUT_FRACTION = 0.1


def token_shift(x):
    """x [B, T, C] -> the previous token's x, zeros at position 0."""
    return F.pad(x, (0, 0, 1, -1))


def forward(p, tokens, layers, heads, chunk=16):
    """Logits [B, T, V] of tokens [B, T] (float32), from the zero state."""
    vec = lambda name: p[name].reshape(-1)  # noqa: E731
    x = F.embedding(tokens, p["emb.weight"])
    x = F.layer_norm(x, x.shape[-1:], p["blocks.0.ln0.weight"], p["blocks.0.ln0.bias"], LN_EPS)
    B, T, C = x.shape
    n = C // heads
    L = min(chunk, T)
    if T % L:
        raise ValueError(f"--ctx {T} is not a multiple of --chunk {L}")
    t = torch.arange(L)
    lag = (t[:, None] - 1 - t[None, :]).float()           # tau - 1 - sigma
    past = (t[None, :] < t[:, None]).float()               # sigma < tau
    for i in range(layers):
        b, a = f"blocks.{i}.", f"blocks.{i}.att."
        xa = F.layer_norm(x, (C,), p[b + "ln1.weight"], p[b + "ln1.bias"], LN_EPS)
        prev = token_shift(xa)
        xm = {m: xa * vec(a + "time_mix_" + m) + prev * (1 - vec(a + "time_mix_" + m))
              for m in "kvrg"}
        split = lambda z: z.reshape(B, T, heads, n).transpose(1, 2)  # noqa: E731
        r = split(xm["r"] @ p[a + "receptance.weight"].T)   # [B, H, T, n]
        k = split(xm["k"] @ p[a + "key.weight"].T)
        v = split(xm["v"] @ p[a + "value.weight"].T)
        g = F.silu(xm["g"] @ p[a + "gate.weight"].T)
        logw = -torch.exp(p[a + "time_decay"])            # [H, n]
        u = p[a + "time_faaaa"]                            # [H, n]
        # Within a chunk: E[h, tau, sigma, i] = w^(tau-1-sigma) for sigma < tau.
        decay = torch.exp(lag[None, :, :, None].clamp_min(0) * logw[:, None, None, :])
        decay = decay * past[None, :, :, None]
        # w^tau (the state's decay to position tau of a chunk), w^(L-1-sigma)
        # (a token's to the chunk's end) and w^L.
        to_tau = torch.exp(t.float()[None, :, None] * logw[:, None, :])            # [H, L, n]
        to_end = torch.exp((L - 1 - t.float())[None, :, None] * logw[:, None, :])  # [H, L, n]
        whole = torch.exp(L * logw)                                                 # [H, n]
        state = x.new_zeros(B, heads, n, n)                                         # [key, value]
        ys = []
        for c0 in range(0, T, L):
            rc, kc, vc = r[:, :, c0:c0 + L], k[:, :, c0:c0 + L], v[:, :, c0:c0 + L]
            att = torch.einsum("bhti,htsi,bhsi->bhts", rc, decay, kc)
            att = att + torch.diag_embed((rc * u[None, :, None, :] * kc).sum(-1))
            yc = att @ vc + (rc * to_tau[None]) @ state
            state = whole[None, :, :, None] * state + (kc * to_end[None]).transpose(2, 3) @ vc
            ys.append(yc)
        y = torch.cat(ys, dim=2).transpose(1, 2).reshape(B, T, C)
        gy = y.reshape(B, T, heads, n)
        mean = gy.mean(-1, keepdim=True)
        var = ((gy - mean) ** 2).mean(-1, keepdim=True)
        y = ((gy - mean) / torch.sqrt(var + GN_EPS)).reshape(B, T, C)
        y = y * p[a + "ln_x.weight"] + p[a + "ln_x.bias"]
        x = x + (y * g) @ p[a + "output.weight"].T
        f = b + "ffn."
        xf = F.layer_norm(x, (C,), p[b + "ln2.weight"], p[b + "ln2.bias"], LN_EPS)
        pf = token_shift(xf)
        xk = xf * vec(f + "time_mix_k") + pf * (1 - vec(f + "time_mix_k"))
        xr = xf * vec(f + "time_mix_r") + pf * (1 - vec(f + "time_mix_r"))
        rr = torch.sigmoid(xr @ p[f + "receptance.weight"].T)
        x = x + rr * (torch.relu(xk @ p[f + "key.weight"].T) ** 2 @ p[f + "value.weight"].T)
    x = F.layer_norm(x, (C,), p["ln_out.weight"], p["ln_out.bias"], LN_EPS)
    return x @ p["head.weight"].T


def heldout_ppl(params, data, layers, heads, chunk):
    """exp(mean NLL) over held-out bytes 1 .. N-1 in one stream from the zero
    state (byte 0 fed, not scored), in float64 through the chunked form."""
    p64 = {k: v.detach().double() for k, v in params.items()}
    tokens = torch.as_tensor(data)
    pad = (-len(tokens)) % chunk
    padded = torch.cat([tokens, tokens.new_zeros(pad)])
    with torch.no_grad():
        logits = forward(p64, padded[None], layers, heads, chunk)[0, :len(tokens) - 1]
        nll = F.cross_entropy(logits, tokens[1:], reduction="mean").item()
    return math.exp(nll), len(tokens) - 1


def lr_at(step, args):
    if step < args.warmup:
        return args.lr * (step + 1) / args.warmup
    progress = (step - args.warmup) / max(args.steps - args.warmup - 1, 1)
    return args.lr_final + 0.5 * (args.lr - args.lr_final) * (1 + math.cos(math.pi * progress))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path,
                    default=REPO.parent / "shared" / "data" / "tinyshakespeare.txt")
    ap.add_argument("--out", type=Path, default=REPO / "models" / "rwkv5-tiny-shakespeare.pth")
    ap.add_argument("--layers", type=int, default=4)
    ap.add_argument("--embd", type=int, default=128)
    ap.add_argument("--heads", type=int, default=2)
    ap.add_argument("--ctx", type=int, default=128)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--chunk", type=int, default=16,
                    help="tokens per block of the WKV's parallel form")
    ap.add_argument("--steps", type=int, default=800)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--lr-final", type=float, default=1e-4)
    ap.add_argument("--warmup", type=int, default=50)
    ap.add_argument("--weight-decay", type=float, default=0.01)
    ap.add_argument("--grad-clip", type=float, default=1.0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--log-every", type=int, default=25)
    ap.add_argument("--evaluate", action="store_true",
                    help="only evaluate --out (its held-out perplexity into the .json)")
    ap.add_argument("--check", action="store_true",
                    help="only compare the training form with the numpy reference")
    args = ap.parse_args()
    if args.check:
        weights = rwkv567_ref.random_weights("5.2", 2, args.embd, args.heads, VOCAB, seed=3)
        p64 = {k: torch.tensor(v, dtype=torch.float64) for k, v in weights.items()}
        tokens = np.random.default_rng(0).integers(0, VOCAB, 3 * args.chunk)
        got = forward(p64, torch.tensor(tokens)[None], 2, args.heads, args.chunk)[0]
        ref = rwkv567_ref.forward(5, weights, tokens)
        err = float(np.abs(got.detach().numpy() - ref).max())
        print(f"training form vs rwkv567_ref: max abs error {err:.3g}")
        return 0 if err < 1e-9 else 1
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    raw = args.data.read_bytes()
    data = np.frombuffer(raw, dtype=np.uint8).astype(np.int64)
    split = len(data) - int(len(data) * HELDOUT_FRACTION)
    train_data = torch.as_tensor(data[:split])
    if args.evaluate:
        state = torch.load(args.out)
        meta_path = args.out.with_suffix(".json")
        meta = json.loads(meta_path.read_text())
        t0 = time.perf_counter()
        ppl, scored = heldout_ppl(state, data[split:], args.layers, args.heads, args.chunk)
        meta["heldout"] = {
            "scored_bytes": scored, "continuous_ppl": ppl,
            "continuous_definition": "exp(mean NLL) over held-out bytes 1 .. N-1; one "
                                     "stream from the zero state, byte 0 fed but not "
                                     "scored (chunked parallel form, float64)",
            "seconds": round(time.perf_counter() - t0, 1)}
        meta_path.write_text(json.dumps(meta, indent=2) + "\n")
        print(f"held-out perplexity {ppl:.4f} over {scored} bytes")
        return 0

    init = rwkv567_ref.random_weights("5.2", args.layers, args.embd, args.heads, VOCAB,
                                      seed=args.seed)
    params = collections.OrderedDict()
    for name, value in init.items():
        tensor = torch.tensor(value)
        if name.endswith("att.output.weight") or name.endswith("ffn.value.weight"):
            tensor.zero_()
        if name == "emb.weight":
            tensor.mul_(0.1)
        params[name] = tensor.requires_grad_(True)
    matrices = [v for v in params.values() if v.dim() == 2 and v.shape[0] > 8]
    others = [v for v in params.values() if not (v.dim() == 2 and v.shape[0] > 8)]
    opt = torch.optim.AdamW([{"params": matrices, "weight_decay": args.weight_decay},
                             {"params": others, "weight_decay": 0.0}],
                            lr=args.lr, betas=(0.9, 0.99), eps=1e-8)
    rng = np.random.default_rng(args.seed)
    losses, logged = [], 0.0
    start = last = time.perf_counter()
    for step in range(args.steps):
        for group in opt.param_groups:
            group["lr"] = lr_at(step, args)
        idx = torch.as_tensor(rng.integers(0, len(train_data) - args.ctx - 1, args.batch))
        pos = idx[:, None] + torch.arange(args.ctx)[None, :]
        logits = forward(params, train_data[pos], args.layers, args.heads, args.chunk)
        loss = F.cross_entropy(logits.reshape(-1, VOCAB), train_data[pos + 1].reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(list(params.values()), args.grad_clip)
        opt.step()
        losses.append(loss.item())
        logged += loss.item()
        if (step + 1) % args.log_every == 0 or step + 1 == args.steps:
            now = time.perf_counter()
            k = (step % args.log_every) + 1
            print(f"step {step + 1:5d}/{args.steps}  loss {logged / k:.4f}  "
                  f"lr {lr_at(step, args):.2e}  {(now - last) / k:.2f} s/step", flush=True)
            logged, last = 0.0, now
    seconds = time.perf_counter() - start
    state = collections.OrderedDict((k, v.detach().float().contiguous().clone())
                                    for k, v in params.items())
    torch.save(state, args.out)
    tail = losses[-max(1, len(losses) // 10):]
    meta = {
        "model": "RWKV-5.2 (Eagle), byte-level (vocab 256 = byte values)",
        "checkpoint": args.out.name,
        "layers": args.layers, "embd": args.embd, "heads": args.heads,
        "head_size": args.embd // args.heads, "ffn": int(args.embd * 3.5) // 32 * 32,
        "vocab": VOCAB,
        "parameters": int(sum(v.numel() for v in state.values())),
        "training": {
            "steps": args.steps, "batch": args.batch, "ctx": args.ctx,
            "wkv": f"chunked parallel form per head, blocks of {args.chunk} tokens, "
                   "from the zero state",
            "optimizer": "AdamW betas (0.9, 0.99) eps 1e-8, weight decay on matrices",
            "lr": args.lr, "lr_final": args.lr_final, "warmup_steps": args.warmup,
            "schedule": "linear warmup, cosine decay to lr_final",
            "weight_decay": args.weight_decay, "grad_clip": args.grad_clip,
            "seed": args.seed, "threads": args.threads,
            "init": "rwkv567_ref.random_weights('5.2', seed); output projections zero; "
                    "embedding x 0.1",
            "train_loss": float(np.mean(tail)),
            "train_loss_definition": "mean cross-entropy (nats/byte) of the last 10% of steps",
            "seconds": round(seconds, 1),
        },
        "data": {"file": args.data.name, "sha256": hashlib.sha256(raw).hexdigest(),
                 "bytes": len(data), "train_bytes": [0, split],
                 "heldout_bytes": [split, len(data)]},
        "torch_version": torch.__version__,
    }
    args.out.with_suffix(".json").write_text(json.dumps(meta, indent=2) + "\n")
    print(f"wrote {args.out} ({meta['parameters']} parameters), train loss "
          f"{meta['training']['train_loss']:.4f}, {seconds:.0f} s; evaluate it with "
          f"--evaluate")


if __name__ == "__main__":
    main()
