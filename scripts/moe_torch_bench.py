#!/usr/bin/env python3
"""PyTorch implementation of NetVigil's MoE architecture, for the GPU throughput comparison.

Reads the sizes from a bundle's config.json so the two implementations match layer for layer
(FT-Transformer with per-feature tokenizer, [CLS] last, pre-norm blocks without the first
attention norm, ReGLU, CLS-only last block; 1D-CNN with channel LayerNorm, avg+max pooling;
softmax gate over 72 features mixing the logits; as many such models as the bundle's manifest
lists, their logits averaged, for an ensemble bundle; the periodic (PLR) embedding added to each
feature's linear token when the config has `periodic_frequencies`; and, when the bundle has
`familiarity.json`, the familiarity autoencoder that the Rust scorer also runs on every flow).
Weights are random: throughput does not depend on their values. Input is already standardised
(the Rust scorer's preprocessing on the host is not timed here, so the comparison favours
PyTorch slightly). Prints flows/s per batch size as JSON.

    python3 scripts/moe_torch_bench.py models/default/config.json --device cuda
"""
import argparse, json, math, os, time

import torch
from torch import nn
import torch.nn.functional as F


class Block(nn.Module):
    def __init__(self, d, heads, d_ffn, first):
        super().__init__()
        self.attn_norm = None if first else nn.LayerNorm(d)
        self.q, self.kv, self.out = nn.Linear(d, d), nn.Linear(d, 2 * d), nn.Linear(d, d)
        self.heads = heads
        self.ffn_norm = nn.LayerNorm(d)
        self.ffn_in, self.ffn_out = nn.Linear(d, 2 * d_ffn), nn.Linear(d_ffn, d)

    def forward(self, x, cls_only):
        normed = x if self.attn_norm is None else self.attn_norm(x)
        q_src, res = (normed[:, -1:], x[:, -1:]) if cls_only else (normed, x)
        b, tq, d = q_src.shape
        t = normed.shape[1]
        dh = d // self.heads
        q = self.q(q_src).view(b, tq, self.heads, dh).transpose(1, 2)
        k, v = self.kv(normed).split(d, dim=-1)
        k = k.view(b, t, self.heads, dh).transpose(1, 2)
        v = v.view(b, t, self.heads, dh).transpose(1, 2)
        p = torch.softmax(q @ k.transpose(2, 3) / math.sqrt(dh), dim=-1)
        x = res + self.out((p @ v).transpose(1, 2).reshape(b, tq, d))
        a, g = self.ffn_in(self.ffn_norm(x)).chunk(2, dim=-1)
        return x + self.ffn_out(a * F.relu(g))


class Periodic(nn.Module):
    """sin/cos of k learned frequencies per feature, one small linear map per feature, ReLU."""

    def __init__(self, n, k, d):
        super().__init__()
        self.freq = nn.Parameter(torch.randn(n, k))
        self.w = nn.Parameter(torch.randn(n, 2 * k, d) * 0.1)
        self.b = nn.Parameter(torch.randn(n, d) * 0.1)

    def forward(self, x):
        a = x.unsqueeze(2) * self.freq * (2 * math.pi)
        v = torch.cat([a.sin(), a.cos()], dim=2)
        return F.relu(torch.einsum("bnk,nkd->bnd", v, self.w) + self.b)


class FtTransformer(nn.Module):
    def __init__(self, c, n_classes):
        super().__init__()
        d = c["d_token"]
        self.w = nn.Parameter(torch.randn(c["n_features"], d) * 0.1)
        self.b = nn.Parameter(torch.randn(c["n_features"], d) * 0.1)
        k = c.get("periodic_frequencies") or 0
        self.periodic = Periodic(c["n_features"], k, d) if k > 0 else None
        self.cls = nn.Parameter(torch.randn(d) * 0.1)
        d_ffn = max(1, round(d * c["ffn_factor"]))
        self.blocks = nn.ModuleList(Block(d, c["n_heads"], d_ffn, i == 0) for i in range(c["n_blocks"]))
        self.head_norm, self.head = nn.LayerNorm(d), nn.Linear(d, n_classes)

    def forward(self, x):
        tokens = x.unsqueeze(2) * self.w + self.b
        if self.periodic is not None:
            tokens = tokens + self.periodic(x)
        h = torch.cat([tokens, self.cls.expand(x.shape[0], 1, -1)], dim=1)
        for i, blk in enumerate(self.blocks):
            h = blk(h, i + 1 == len(self.blocks))
        return self.head(F.relu(self.head_norm(h[:, -1])))


class TemporalCnn(nn.Module):
    def __init__(self, c, n_classes):
        super().__init__()
        chans, k = c["channels"], c["kernel_size"]
        self.convs, self.norms = nn.ModuleList(), nn.ModuleList()
        c_in = 1
        for c_out in chans:
            self.convs.append(nn.Conv1d(c_in, c_out, k, padding="same"))
            self.norms.append(nn.LayerNorm(c_out))
            c_in = c_out
        self.head = nn.Linear(2 * c_in, n_classes)

    def forward(self, x):
        h = x.unsqueeze(1)
        for conv, norm in zip(self.convs, self.norms):
            h = F.relu(norm(conv(h).transpose(1, 2))).transpose(1, 2)
        return self.head(torch.cat([h.mean(2), h.amax(2)], dim=1))


class Familiarity(nn.Module):
    """The bundle's autoencoder: dense layers with ReLU between, scaled squared error per flow."""

    def __init__(self, n, widths):
        super().__init__()
        sizes = [n, *widths, *reversed(widths[:-1]), n]
        self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in zip(sizes, sizes[1:]))
        self.inv_scale = nn.Parameter(torch.rand(n) + 0.5)

    def forward(self, x):
        h = x
        for i, layer in enumerate(self.layers):
            h = layer(h)
            if i + 1 < len(self.layers):
                h = F.relu(h)
        return (((h - x) * self.inv_scale) ** 2).mean(dim=1)


class Moe(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        n = cfg["n_classes"]
        self.tab, self.temp = FtTransformer(cfg["tabular"], n), TemporalCnn(cfg["temporal"], n)
        self.gate = nn.Sequential(nn.Linear(cfg["n_features"], cfg["gate_hidden"]), nn.ReLU(), nn.Linear(cfg["gate_hidden"], 2))
        self.n_temp = cfg["temporal"]["length"]

    def logits(self, x):
        g = torch.softmax(self.gate(x), dim=1)
        return self.tab(x[:, self.n_temp:]) * g[:, :1] + self.temp(x[:, : self.n_temp]) * g[:, 1:], g


class Ensemble(nn.Module):
    """An ensemble bundle: the mean of its members' logits and gates, softmax last (as the Rust
    scorer; a single model is an ensemble of one)."""

    def __init__(self, cfg, members):
        super().__init__()
        self.members = nn.ModuleList(Moe(cfg) for _ in range(members))

    def forward(self, x):
        outs = [m.logits(x) for m in self.members]
        logits = torch.stack([l for l, _ in outs]).mean(0)
        return torch.softmax(logits, dim=1), torch.stack([g for _, g in outs]).mean(0)


def bundle_members(config_path):
    """How many models the bundle beside `config_path` holds (its manifest's `more_members`, plus one)."""
    manifest = os.path.join(os.path.dirname(config_path), "manifest.json")
    if not os.path.exists(manifest):
        return 1
    return 1 + len(json.load(open(manifest)).get("more_members") or [])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("config")
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--batch-sizes", default="1,64,256,1024,4096,16384")
    ap.add_argument("--flows", type=int, default=200_000)
    ap.add_argument("--members", type=int, help="models in the ensemble (default: as many as the bundle holds)")
    a = ap.parse_args()
    cfg = json.load(open(a.config))
    dev = torch.device(a.device)
    members = a.members or bundle_members(a.config)
    model = Ensemble(cfg, members).to(dev).eval()
    fam_path = os.path.join(os.path.dirname(a.config), "familiarity.json")
    fam = None
    if os.path.exists(fam_path):
        fam = Familiarity(cfg["n_features"], json.load(open(fam_path))["config"]["encoder"]).to(dev).eval()
    rows = []
    with torch.inference_mode():
        for bs in map(int, a.batch_sizes.split(",")):
            x = torch.randn(bs, cfg["n_features"], device=dev)
            for _ in range(3):
                model(x)
                if fam is not None:
                    fam(x)
            if dev.type == "cuda":
                torch.cuda.synchronize()
            flows = a.flows if bs >= 32 else min(a.flows, 5000)
            steps = max(1, flows // bs)
            t0 = time.perf_counter()
            for _ in range(steps):
                p, g = model(x)
                p.cpu(), g.cpu()  # results back on the host, as the Rust scorer does
                if fam is not None:
                    fam(x).cpu()
            if dev.type == "cuda":
                torch.cuda.synchronize()
            dt = time.perf_counter() - t0
            rows.append({"batch_size": bs, "flows_per_sec": steps * bs / dt})
    print(json.dumps({"device": str(dev), "torch": torch.__version__, "members": members, "inference": rows}, indent=2))


if __name__ == "__main__":
    main()
