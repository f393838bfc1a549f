#!/usr/bin/env python3
"""CPU inference, side by side in one run: `netvigil bench` (the fused forward pass scoring
uses, and burn-ndarray's graph) against scripts/moe_torch_bench.py --device cpu (PyTorch eager,
the same architecture built from the bundle's config.json, with its familiarity autoencoder).

The machine is shared and its speed drifts from one minute to the next, so the three are run
in turns, --rounds times, and each figure is the median of its rounds (the best in brackets).
Prints a Markdown table with the ratios.

Usage: scripts/bench_cpu_inference.py [--model models/default] [--rounds 3] [--flows 100000]
Needs a release build and a Python with torch (default: ~/.cache/netvigil-torch-venv, made
with `pip install torch numpy` when missing; set TORCH_PYTHON to use another).
"""
import argparse, json, os, statistics, subprocess, sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.join(os.environ.get("CARGO_TARGET_DIR", os.path.expanduser("~/.cache/netvigil-target")), "release", "netvigil")
VENV = os.path.expanduser("~/.cache/netvigil-torch-venv")


def torch_python():
    python = os.environ.get("TORCH_PYTHON") or os.path.join(VENV, "bin", "python")
    if not os.path.exists(python):
        subprocess.run([sys.executable, "-m", "venv", VENV], check=True)
        subprocess.run([python, "-m", "pip", "install", "-q", "torch", "numpy"], check=True)
    return python


def netvigil(model, batches, flows, sample):
    out = subprocess.run([BIN, "bench", "--model", model, "--batch-sizes", batches, "--flows", str(flows), "--json", sample],
                         check=True, capture_output=True, text=True).stdout
    rows = json.loads(out)["inference"]
    best_threads = max(r["threads"] for r in rows)
    result = {}
    for r in rows:
        if r["threads"] == best_threads:
            engine = "fused" if "fused" in r["device"] else "burn"
            result[(engine, r["batch_size"])] = r["flows_per_sec"]
    return result, best_threads


def torch(python, model, batches, flows):
    out = subprocess.run([python, os.path.join(ROOT, "scripts", "moe_torch_bench.py"), os.path.join(model, "config.json"),
                          "--device", "cpu", "--batch-sizes", batches, "--flows", str(flows)],
                         check=True, capture_output=True, text=True).stdout
    doc = json.loads(out)
    return {("torch", r["batch_size"]): r["flows_per_sec"] for r in doc["inference"]}, doc["torch"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default=os.path.join(ROOT, "models", "default"))
    ap.add_argument("--sample", default=os.path.join(ROOT, "data", "cicids2017-sample.csv"))
    ap.add_argument("--batch-sizes", default="1,64,256,1024,4096")
    ap.add_argument("--flows", type=int, default=100_000)
    ap.add_argument("--rounds", type=int, default=3)
    a = ap.parse_args()
    python = torch_python()
    runs, threads, version = {}, 0, ""
    for i in range(a.rounds):
        ours, threads = netvigil(a.model, a.batch_sizes, a.flows, a.sample)
        theirs, version = torch(python, a.model, a.batch_sizes, a.flows)
        for key, fps in {**ours, **theirs}.items():
            runs.setdefault(key, []).append(fps)
        print(f"round {i + 1}/{a.rounds} done", file=sys.stderr)
    fmt = lambda key: f"{statistics.median(runs[key]):,.0f} ({max(runs[key]):,.0f})"
    print(f"netvigil with {threads} threads; PyTorch {version} eager, its default threads; median of {a.rounds} rounds (best)\n")
    print("| batch | fused CPU flows/s | burn-ndarray flows/s | PyTorch CPU flows/s | fused / PyTorch | fused / burn |")
    print("|---|---|---|---|---|---|")
    for b in map(int, a.batch_sizes.split(",")):
        med = {e: statistics.median(runs[(e, b)]) for e in ("fused", "burn", "torch")}
        print(f"| {b:,} | {fmt(('fused', b))} | {fmt(('burn', b))} | {fmt(('torch', b))} | {med['fused'] / med['torch']:.2f} | {med['fused'] / med['burn']:.2f} |")


if __name__ == "__main__":
    main()
