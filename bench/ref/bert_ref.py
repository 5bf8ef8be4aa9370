"""Plain-PyTorch reference of the benches in bench/compare_pytorch.ts (bench-only; never a dependency of
the product or its tests). A BERT encoder written out with torch.nn primitives (no transformers), the same
shapes and recipe as this project's bench/compare_webgpu.ts, timed the same way.

  python3 bench/ref/bert_ref.py train|infer|demo|matmul [--threads 2] [--iters N]

Prints one JSON line: {"case", "seconds_per_iter", "tokens_per_s" | "gflops", ...}.
"""
import json
import math
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class Layer(nn.Module):
    def __init__(self, h, heads, inter, p):
        super().__init__()
        self.heads = heads
        self.q, self.k, self.v = nn.Linear(h, h), nn.Linear(h, h), nn.Linear(h, h)
        self.o, self.ln1 = nn.Linear(h, h), nn.LayerNorm(h, eps=1e-12)
        self.i, self.out, self.ln2 = nn.Linear(h, inter), nn.Linear(inter, h), nn.LayerNorm(h, eps=1e-12)
        self.drop = nn.Dropout(p)

    def forward(self, x, mask_add):
        B, T, H = x.shape
        d = H // self.heads

        def split(t):
            return t.view(B, T, self.heads, d).transpose(1, 2)

        q, k, v = split(self.q(x)), split(self.k(x)), split(self.v(x))
        s = q @ k.transpose(-1, -2) / math.sqrt(d) + mask_add
        a = self.drop(torch.softmax(s, -1)) @ v
        a = a.transpose(1, 2).reshape(B, T, H)
        x = self.ln1(x + self.drop(self.o(a)))
        return self.ln2(x + self.drop(self.out(F.gelu(self.i(x)))))


class BertNer(nn.Module):
    def __init__(self, vocab=28996, h=768, layers=12, heads=12, inter=3072, labels=9, pos=512, p=0.1):
        super().__init__()
        self.word, self.pos, self.tok_type = nn.Embedding(vocab, h), nn.Embedding(pos, h), nn.Embedding(2, h)
        self.ln, self.drop = nn.LayerNorm(h, eps=1e-12), nn.Dropout(p)
        self.layers = nn.ModuleList([Layer(h, heads, inter, p) for _ in range(layers)])
        self.cls = nn.Linear(h, labels)

    def forward(self, ids, mask, labels=None):
        T = ids.shape[1]
        x = self.word(ids) + self.pos(torch.arange(T))[None] + self.tok_type(torch.zeros_like(ids))
        x = self.drop(self.ln(x))
        mask_add = (1.0 - mask[:, None, None, :].float()) * -1e4
        for layer in self.layers:
            x = layer(x, mask_add)
        logits = self.cls(self.drop(x))
        if labels is None:
            return logits
        return F.cross_entropy(logits.view(-1, logits.shape[-1]), labels.view(-1), ignore_index=-100)


def batch(B, T, vocab=28996):
    i = torch.arange(B * T)
    ids = (1000 + (i * 7919) % 27000).view(B, T) % vocab
    labels = ((i * 31) % 9).view(B, T)
    return ids, torch.ones(B, T, dtype=torch.long), labels


def timed(fn, iters, warmup=1):
    for _ in range(warmup):
        fn()
    t0 = time.perf_counter()
    for _ in range(iters):
        fn()
    return (time.perf_counter() - t0) / iters


def train_case(cfg, B, T, lr, iters):
    torch.manual_seed(1)
    model = BertNer(**cfg).train()
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01)
    ids, mask, labels = batch(B, T, cfg.get("vocab", 28996))

    def step():
        loss = model(ids, mask, labels)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        opt.zero_grad(set_to_none=False)

    return timed(step, iters)


def main():
    args = sys.argv[1:]
    case = args[0]
    threads = int(args[args.index("--threads") + 1]) if "--threads" in args else 2
    iters = int(args[args.index("--iters") + 1]) if "--iters" in args else 2
    torch.set_num_threads(threads)
    out = {"case": case, "threads": threads, "torch": torch.__version__}
    if case == "train":
        s = train_case({}, 8, 64, 2e-5, iters)
        out.update(seconds_per_iter=s, tokens_per_s=8 * 64 / s)
    elif case == "demo":
        cfg = dict(h=128, layers=2, heads=2, inter=512)
        s = train_case(cfg, 32, 32, 1e-3, max(iters, 10))
        out.update(seconds_per_iter=s, steps_per_s=1 / s, tokens_per_s=32 * 32 / s)
    elif case == "infer":
        torch.manual_seed(1)
        model = BertNer().eval()
        ids, mask, _ = batch(32, 64)
        with torch.no_grad():
            s = timed(lambda: model(ids, mask), iters)
        out.update(seconds_per_iter=s, tokens_per_s=32 * 64 / s)
    elif case == "matmul":
        rows = []
        for M, K, N in [(512, 768, 768), (512, 768, 3072), (512, 3072, 768)]:
            a, b = torch.randn(M, K), torch.randn(K, N)
            s = min(timed(lambda: a @ b, 10) for _ in range(3))
            rows.append({"shape": f"{M}x{K}x{N}", "gflops": 2 * M * N * K / s / 1e9})
        out.update(rows=rows)
    else:
        raise SystemExit(f"unknown case {case!r}: expected train, infer, demo or matmul")
    print(json.dumps(out))


if __name__ == "__main__":
    main()
