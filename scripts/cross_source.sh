#!/usr/bin/env bash
# Cross-source evaluation and the feature ablation behind the shipped model (README "Results:
# traffic that is not the training sample"). Every model trains on all real sources in
# ../shared/data (corrected CICIDS2017, the original 2017 release, another network's benign
# flows) with two whole files held back as test data:
#   - unb-live/2017-12-15_online.csv: a day of the other network (training sees 2017-10-17);
#   - MachineLearningCVE_Tuesday_subset_binary_SSH.csv: a day of the original release (training
#     sees Friday's benign flows), with its SSH-Patator attacks labelled only `1`;
# and every other file split 70/15/15 per file and family after removing duplicates.
# Usage: scripts/cross_source.sh [VARIANT...]   (default: every variant below)
# Writes target-cross-source/VARIANT/ (the bundle; its metrics.json holds the report) and
# VARIANT.txt (the printed tables).
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/netvigil-target}
BIN=${NETVIGIL_BIN:-$CARGO_TARGET_DIR/release/netvigil}
D=../shared/data
DATA=("$D/cicids2017-improved" "$D/cicids2017-original" "$D/unb-live")
TEST=(--test-file unb-live/2017-12-15_online.csv --test-file MachineLearningCVE_Tuesday_subset_binary_SSH.csv)
EPOCHS=${EPOCHS:-30}
OUT=target-cross-source
mkdir -p "$OUT"
# name → extra arguments
declare -A VARIANTS=(
  [all-features]=""
  [no-init-window]="--mask-features init-window"
  [no-header-length]="--mask-features header-length"
  [no-active-idle]="--mask-features active-idle"
  [no-rates]="--mask-features rates"
  [no-flags]="--mask-features flags"
  [no-subflow]="--mask-features subflow"
  [benign-weight-3]="--benign-weight 3"
  [family-webattack]="--split family --holdout webattack"
  [family-botnet]="--split family --holdout botnet"
  [corrected-only]="CORRECTED_ONLY"
)
run() {
  local name=$1 extra=${VARIANTS[$1]}
  local data=("${DATA[@]}")
  if [ "$extra" = CORRECTED_ONLY ]; then
    # The old recipe: train on the corrected release alone; test on the others whole.
    data=("$D/cicids2017-improved" "$D/cicids2017-original" "$D/unb-live")
    extra=$(for f in "$D"/cicids2017-original/*.csv "$D"/unb-live/*.csv; do printf -- '--test-file %s ' "$(basename "$f")"; done)
  fi
  case " $extra " in *" --split "*) ;; *) extra="--split random $extra" ;; esac
  # shellcheck disable=SC2086
  "$BIN" train "${data[@]}" "${TEST[@]}" $extra --epochs "$EPOCHS" \
    -o "$OUT/$name" --data-dir "$OUT/store" > "$OUT/$name.txt"
}
names=("$@")
[ ${#names[@]} -gt 0 ] || names=(all-features no-init-window no-header-length no-active-idle no-rates no-flags no-subflow benign-weight-3 family-webattack family-botnet corrected-only)
for n in "${names[@]}"; do
  [ -n "${VARIANTS[$n]+x}" ] || { echo "unknown variant $n" >&2; exit 2; }
  echo "== $n" >&2
  run "$n"
done
