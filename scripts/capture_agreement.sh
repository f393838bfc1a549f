#!/usr/bin/env bash
# Regenerates the agreement figures of docs/capture-results.md: netvigil's flows for the
# official test.pcap and the single CICIDS2017 sample flow, in each --compat mode, compared
# with the official CICFlowMeter outputs by scripts/compare_official.py.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(dirname "$here")
netvigil=${CARGO_TARGET_DIR:-$repo/target}/release/netvigil
ref=$repo/../shared/data/cicflowmeter-reference
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for mode in cicids2017 corrected cicflowmeter4; do
    "$netvigil" extract --quiet --compat "$mode" "$ref/official-test/test.pcap" -o "$work/test-$mode.csv" 2>/dev/null
    python3 "$here/compare_official.py" --title "test.pcap, --compat $mode: " \
        "$work/test-$mode.csv" "$ref/official-test/test.pcap_CIC.csv"
    echo
    "$netvigil" extract --quiet --compat "$mode" "$ref/cicids2017-single-flow/sample.pcap" -o "$work/sample-$mode.csv" 2>/dev/null
    python3 "$here/compare_official.py" --title "sample.pcap, --compat $mode: " \
        "$work/sample-$mode.csv" "$ref/cicids2017-single-flow/sample.json"
    echo
done
