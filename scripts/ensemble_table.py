#!/usr/bin/env python3
"""Would averaging seeds help? Scores whole held-out files (no seed's training saw them) with
every bundle of a recipe's seeds and with their average P(attack) (README, "Varied browsing").

For each model and for the average, prints the false-positive rate on the files' benign rows
and the recall on their attack rows (label from the file: `netvigil predict` writes the
family), at the model's own threshold (the average: the mean of the members' thresholds) and at
0.5. Rows are every row of each file, duplicates included, unlike the trainer's test parts.
Usage: scripts/ensemble_table.py BUNDLE... [--file CSV]...
"""
import argparse, csv, json, os, subprocess, tempfile

target = os.environ.get("CARGO_TARGET_DIR", os.path.expanduser("~/.cache/netvigil-target"))
ap = argparse.ArgumentParser()
ap.add_argument("bundles", nargs="+")
ap.add_argument("--file", action="append", default=[], help="a held-out flow CSV (repeatable)")
ap.add_argument("--bin", default=os.path.join(target, "release/netvigil"))
args = ap.parse_args()

def threshold(bundle):
    with open(os.path.join(bundle, "metrics.json")) as f:
        return json.load(f)["report"]["alert"]["threshold"]

def scores(bundle, path, tmp):
    out = os.path.join(tmp, "scores.csv")
    subprocess.run([args.bin, "--data-dir", tmp, "predict", "--model", bundle, "--device", "cpu", path, "-o", out],
                   check=True, capture_output=True)
    with open(out, newline="") as f:
        rows = list(csv.DictReader(f))
    return [r["Family"] != "benign" for r in rows], [float(r["P(attack)"]) for r in rows]

def rates(truth, p, t):
    benign = [q for a, q in zip(truth, p) if not a]
    attack = [q for a, q in zip(truth, p) if a]
    fpr = sum(q >= t for q in benign) / len(benign) if benign else None
    rec = sum(q >= t for q in attack) / len(attack) if attack else None
    return fpr, rec

fmt = lambda v: "–" if v is None else f"{v:.4f}"
names = [os.path.basename(os.path.normpath(b)) for b in args.bundles]
thr = [threshold(b) for b in args.bundles]
cols = []
for path in args.file:
    stem = os.path.splitext(os.path.basename(path))[0]
    cols += [f"{stem} FPR", f"{stem} recall"]
print("| model | threshold | " + " | ".join(cols) + " |")
print("|---|---:|" + "---:|" * len(cols))
results = {n: [] for n in names + ["average"]}
with tempfile.TemporaryDirectory() as tmp:
    for path in args.file:
        per = [scores(b, path, tmp) for b in args.bundles]
        truth = per[0][0]
        mean = [sum(ps) / len(ps) for ps in zip(*(p for _, p in per))]
        for n, (_, p), t in zip(names, per, thr):
            results[n].append((rates(truth, p, t), rates(truth, p, 0.5)))
        results["average"].append((rates(truth, mean, sum(thr) / len(thr)), rates(truth, mean, 0.5)))
for n, t in zip(names + ["average"], thr + [sum(thr) / len(thr)]):
    for which, label in [(0, f"{t:.3f}"), (1, "0.5")]:
        cells = []
        for r in results[n]:
            cells += [fmt(r[which][0]), fmt(r[which][1])]
        print(f"| {n} | {label} | " + " | ".join(cells) + " |")
