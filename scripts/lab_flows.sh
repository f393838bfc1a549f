#!/usr/bin/env bash
# Turns the real-tool captures (data/captures, data/captures-heldout; see their README) into
# labelled flow CSVs for training and cross-source evaluation: `netvigil extract --label` with
# each capture's family from its MANIFEST.csv. The folder names become the sources' names in
# the per-source tables: lab-captures (training) and lab-captures-heldout (a second, separate
# run of the same tools, test only).
# Usage: scripts/lab_flows.sh [OUT_DIR]   (default target-lab-flows)
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/netvigil-target}
BIN=${NETVIGIL_BIN:-$CARGO_TARGET_DIR/release/netvigil}
OUT=${1:-target-lab-flows}
for pair in "data/captures:lab-captures" "data/captures-heldout:lab-captures-heldout"; do
  src=${pair%%:*} dst=$OUT/${pair##*:}
  mkdir -p "$dst"
  tail -n +2 "$src/MANIFEST.csv" | while IFS=, read -r file kind family _; do
    label=$family
    [ "$kind" = benign ] && label=BENIGN
    "$BIN" extract --quiet --label "$label" "$src/$file" -o "$dst/${file%.pcap}.csv" 2>/dev/null
  done
done
echo "labelled flows in $OUT" >&2
