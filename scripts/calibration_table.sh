#!/usr/bin/env bash
# Calibration on a known-good baseline, before and after, in one run: the shipped model
# calibrated for 0.1 % false positives on UNB 2017-10-17 (benign traffic of another network),
# then the false-positive rate on UNB 2017-12-15 (two months later) and the attack recall on
# the original and corrected CICIDS2017 files, with the model's own threshold and calibrated.
# Usage: scripts/calibration_table.sh [MODEL] [FPR]
set -euo pipefail
cd "$(dirname "$0")/.."
model="${1:-models/default}"; fpr="${2:-0.001}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/netvigil-target}"
cargo build --release --locked -q
bin="$CARGO_TARGET_DIR/release/netvigil"; data=../shared/data
hist="$(mktemp -d)"; trap 'rm -rf "$hist"' EXIT
row() { # name, evaluate args...
  local name="$1"; shift
  "$bin" --data-dir "$hist" evaluate --model "$model" --device cpu --json "$@" 2>/dev/null |
    python3 -c "import json,sys; m=json.load(sys.stdin)['metrics']; print('| $name | %d | %d | %.4f | %.4f |' % (m['flows'], m['attacks'], m['false_positive_rate'], m['recall']))"
}
table() {
  echo "| data | flows | attacks | false-positive rate | attack recall |"
  echo "|---|---|---|---|---|"
  row "UNB 2017-10-17 (the baseline)" "$data/unb-live/2017-10-17_online.csv" --label benign
  row "UNB 2017-12-15 (two months later)" "$data/unb-live/2017-12-15_online.csv" --label benign
  row "original release, Tuesday file (held out of training)" "$data/cicids2017-original/MachineLearningCVE_Tuesday_subset_binary_SSH.csv"
  row "original release, every file" "$data/cicids2017-original" --lenient
  row "corrected release" "$data/cicids2017-improved"
}
echo "model's own threshold:"; table
"$bin" --data-dir "$hist" calibrate --model "$model" --fpr "$fpr" --device cpu -q "$data/unb-live/2017-10-17_online.csv"
echo "calibrated:"; table
