#!/usr/bin/env python3
"""Markdown tables from the per-source test results that `netvigil train` stores in a bundle's
metrics.json (report.by_source). Used for README's cross-source and ablation tables.
Usage: scripts/source_table.py BUNDLE...        one row per bundle (ablation)
       scripts/source_table.py --detail BUNDLE  one row per source, with per-family recall
"""
import json, os, sys

def report(bundle):
    with open(os.path.join(bundle, "metrics.json")) as f:
        return json.load(f)["report"]

def fmt(v):
    return "–" if v is None else f"{v:.4f}"

def by(rep, source):
    return next((s for s in rep["by_source"] if s["source"] == source), {})

args = sys.argv[1:]
if args and args[0] == "--detail":
    rep = report(args[1])
    print("| source (test part) | benign | attacks | FPR | recall | F1 | unfamiliar | recall per family |")
    print("|---|---:|---:|---:|---:|---:|---:|---|")
    for s in rep["by_source"]:
        fams = ", ".join(f"{f} {r:.3f} ({n})" for f, n, r in s["per_family"] if f != "benign")
        print(f"| {s['source']} | {s['benign']} | {s['attacks']} | {fmt(s['false_positive_rate'])} | {fmt(s['recall'])} | {fmt(s['f1'])} | {s.get('unfamiliar', 0)} | {fams} |")
    sys.exit(0)
cols = [("unb-live", "false_positive_rate", "other network FPR"),
        ("cicids2017-original", "false_positive_rate", "original release FPR"),
        ("cicids2017-original", "recall", "original release recall"),
        ("cicids2017-improved", "false_positive_rate", "corrected FPR"),
        ("cicids2017-improved", "f1", "corrected F1"),
        ("lab-captures-heldout", "false_positive_rate", "lab FPR"),
        ("lab-captures-heldout", "recall", "lab recall")]
print("| variant | features masked | " + " | ".join(c[2] for c in cols) + " |")
print("|---|---|" + "---:|" * len(cols))
for b in args:
    rep = report(b)
    masked = str(len(rep.get("masked_features", [])))
    cells = [fmt(by(rep, src).get(key)) for src, key, _ in cols]
    print(f"| {os.path.basename(b.rstrip('/'))} | {masked} | " + " | ".join(cells) + " |")
