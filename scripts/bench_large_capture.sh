#!/usr/bin/env bash
# Opening a large capture in the window, against extracting it alone, in one run.
#
# For each capture: `netvigil extract` (its "extraction" figure is the extractor alone), then
# `netvigil bench-gui` (opened as File -> Open does once the model is loaded: first flows
# and verdicts on screen, every verdict on screen, the batch recorded in the history, frame
# times, peak memory). With OLD=path/to/another/netvigil, that binary's bench-gui runs in
# turn with the current one (before/after a change). ROUNDS rounds (default 2).
#
# The captures: sudo CAPTURES_OUT=/var/tmp/nv-large scripts/make_captures.sh mixed_large mixed_dense
# Usage: scripts/bench_large_capture.sh [PCAP...]   (default: those two)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
NEW=${NETVIGIL:-${CARGO_TARGET_DIR:-$HOME/.cache/netvigil-target}/release/netvigil}
[[ -x $NEW ]] || { echo "no netvigil binary at $NEW (cargo build --release, or set NETVIGIL)" >&2; exit 1; }
captures=("$@")
[[ ${#captures[@]} -gt 0 ]] || captures=(/var/tmp/nv-large/mixed_large.pcap /var/tmp/nv-large/mixed_dense.pcap)
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
for round in $(seq 1 "${ROUNDS:-2}"); do
    for pcap in "${captures[@]}"; do
        echo "== round $round: $pcap ($(stat -c %s "$pcap") bytes)"
        "$NEW" extract "$pcap" -o "$out/flows.parquet" 2>&1 | grep '^wrote'
        if [[ -n ${OLD:-} ]]; then
            echo "-- $OLD"
            "$OLD" bench-gui --frames 30 "$pcap" 2>&1 | grep 'first on screen'
        fi
        echo "-- $NEW"
        /usr/bin/time -f "peak resident %M KB" "$NEW" bench-gui --frames 30 "$pcap" 2>&1 | grep 'first on screen\|peak resident'
    done
done
