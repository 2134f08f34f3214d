"""Trains a tiny byte-level LLaMA on tinyshakespeare (torch, CPU).

    /usr/bin/python3 models/train_llama.py [--steps N] [--threads 1] ...

The model is the LLaMA architecture as Hugging Face's LlamaForCausalLM
computes it: RMSNorm (eps 1e-5) before attention and before the MLP,
rotary position embedding on queries and keys (rotate-half pairing, theta
10000), grouped-query attention (--heads query heads sharing --kv-heads
key/value heads), a SwiGLU MLP (down(silu(gate(x)) * up(x))), a final
RMSNorm and an untied output head. The vocabulary is the 256 byte values.

The held-out text is the last 10% of the bytes. Perplexity is scored the
way `seqc-run ppl --window N` scores it: the held-out bytes in consecutive
windows of --ctx bytes, each window from an empty cache, every byte of a
window after its first predicted from the bytes before it in the window.

Writes a Hugging Face model directory (--out): model.safetensors with the
LlamaForCausalLM names (float32), config.json, and train.json with the
hyperparameters, losses, held-out perplexity and timings.
"""

import argparse
import json
import math
import sys
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "test" / "reference"))
from checkpoint import write_safetensors  # noqa: E402

VOCAB = 256
EPS = 1e-5
THETA = 10000.0
HELDOUT_FRACTION = 0.1


class RMSNorm(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(c))

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + EPS) * self.weight


def rope_tables(t, d):
    inv = THETA ** (-torch.arange(0, d, 2, dtype=torch.float64) / d)
    ang = torch.arange(t, dtype=torch.float64)[:, None] * inv[None, :]
    ang = torch.cat([ang, ang], dim=-1)
    return ang.cos().float(), ang.sin().float()


def rotate_half(x):
    h = x.shape[-1] // 2
    return torch.cat([-x[..., h:], x[..., :h]], dim=-1)


class Attention(nn.Module):
    def __init__(self, c, heads, kv_heads):
        super().__init__()
        self.heads, self.kv_heads, self.d = heads, kv_heads, c // heads
        self.q_proj = nn.Linear(c, heads * self.d, bias=False)
        self.k_proj = nn.Linear(c, kv_heads * self.d, bias=False)
        self.v_proj = nn.Linear(c, kv_heads * self.d, bias=False)
        self.o_proj = nn.Linear(heads * self.d, c, bias=False)

    def forward(self, x, cos, sin):
        b, t, _ = x.shape
        q = self.q_proj(x).view(b, t, self.heads, self.d).transpose(1, 2)
        k = self.k_proj(x).view(b, t, self.kv_heads, self.d).transpose(1, 2)
        v = self.v_proj(x).view(b, t, self.kv_heads, self.d).transpose(1, 2)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        rep = self.heads // self.kv_heads
        k = k.repeat_interleave(rep, dim=1)
        v = v.repeat_interleave(rep, dim=1)
        s = (q @ k.transpose(-1, -2)) / math.sqrt(self.d)
        mask = torch.ones(t, t, dtype=torch.bool).triu(1)
        s = s.masked_fill(mask, float("-inf"))
        y = F.softmax(s, dim=-1) @ v
        return self.o_proj(y.transpose(1, 2).reshape(b, t, -1))


class MLP(nn.Module):
    def __init__(self, c, ffn):
        super().__init__()
        self.gate_proj = nn.Linear(c, ffn, bias=False)
        self.up_proj = nn.Linear(c, ffn, bias=False)
        self.down_proj = nn.Linear(ffn, c, bias=False)

    def forward(self, x):
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))


class Layer(nn.Module):
    def __init__(self, c, heads, kv_heads, ffn):
        super().__init__()
        self.input_layernorm = RMSNorm(c)
        self.self_attn = Attention(c, heads, kv_heads)
        self.post_attention_layernorm = RMSNorm(c)
        self.mlp = MLP(c, ffn)

    def forward(self, x, cos, sin):
        x = x + self.self_attn(self.input_layernorm(x), cos, sin)
        return x + self.mlp(self.post_attention_layernorm(x))


class Llama(nn.Module):
    def __init__(self, layers, c, heads, kv_heads, ffn):
        super().__init__()
        self.embed_tokens = nn.Embedding(VOCAB, c)
        self.layers = nn.ModuleList(Layer(c, heads, kv_heads, ffn) for _ in range(layers))
        self.norm = RMSNorm(c)
        self.lm_head = nn.Linear(c, VOCAB, bias=False)
        self.head_dim = c // heads
        for p in self.parameters():
            if p.dim() == 2:
                nn.init.normal_(p, std=0.02)
        for layer in self.layers:  # scaled residual projections (GPT-2)
            for p in (layer.self_attn.o_proj.weight, layer.mlp.down_proj.weight):
                nn.init.normal_(p, std=0.02 / math.sqrt(2 * layers))

    def forward(self, tokens):
        cos, sin = rope_tables(tokens.shape[1], self.head_dim)
        x = self.embed_tokens(tokens)
        for layer in self.layers:
            x = layer(x, cos, sin)
        return self.lm_head(self.norm(x))


def hf_state_dict(model):
    out = {}
    for name, p in model.state_dict().items():
        key = name if name.startswith("lm_head") else "model." + name
        out[key] = p.detach().numpy().astype(np.float32)
    return out


@torch.no_grad()
def windowed_nll(model, data, ctx, batch=32):
    """Mean NLL (nats/byte) over data in windows of ctx (see module doc)."""
    model.eval()
    total, count = 0.0, 0
    starts = list(range(0, len(data) - 1, ctx))
    for i in range(0, len(starts), batch):
        chunk = [data[s:s + ctx] for s in starts[i:i + batch]]
        for w in chunk:  # windows differ in length only at the end
            pass
        full = [w for w in chunk if len(w) == ctx]
        rest = [w for w in chunk if len(w) != ctx and len(w) > 1]
        for group in ([full] if full else []) + [[w] for w in rest]:
            x = torch.from_numpy(np.stack(group).astype(np.int64))
            logp = F.log_softmax(model(x).double(), dim=-1)
            nll = -logp[:, :-1].gather(-1, x[:, 1:, None]).squeeze(-1)
            total += nll.sum().item()
            count += nll.numel()
    model.train()
    return total / count


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path,
                        default=REPO.parent / "shared" / "data" / "tinyshakespeare.txt")
    parser.add_argument("--out", type=Path, default=REPO / "models" / "llama-tiny-shakespeare")
    parser.add_argument("--layers", type=int, default=4)
    parser.add_argument("--embd", type=int, default=128)
    parser.add_argument("--heads", type=int, default=4)
    parser.add_argument("--kv-heads", type=int, default=2)
    parser.add_argument("--ffn", type=int, default=352)
    parser.add_argument("--ctx", type=int, default=256)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--steps", type=int, default=1500)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    raw = np.frombuffer(args.data.read_bytes(), dtype=np.uint8)
    split = int(len(raw) * (1 - HELDOUT_FRACTION))
    train_data, held = raw[:split], raw[split:]
    model = Llama(args.layers, args.embd, args.heads, args.kv_heads, args.ffn)
    decay = [p for p in model.parameters() if p.dim() == 2]
    other = [p for p in model.parameters() if p.dim() != 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1},
                             {"params": other, "weight_decay": 0.0}],
                            lr=args.lr, betas=(0.9, 0.95))
    rng = np.random.default_rng(args.seed)
    losses, t0 = [], time.time()
    warmup = 100
    for step in range(args.steps):
        lr = args.lr * min(1.0, (step + 1) / warmup) * \
            0.5 * (1 + math.cos(math.pi * step / args.steps)) * 0.9 + args.lr * 0.01
        for g in opt.param_groups:
            g["lr"] = lr
        idx = rng.integers(0, len(train_data) - args.ctx - 1, args.batch)
        xy = torch.from_numpy(np.stack([train_data[i:i + args.ctx + 1] for i in idx]).astype(np.int64))
        logits = model(xy[:, :-1])
        loss = F.cross_entropy(logits.reshape(-1, VOCAB), xy[:, 1:].reshape(-1))
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        losses.append(loss.item())
        if step % 100 == 0 or step == args.steps - 1:
            print(f"step {step:5d}  loss {loss.item():.4f}  lr {lr:.2e}  "
                  f"{time.time() - t0:.0f} s", flush=True)
    train_s = time.time() - t0
    nll = windowed_nll(model, held, args.ctx)
    ppl = math.exp(nll)
    print(f"held-out perplexity per byte (windows of {args.ctx}): {ppl:.4f}")

    args.out.mkdir(parents=True, exist_ok=True)
    write_safetensors(args.out / "model.safetensors", hf_state_dict(model),
                      metadata={"format": "pt"})
    config = {
        "architectures": ["LlamaForCausalLM"],
        "model_type": "llama",
        "hidden_size": args.embd,
        "intermediate_size": args.ffn,
        "num_attention_heads": args.heads,
        "num_key_value_heads": args.kv_heads,
        "num_hidden_layers": args.layers,
        "head_dim": args.embd // args.heads,
        "max_position_embeddings": args.ctx,
        "rms_norm_eps": EPS,
        "rope_theta": THETA,
        "vocab_size": VOCAB,
        "tie_word_embeddings": False,
        "hidden_act": "silu",
        "torch_dtype": "float32",
    }
    (args.out / "config.json").write_text(json.dumps(config, indent=2) + "\n")
    record = {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()}
    record.update({"heldout_ppl_per_byte": ppl, "heldout_nll": nll,
                   "heldout_bytes": int(len(held)), "train_seconds": round(train_s, 1),
                   "final_loss": float(np.mean(losses[-50:])),
                   "torch": torch.__version__})
    (args.out / "train.json").write_text(json.dumps(record, indent=2) + "\n")


if __name__ == "__main__":
    main()
