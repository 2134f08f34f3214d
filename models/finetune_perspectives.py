"""Fine-tunes the embedded RWKV-4 into P temporal perspectives (torch, CPU).

    /usr/bin/python3 models/finetune_perspectives.py [--steps N] [-P 4] ...

Multiple Temporal Perspectives (arXiv 2402.02625) as its trainer converts a
base model: every time_mix tensor of models/rwkv4-tiny-shakespeare.pth is
cloned P times ([1, 1, C] -> [P, 1, 1, C], identical perspectives),
convert3.weight [P, C] is drawn from N(0, 0.01^2), and only those (the mixing
coefficients and the combiner) are trained; every other weight stays the
base model's. The model runs the P perspectives as a batch (parallel WKV
form of models/train_rwkv4.py), weighs their logits by
alpha = softmax_p(W_c . mean_p h_p) and trains on the mixed logits'
cross-entropy over tinyshakespeare's training part (bytes before the last
10%).

Writes models/rwkv4-perspectives-tiny-shakespeare.pth (official layout) and
a .json beside it with the settings, the losses and the held-out windowed
perplexity of the base model and the fine-tuned one (non-overlapping
windows of --ctx bytes from the zero state); the continuous held-out
perplexity is measured on the compiled model with `seqc-run ppl` (README).
"""

import argparse
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
import train_rwkv4 as base  # noqa: E402

REPO = base.REPO
MIXES = ("att.time_mix_k", "att.time_mix_v", "att.time_mix_r",
         "ffn.time_mix_k", "ffn.time_mix_r")


class Perspectives(nn.Module):
    """A frozen RWKV-4 with P trainable sets of mixing coefficients and a
    trainable combiner."""

    def __init__(self, model, n_persp, seed):
        super().__init__()
        self.model = model
        for p in model.parameters():
            p.requires_grad_(False)
        self.P = n_persp
        self.mix = nn.ParameterDict()
        for i, blk in enumerate(model.blocks):
            for name in MIXES:
                part, attr = name.split(".")
                m = getattr(getattr(blk, part), attr).detach()
                self.mix[f"{i}_{part}_{attr}"] = nn.Parameter(
                    torch.stack([m.clone() for _ in range(n_persp)]))  # [P,1,1,C]
        g = torch.Generator().manual_seed(seed)
        c = model.emb.weight.shape[1]
        self.convert3 = nn.Parameter(torch.randn(n_persp, c, generator=g) * 0.01)

    def _m(self, i, part, attr, b):
        m = self.mix[f"{i}_{part}_{attr}"]                 # [P, 1, 1, C]
        return m.expand(self.P, b, 1, m.shape[-1]).reshape(self.P * b, 1, -1)

    def forward(self, tokens):
        """tokens [B, T] (from the zero state) -> mixed logits [B, T, V]."""
        md = self.model
        b, t = tokens.shape
        x = md.blocks[0].ln0(md.emb(tokens))
        c = x.shape[-1]
        x = x[None].expand(self.P, b, t, c).reshape(self.P * b, t, c)
        for i, blk in enumerate(md.blocks):
            a = blk.att
            xx = blk.ln1(x)
            sx = base.token_shift(xx)
            mk, mv, mr = (self._m(i, "att", "time_mix_" + n, b) for n in "kvr")
            r = torch.sigmoid(a.receptance(xx * mr + sx * (1 - mr)))
            y = base.wkv_parallel(a.time_decay, a.time_first, a.key(xx * mk + sx * (1 - mk)),
                                  a.value(xx * mv + sx * (1 - mv)), a.wkv_chunk)
            x = x + a.output(r * y)
            f = blk.ffn
            xx = blk.ln2(x)
            sx = base.token_shift(xx)
            mk, mr = (self._m(i, "ffn", "time_mix_" + n, b) for n in "kr")
            k = torch.square(torch.relu(f.key(xx * mk + sx * (1 - mk))))
            x = x + torch.sigmoid(f.receptance(xx * mr + sx * (1 - mr))) * f.value(k)
        h = md.ln_out(x).reshape(self.P, b, t, c)
        alpha = torch.softmax(torch.einsum("pc,btc->btp", self.convert3, h.mean(0)), -1)
        per_p = md.head(h.reshape(self.P * b, t, c)).reshape(self.P, b, t, -1)
        return torch.einsum("btp,pbtv->btv", alpha, per_p)

    def state_dict_official(self):
        """The base state_dict with the [P, 1, 1, C] mixes and convert3.weight."""
        out = base.official_state_dict(self.model)
        for i in range(len(self.model.blocks)):
            for name in MIXES:
                part, attr = name.split(".")
                out[f"blocks.{i}.{name}"] = \
                    self.mix[f"{i}_{part}_{attr}"].detach().float().contiguous().clone()
        out["convert3.weight"] = self.convert3.detach().float().contiguous().clone()
        return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data" / "tinyshakespeare.txt")
    parser.add_argument("--base", type=Path, default=REPO / "models" / "rwkv4-tiny-shakespeare.pth")
    parser.add_argument("--out", type=Path,
                        default=REPO / "models" / "rwkv4-perspectives-tiny-shakespeare.pth")
    parser.add_argument("-P", "--perspectives", type=int, default=4)
    parser.add_argument("--ctx", type=int, default=128)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--wkv-chunk", type=int, default=16)
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--lr-final", type=float, default=1e-4)
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--log-every", type=int, default=10)
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    raw = args.data.read_bytes()
    data = np.frombuffer(raw, dtype=np.uint8).astype(np.int64)
    split = len(data) - int(len(data) * base.HELDOUT_FRACTION)
    train_data, heldout = data[:split], data[split:]

    sd = torch.load(args.base)
    n_layer = sum(1 for k in sd if k.endswith(".att.key.weight"))
    c = sd["emb.weight"].shape[1]
    model = base.RWKV4(n_layer, c, args.wkv_chunk)
    model.load_state_dict(sd)
    model.eval()
    persp = Perspectives(model, args.perspectives, args.seed)
    trained = [p for p in persp.parameters() if p.requires_grad]
    n_trained = sum(p.numel() for p in trained)
    print(f"RWKV-4 {n_layer} x {c}, P = {args.perspectives}: {n_trained:,} trained "
          f"parameters (mixes and combiner)", flush=True)

    t0 = time.perf_counter()
    base_nll, n = base.windowed_nll(model, heldout, args.ctx)
    print(f"base held-out windowed ppl {math.exp(base_nll / n):.4f} "
          f"({time.perf_counter() - t0:.0f} s)", flush=True)

    # AdamW without weight decay (the mixes are coefficients in [0, 1]).
    opt = torch.optim.Adam(trained, lr=args.lr, betas=(0.9, 0.99), eps=1e-8)
    rng = np.random.default_rng(args.seed)
    tdata = torch.as_tensor(train_data, dtype=torch.long)
    losses, logged, start = [], 0.0, time.perf_counter()
    last = start
    for step in range(args.steps):
        lr = base.lr_at(step, args)
        for g in opt.param_groups:
            g["lr"] = lr
        idx = torch.as_tensor(rng.integers(0, len(tdata) - args.ctx - 1, args.batch))
        pos = idx[:, None] + torch.arange(args.ctx)[None, :]
        logits = persp(tdata[pos])
        loss = F.cross_entropy(logits.reshape(-1, base.VOCAB), tdata[pos + 1].reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        losses.append(loss.item())
        logged += loss.item()
        if (step + 1) % args.log_every == 0 or step + 1 == args.steps:
            now = time.perf_counter()
            k = (step % args.log_every) + 1
            print(f"step {step + 1:5d}/{args.steps}  loss {logged / k:.4f}  lr {lr:.2e}  "
                  f"{now - last:.0f} s", flush=True)
            logged, last = 0.0, now
    seconds = time.perf_counter() - start

    persp.eval()
    with torch.no_grad():
        win_nll, win_n = base.windowed_nll(persp, heldout, args.ctx)
        spread = max((persp.mix[k].max(0).values - persp.mix[k].min(0).values).abs().max().item()
                     for k in persp.mix)
    win_ppl = math.exp(win_nll / win_n)
    print(f"fine-tuned held-out windowed ppl {win_ppl:.4f}; largest difference "
          f"between perspectives' mixes {spread:.4f}", flush=True)

    args.out.parent.mkdir(parents=True, exist_ok=True)
    torch.save(persp.state_dict_official(), args.out)
    info = {
        "model": f"RWKV-4 with {args.perspectives} temporal perspectives, byte-level",
        "checkpoint": args.out.name,
        "base": args.base.name,
        "perspectives": args.perspectives,
        "trained_parameters": n_trained,
        "trained": "time_mix_{k,v,r} (att), time_mix_{k,r} (ffn) of every layer, "
                   "[P, 1, 1, C] cloned from the base; convert3.weight [P, C] from N(0, 0.01^2)",
        "training": {"steps": args.steps, "batch": args.batch, "ctx": args.ctx,
                     "wkv_chunk": args.wkv_chunk,
                     "optimizer": "Adam betas (0.9, 0.99) eps 1e-8, no weight decay",
                     "lr": args.lr, "lr_final": args.lr_final, "warmup_steps": args.warmup,
                     "schedule": "linear warmup, cosine decay to lr_final",
                     "seed": args.seed, "threads": args.threads,
                     "train_loss_last_10pct": float(np.mean(losses[-max(1, len(losses) // 10):])),
                     "seconds": round(seconds, 1)},
        "data": {"file": args.data.name, "sha256": hashlib.sha256(raw).hexdigest(),
                 "train_bytes": [0, split], "heldout_bytes": [split, len(data)]},
        "heldout": {
            "windowed_ppl": win_ppl,
            "base_windowed_ppl": math.exp(base_nll / n),
            "windowed_definition": (
                f"exp(mean NLL) over held-out bytes 1 .. N-1; non-overlapping windows of "
                f"{args.ctx} input bytes, each from the zero state (parallel form, float32)"),
            "largest_mix_difference_between_perspectives": spread,
        },
        "torch_version": torch.__version__,
    }
    args.out.with_suffix(".json").write_text(json.dumps(info, indent=2) + "\n")
    print(f"wrote {args.out} and {args.out.with_suffix('.json')}")


if __name__ == "__main__":
    main()
