#!/usr/bin/env bash
# Fine-tuning on the analyst's labels, measured in one run: a model trained on the corrected
# release alone, fine-tuned on half of the original release's files (split by file), then the
# false-positive rate and attack recall on the other half (files it never saw) and on the
# corrected release, before and after. Usage: scripts/finetune_table.sh [MORE_LABELLED...]
# (MORE_LABELLED: files or folders fine-tuned on beside the first half, e.g. the real-tool
# captures as the 2017 tool extracts them, target-lab-flows/lab-captures-2017 from
# scripts/lab_flows.sh). The last rows break the fine-tuned model's figures on the other half
# down by file.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/netvigil-target}"
cargo build --release --locked -q
bin="$CARGO_TARGET_DIR/release/netvigil"; data=../shared/data; o="$data/cicids2017-original"
work="$(mktemp -d)"; trap 'rm -rf "$work"' EXIT
half_a=("$o/MachineLearningCVE_Friday-DDos_head9998_BENIGN.csv" "$o/MachineLearningCVE_grouped_labels_sample_A.csv"
        "$o/TrafficLabelling_DDoS_1000.csv" "$o/TrafficLabelling_WebAttack_XSS_652.csv")
half_b=("$o/MachineLearningCVE_Tuesday_subset_binary_SSH.csv" "$o/TrafficLabelling_Friday-DDos_head299_BENIGN.csv"
        "$o/TrafficLabelling_PortScan_1000.csv" "$o/TrafficLabelling_WebAttack_SqlInjection_21.csv")
"$bin" --data-dir "$work/h" train "$data/cicids2017-improved" --split random --epochs 8 -o "$work/corrected-only" >/dev/null 2>&1
start=$(date +%s.%N)
"$bin" --data-dir "$work/h" finetune --model "$work/corrected-only" "${half_a[@]}" "$@" --lenient -o "$work/tuned" >/dev/null 2>&1
echo "fine-tuning took $(echo "$(date +%s.%N) - $start" | bc) s"
row() {
  "$bin" --data-dir "$work/h" evaluate --model "$1" --device cpu --json --lenient "${@:3}" 2>/dev/null |
    python3 -c "import json,sys; d=json.load(sys.stdin); m=d['metrics']; print('| $2 | %.4f | %d | %d | %.4f | %.4f |' % (d['threshold'], m['flows'], m['attacks'], m['false_positive_rate'], m['recall']))"
}
echo "| model, data | threshold | flows | attacks | false-positive rate | attack recall |"
echo "|---|---|---|---|---|---|"
row "$work/corrected-only" "corrected-only, other half of the original release" "${half_b[@]}"
row "$work/tuned" "fine-tuned, other half of the original release" "${half_b[@]}"
row "$work/corrected-only" "corrected-only, corrected release" "$data/cicids2017-improved"
row "$work/tuned" "fine-tuned, corrected release" "$data/cicids2017-improved"
# Where the other half's misses are: the fine-tuned model on each of its files.
for f in "${half_b[@]}"; do row "$work/tuned" "fine-tuned, $(basename "$f" .csv)" "$f"; done
