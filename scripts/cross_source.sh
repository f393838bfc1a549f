#!/usr/bin/env bash
# Cross-source evaluation and the feature ablation behind the shipped model (README "Results:
# traffic that is not the training sample"). Every model trains on all real sources: the
# corrected CICIDS2017 sample, the original 2017 release, another network's benign flows
# (../shared/data) and the real-tool captures made on this machine (data/captures, labelled by
# scripts/lab_flows.sh), with three parts held back whole as test data:
#   - unb-live/2017-12-15_online.csv: a day of the other network (training sees 2017-10-17);
#   - MachineLearningCVE_Tuesday_subset_binary_SSH.csv: a day of the original release (training
#     sees Friday's benign flows), with its SSH-Patator attacks labelled only `1`;
#   - lab-captures-heldout: a second, separate run of every capture tool;
# and every other file split 70/15/15 per file and family after removing exact duplicates.
# Usage: scripts/cross_source.sh [VARIANT...]   (default: every variant below)
# Writes target-cross-source/VARIANT/ (the bundle; its metrics.json holds the report) and
# VARIANT.txt (the printed tables). `shipped` is the recipe of models/default.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/netvigil-target}
BIN=${NETVIGIL_BIN:-$CARGO_TARGET_DIR/release/netvigil}
D=../shared/data
LAB=target-lab-flows
[ -d "$LAB/lab-captures-heldout-2017" ] || NETVIGIL_BIN=$BIN scripts/lab_flows.sh "$LAB"
DATA=("$D/cicids2017-improved" "$D/cicids2017-original" "$D/unb-live" "$LAB/lab-captures" "$LAB/lab-captures-heldout")
TEST=(--test-file unb-live/2017-12-15_online.csv --test-file MachineLearningCVE_Tuesday_subset_binary_SSH.csv
      --test-file lab-captures-heldout)
# The recipe of the shipped model (README): periodic feature embeddings, benign flows weighted
# 12×, each data folder half-way to an equal share of its family's weight, the last step's
# weights. `train`'s defaults are this recipe with a moving average of the weights (variant
# weight-average), measured after the shipped model was trained; the ablation below, made
# before, keeps the last step's weights so that its rows stay comparable.
RECIPE="--benign-weight 12 --periodic 8 --source-balance 0.5 --weight-average 0"
DEFAULTS="--benign-weight 12 --periodic 8 --source-balance 0.5 --weight-average 0.998"   # train's defaults, spelt out
EPOCHS=${EPOCHS:-40}
# SEED=N trains VARIANT-seedN instead (the run-to-run spread in README's seed table);
# SPLIT_SEED=M draws the split with M instead of SEED (VARIANT-seedN-splitM: model seeds that
# share one split, so their test rows are the same rows); MEMBERS=N trains an ensemble of N
# models on one split (train --members N, VARIANT-membersN).
SEED=${SEED:-42}
SPLIT_SEED=${SPLIT_SEED:-}
MEMBERS=${MEMBERS:-1}
OUT=target-cross-source
mkdir -p "$OUT"
# name → arguments beyond the data and the held-out files
declare -A VARIANTS=(
  [shipped]="$RECIPE"
  [no-init-window]="$RECIPE --mask-features init-window"
  [no-header-length]="$RECIPE --mask-features header-length"
  [no-active-idle]="$RECIPE --mask-features active-idle"
  [no-rates]="$RECIPE --mask-features rates"
  [no-flags]="$RECIPE --mask-features flags"
  [linear-tokens]="--benign-weight 12 --periodic 0 --source-balance 0.5"
  [unbalanced]="--benign-weight 12 --periodic 8 --source-balance 0"
  [weight-average]="$DEFAULTS"
  [weight-average-0.995]="--benign-weight 12 --periodic 8 --source-balance 0.5 --weight-average 0.995"
  [benign-weight-24]="--benign-weight 24 --periodic 8 --source-balance 0.5"
  [family-webattack]="$RECIPE --split family --holdout webattack"
  [family-botnet]="$RECIPE --split family --holdout botnet"
  [both-semantics]="$DEFAULTS"
  [varied-benign]="$RECIPE"
  [varied-benign-average]="$DEFAULTS"
)
# Variants that learn from more data than DATA: both-semantics also trains on the first capture
# run as the 2017 tool extracts it, and is tested on the second run in both semantics. The
# extra folders come after DATA, so the other sources' test parts are the same rows as the
# other variants' (the split draws per source in order). varied-benign is the shipped recipe
# with the second varied browsing run (data/captures-varied) added, the first held out;
# varied-benign-average the same with train's defaults (a moving average of the weights).
declare -A EXTRA_DATA=(
  [both-semantics]="$LAB/lab-captures-2017 $LAB/lab-captures-heldout-2017"
  [varied-benign]="$LAB/lab-captures-varied"
  [varied-benign-average]="$LAB/lab-captures-varied"
)
declare -A EXTRA_TEST=(
  [both-semantics]="--test-file lab-captures-heldout-2017"
  [varied-benign]="--test-file lab-captures-varied/benign_http_varied.csv"
  [varied-benign-average]="--test-file lab-captures-varied/benign_http_varied.csv"
)
run() {
  local name=$1 extra=${VARIANTS[$1]} out=$1
  [ "$SEED" = 42 ] || out=$1-seed$SEED
  [ -z "$SPLIT_SEED" ] || { out=$out-split$SPLIT_SEED; extra="$extra --split-seed $SPLIT_SEED"; }
  [ "$MEMBERS" = 1 ] || { out=$out-members$MEMBERS; extra="$extra --members $MEMBERS"; }
  case " $extra " in *" --split "*) ;; *) extra="--split random $extra" ;; esac
  # shellcheck disable=SC2086
  "$BIN" train "${DATA[@]}" ${EXTRA_DATA[$1]:-} "${TEST[@]}" ${EXTRA_TEST[$1]:-} $extra --epochs "$EPOCHS" --seed "$SEED" \
    -o "$OUT/$out" --data-dir "$OUT/store" > "$OUT/$out.txt"
}
names=("$@")
[ ${#names[@]} -gt 0 ] || names=(shipped no-init-window no-header-length no-active-idle no-rates no-flags linear-tokens unbalanced benign-weight-24 family-webattack family-botnet)
for n in "${names[@]}"; do
  [ -n "${VARIANTS[$n]+x}" ] || { echo "unknown variant $n" >&2; exit 2; }
  echo "== $n" >&2
  run "$n"
done
