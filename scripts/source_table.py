#!/usr/bin/env python3
"""Markdown tables from the per-source test results that `netvigil train` stores in a bundle's
metrics.json (report.by_source). Used for README's cross-source and ablation tables.
Usage: scripts/source_table.py [--at-half] BUNDLE...        one row per bundle (ablation)
       scripts/source_table.py [--at-half] --detail BUNDLE  one row per source, with per-family recall
The figures are at the bundle's own alert threshold (report.alert, chosen on validation rows;
0.5 for a bundle trained before models chose one); --at-half gives the same test rows at 0.5.
"""
import json, os, sys

def report(bundle):
    with open(os.path.join(bundle, "metrics.json")) as f:
        return json.load(f)["report"]

def fmt(v):
    return "–" if v is None else f"{v:.4f}"

args = sys.argv[1:]
at_half = bool(args) and args[0] == "--at-half"
if at_half:
    args = args[1:]

def sources(rep):
    alert = rep.get("alert")
    return alert["test_at_half"] if at_half and alert else rep["by_source"]

def threshold(rep):
    alert = rep.get("alert")
    return 0.5 if at_half or not alert else alert["threshold"]

def by(rep, source):
    return next((s for s in sources(rep) if s["source"] == source), {})

if args and args[0] == "--detail":
    rep = report(args[1])
    print(f"at P(attack) >= {threshold(rep):.4f}\n")
    print("| source (test part) | benign | attacks | FPR | recall | F1 | unfamiliar | recall per family |")
    print("|---|---:|---:|---:|---:|---:|---:|---|")
    for s in sources(rep):
        fams = ", ".join(f"{f} {r:.3f} ({n})" for f, n, r in s["per_family"] if f != "benign")
        print(f"| {s['source']} | {s['benign']} | {s['attacks']} | {fmt(s['false_positive_rate'])} | {fmt(s['recall'])} | {fmt(s['f1'])} | {s.get('unfamiliar', 0)} | {fams} |")
    sys.exit(0)
cols = [("unb-live", "false_positive_rate", "other network FPR"),
        ("cicids2017-original", "false_positive_rate", "original release FPR"),
        ("cicids2017-original", "recall", "original release recall"),
        ("cicids2017-improved", "false_positive_rate", "corrected FPR"),
        ("cicids2017-improved", "f1", "corrected F1"),
        ("lab-captures-heldout", "false_positive_rate", "lab FPR"),
        ("lab-captures-heldout", "recall", "lab recall"),
        ("lab-captures-varied", "false_positive_rate", "varied browsing FPR")]
print("| variant | features masked | threshold | " + " | ".join(c[2] for c in cols) + " |")
print("|---|---|---:|" + "---:|" * len(cols))
for b in args:
    rep = report(b)
    masked = str(len(rep.get("masked_features", [])))
    cells = [fmt(by(rep, src).get(key)) for src, key, _ in cols]
    print(f"| {os.path.basename(b.rstrip('/'))} | {masked} | {threshold(rep):.3f} | " + " | ".join(cells) + " |")
