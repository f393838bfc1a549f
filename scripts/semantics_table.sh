#!/usr/bin/env bash
# The held-out capture run as the 2017 CICFlowMeter extracts it (scripts/lab_flows.sh:
# --compat cicids2017 --ethernet-padding), scored by each BUNDLE at its own threshold: per
# capture, the share flagged (attack recall, or for benign captures the false-positive rate),
# then all of them together. The 2017 tool leaves single-packet flows out, so the
# masscan, dropped-nmap and spoofed-flood captures give no flows here.
# Usage: scripts/semantics_table.sh BUNDLE...
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/netvigil-target}
BIN=${NETVIGIL_BIN:-$CARGO_TARGET_DIR/release/netvigil}
LAB=target-lab-flows/lab-captures-heldout-2017
[ -d "$LAB" ] || NETVIGIL_BIN=$BIN scripts/lab_flows.sh
work="$(mktemp -d)"; trap 'rm -rf "$work"' EXIT
share() {
  "$BIN" --data-dir "$work" evaluate --model "$1" --device cpu --json "${@:2}" 2>/dev/null | python3 -c '
import json, sys
m = json.load(sys.stdin)["metrics"]
print("%.3f" % (m["recall"] if m["attacks"] else m["false_positive_rate"]))'
}
printf '| capture (2017 tool) | flows |'; for b in "$@"; do printf ' %s |' "$(basename "$b")"; done; echo
printf '|---|---:|'; for _ in "$@"; do printf -- '---:|'; done; echo
for f in "$LAB"/*.csv; do
  n=$(($(wc -l < "$f") - 1)); [ "$n" -gt 0 ] || continue
  printf '| %s | %d |' "$(basename "$f" .csv)" "$n"
  for b in "$@"; do printf ' %s |' "$(share "$b" "$f")"; done; echo
done
# Every capture together, one evaluation per bundle: false-positive rate and recall.
all=()
for b in "$@"; do
  all+=("$("$BIN" --data-dir "$work" evaluate --model "$b" --device cpu --json "$LAB" 2>/dev/null |
    python3 -c 'import json,sys; m=json.load(sys.stdin)["metrics"]; print("%.4f %.4f" % (m["false_positive_rate"], m["recall"]))')")
done
for k in 1 2; do
  [ "$k" = 1 ] && printf '| all, false positive rate | |' || printf '| all, recall | |'
  for r in "${all[@]}"; do printf ' %s |' "$(cut -d' ' -f"$k" <<< "$r")"; done; echo
done
