#!/usr/bin/env python3
"""Verdicts of a model on the real-tool captures of data/captures (README "Results").

For every capture in data/captures/MANIFEST.csv: the flows NetVigil extracts, the share the
model flags as attacks (`netvigil evaluate --label FAMILY`), the share marked unfamiliar, and
the host-level findings (`netvigil inspect --json`). Prints a Markdown table.
Usage: scripts/capture_verdicts.py [--model DIR] [--bin NETVIGIL]
"""
import argparse, csv, json, os, subprocess, sys

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
target = os.environ.get("CARGO_TARGET_DIR", os.path.expanduser("~/.cache/netvigil-target"))
ap = argparse.ArgumentParser()
ap.add_argument("--model", default=os.path.join(root, "models/default"))
ap.add_argument("--bin", default=os.path.join(target, "release/netvigil"))
args = ap.parse_args()

def run_json(*cmd):
    out = subprocess.run([args.bin, *cmd], capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit(f"{' '.join(cmd)}: {out.stderr.strip()}")
    return json.loads(out.stdout)

print("| capture | tool family | flows | flagged | unfamiliar | findings |")
print("|---|---|---|---|---|---|")
with open(os.path.join(root, "data/captures/MANIFEST.csv")) as f:
    for row in csv.DictReader(f):
        path = os.path.join(root, "data/captures", row["file"])
        ev = run_json("evaluate", "--model", args.model, "--device", "cpu", "--label", row["family"], "--json", path)
        m = ev["metrics"]
        flows = m["flows"]
        # One label per capture: recall is the flagged share of an attack capture, the
        # false-positive rate that of a benign one.
        flagged = m["recall"] if row["kind"] == "attack" else m["false_positive_rate"]
        unfamiliar = sum(s.get("unfamiliar", 0) for s in ev["by_source"])
        ins = run_json("inspect", "--json", path)
        found = ins["findings"]["findings"]
        kinds = sorted({f"{x['family']}:{x['kind']}" for x in found})
        print(f"| {row['file']} | {row['family']} | {flows} | {flagged:.3f} | {unfamiliar / max(flows, 1):.3f} | {len(found)} {' '.join(kinds)} |")
