#!/usr/bin/env bash
# Ablation on splits (a) random and (b) time: tabular expert alone, temporal expert alone, MoE;
# then the leave-one-family-out split (c) for a few families. Writes JSON reports under
# target-ablation/. Usage: scripts/ablation.sh [EPOCHS]
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-/root/.cache/netvigil-target}
BIN=${NETVIGIL_BIN:-$CARGO_TARGET_DIR/release/netvigil}
DATA=../shared/data/cicids2017-improved
EPOCHS=${1:-30}
OUT=target-ablation
mkdir -p "$OUT"
for split in ${SPLITS-random time}; do
  for experts in ${EXPERTS-tabular temporal moe}; do
    "$BIN" train "$DATA" --split "$split" --experts "$experts" --epochs "$EPOCHS" -o "$OUT/$split-$experts" --data-dir "$OUT/store" --json > "$OUT/$split-$experts.json"
  done
done
for family in ${FAMILIES-}; do
  "$BIN" train "$DATA" --split family --holdout "$family" --epochs "$EPOCHS" -o "$OUT/family-$family" --data-dir "$OUT/store" --json > "$OUT/family-$family.json"
done
