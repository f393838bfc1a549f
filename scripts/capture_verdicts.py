#!/usr/bin/env python3
"""Verdicts of a model on the real-tool captures (README "Results: traffic that is not the
training sample").

For every capture in a MANIFEST.csv (default data/captures-heldout, the run no model trains
on), `netvigil predict` scores every flow and runs the host-level detectors; this prints, per
capture, the flows, the share the model flags, the share covered by a finding, the share
flagged by either (what the analyst sees marked), and the share marked unfamiliar, as a
Markdown table. Attack captures should be marked (≥ 0.9), benign ones not (≤ 0.02).
Usage: scripts/capture_verdicts.py [--model DIR] [--bin NETVIGIL] [--captures DIR]
"""
import argparse, csv, os, subprocess, sys, tempfile

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
target = os.environ.get("CARGO_TARGET_DIR", os.path.expanduser("~/.cache/netvigil-target"))
ap = argparse.ArgumentParser()
ap.add_argument("--model", default=os.path.join(root, "models/default"))
ap.add_argument("--bin", default=os.path.join(target, "release/netvigil"))
ap.add_argument("--captures", default=os.path.join(root, "data/captures-heldout"),
                help="folder with MANIFEST.csv (default: the held-out run, never trained on)")
args = ap.parse_args()

print("| capture | family | flows | flagged by the model | in a finding | marked (either) | unfamiliar |")
print("|---|---|---:|---:|---:|---:|---:|")
with tempfile.TemporaryDirectory() as tmp, open(os.path.join(args.captures, "MANIFEST.csv")) as f:
    for row in csv.DictReader(f):
        out = os.path.join(tmp, "scores.csv")
        cmd = [args.bin, "--data-dir", tmp, "predict", "--model", args.model, "--device", "cpu",
               os.path.join(args.captures, row["file"]), "-o", out]
        run = subprocess.run(cmd, capture_output=True, text=True)
        if run.returncode != 0:
            sys.exit(f"{' '.join(cmd)}: {run.stderr.strip()}")
        with open(out) as s:
            flows = list(csv.DictReader(s))
        n = max(len(flows), 1)
        flagged = [r["Predicted Family"] != "benign" for r in flows]
        found = [bool(r.get("Finding")) for r in flows]
        either = [a or b for a, b in zip(flagged, found)]
        unfamiliar = [r["Unfamiliar"] == "true" for r in flows]
        share = lambda xs: f"{sum(xs) / n:.3f}"
        print(f"| {row['file']} | {row['family']} | {len(flows)} | {share(flagged)} | {share(found)} | **{share(either)}** | {share(unfamiliar)} |")
