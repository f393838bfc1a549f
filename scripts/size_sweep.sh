#!/usr/bin/env bash
# Measures F1 (split a, test part) against CPU flows/s for a few model sizes; the default size
# in src/model/config.rs is picked from this table. Usage: scripts/size_sweep.sh [EPOCHS]
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-/root/.cache/netvigil-target}
BIN=${NETVIGIL_BIN:-$CARGO_TARGET_DIR/release/netvigil}
DATA=../shared/data/cicids2017-improved
EPOCHS=${1:-15}
OUT=target-sweep
mkdir -p "$OUT"
echo "| d_token | blocks | params | FLOPs/flow | test F1 | ROC-AUC | s/epoch | epochs | CPU flows/s (batch 1024, all cores) |"
echo "|---|---|---|---|---|---|---|---|---|"
for size in "16 1" "32 1" "32 2" "64 1"; do
  set -- $size
  name="$OUT/d$1-b$2"
  "$BIN" train "$DATA" --split random --epochs "$EPOCHS" --d-token "$1" --blocks "$2" -o "$name" --data-dir "$OUT/store" --json > "$name.train.json" 2> "$name.train.log"
  "$BIN" bench --model "$name" "$DATA" --batch-sizes 1024 --json > "$name.bench.json" 2> /dev/null
  python3 - "$name" "$1" "$2" <<'PY'
import json, sys
name, d, b = sys.argv[1:]
t = json.load(open(name + ".train.json")); bench = json.load(open(name + ".bench.json"))
best = max(r["flows_per_sec"] for r in bench["inference"])
print(f"| {d} | {b} | {t['params']} | {bench['flops_per_flow']} | {t['test']['f1']:.4f} | {t['test']['roc_auc']:.4f} | {t['seconds_per_epoch']:.1f} | {t['epochs_run']} | {best:.0f} |")
PY
done
