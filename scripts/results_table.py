#!/usr/bin/env python3
"""Markdown tables from the JSON reports of scripts/ablation.sh (target-ablation/*.json)."""
import glob, json, os, sys

root = sys.argv[1] if len(sys.argv) > 1 else "target-ablation"
reports = {}
for path in sorted(glob.glob(os.path.join(root, "*.json"))):
    try:
        reports[os.path.basename(path)[:-5]] = json.load(open(path))
    except (json.JSONDecodeError, OSError):
        pass

def row(name, r):
    t = r["test"]
    auc = "n/a" if t["roc_auc"] is None else f"{t['roc_auc']:.4f}"
    g = t["mean_gate"]
    return (f"| {name} | {r['params']} | {t['f1']:.4f} | {t['precision']:.4f} | {t['recall']:.4f} | {auc} | "
            f"{t['false_positive_rate']:.4f} | {t['family_accuracy']:.4f} | {g[0]:.2f} / {g[1]:.2f} | {r['best_epoch']}/{r['epochs_run']} | {r['seconds_per_epoch']:.1f} |")

print("| split / experts | params | F1 | precision | recall | ROC-AUC | FPR | family acc. | gate tab/temp | best/run epochs | s/epoch |")
print("|---|---|---|---|---|---|---|---|---|---|---|")
for split in ["random", "time"]:
    for experts in ["tabular", "temporal", "moe"]:
        key = f"{split}-{experts}"
        if key in reports:
            print(row(key, reports[key]))
fam = [k for k in reports if k.startswith("family-")]
if fam:
    print("\n| held-out family | test flows of it | detected as attack | F1 (whole test) | FPR |")
    print("|---|---|---|---|---|")
    for k in fam:
        r = reports[k]
        name = k[len("family-"):]
        pf = [f for f in r["test"]["per_family"] if f["family"] == name]
        det = f"{pf[0]['detection_recall']:.4f}" if pf else "n/a"
        n = pf[0]["flows"] if pf else 0
        print(f"| {name} | {n} | {det} | {r['test']['f1']:.4f} | {r['test']['false_positive_rate']:.4f} |")
for key in [k for k in reports if k.startswith("time-")]:
    print(f"\nper-family detection, {key}:")
    for f in reports[key]["test"]["per_family"]:
        print(f"- {f['family']}: {f['flows']} flows, detected {f['detection_recall']:.4f}")
