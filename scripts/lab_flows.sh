#!/usr/bin/env bash
# Turns the real-tool captures (data/captures, data/captures-heldout; see their README) into
# labelled flow CSVs for training and cross-source evaluation: `netvigil extract --label` with
# each capture's family from its MANIFEST.csv. The folder names become the sources' names in
# the per-source tables: lab-captures (training) and lab-captures-heldout (a second, separate
# run of the same tools, test only). The same captures are also extracted as the original 2017
# CICFlowMeter would have (`--compat cicids2017`: flows end at the first FIN, RST ignored, the
# first packet's flags in the tool's HashMap order, no single-packet flows; `--ethernet-padding`:
# short frames' wire padding counted as payload, as on the 2017 testbed): lab-captures-2017
# and lab-captures-heldout-2017, the same real attacks in the other semantics, so that a model
# can learn what the 2017 tool makes of them (the original release is the only other source of
# 2017-tool flows, and it has a single testbed). data/captures-varied (two runs of varied benign
# browsing) becomes lab-captures-varied.
# Usage: scripts/lab_flows.sh [OUT_DIR]   (default target-lab-flows)
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/netvigil-target}
BIN=${NETVIGIL_BIN:-$CARGO_TARGET_DIR/release/netvigil}
OUT=${1:-target-lab-flows}
for run in "data/captures:lab-captures:corrected" "data/captures-heldout:lab-captures-heldout:corrected" \
           "data/captures:lab-captures-2017:cicids2017" "data/captures-heldout:lab-captures-heldout-2017:cicids2017" \
           "data/captures-varied:lab-captures-varied:corrected"; do
  IFS=: read -r src name compat <<< "$run"
  dst=$OUT/$name
  mkdir -p "$dst"
  as=(--compat "$compat")
  [ "$compat" = cicids2017 ] && as+=(--ethernet-padding)
  tail -n +2 "$src/MANIFEST.csv" | while IFS=, read -r file kind family _; do
    label=$family
    [ "$kind" = benign ] && label=BENIGN
    "$BIN" extract --quiet "${as[@]}" --label "$label" "$src/$file" -o "$dst/${file%.pcap}.csv" 2>/dev/null
  done
done
echo "labelled flows in $OUT" >&2
