#!/usr/bin/env bash
# Writes the fuzz seed corpora (fuzz/README.md) from the real captures and flow CSVs in
# ../shared/data and data/: fuzz/corpus/capture and fuzz/corpus/csv.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
data=$repo/../shared/data
out=${1:-$repo/fuzz/corpus/capture}
mkdir -p "$out"
i=0
while IFS= read -r f; do
    if [[ $(stat -c %s "$f") -lt 200000 ]]; then
        for m in 0 1 2; do (printf "\\x0$m"; cat "$f") >"$out/seed_${i}_$m"; done
    fi
    i=$((i + 1))
done < <(find "$data/pcaps" "$data/cicflowmeter-reference" \( -name '*.pcap' -o -name '*.pcapng' \) | sort)
(printf '\x00'; head -c 60000 "$data/cicflowmeter-reference/official-test/test.pcap") >"$out/seed_test_head"
(printf '\x00'; gzip -c "$data/pcaps/normal/http.pcap") >"$out/seed_gz"
echo "$(ls "$out" | wc -l) seeds in $out"

# CSV: the first 48 KB of every flow CSV (cut at a line end), each behind three mode bytes:
# strict with 32 KB chunks, lenient with 64-byte chunks, lenient with 1-byte chunks.
csv_out=${2:-$repo/fuzz/corpus/csv}
mkdir -p "$csv_out"
i=0
while IFS= read -r f; do
    for m in '\x1e' '\x0d' '\x01'; do
        (printf "$m"; head -c 49152 "$f" | sed '$d') >"$csv_out/seed_${i}_${m:2}"
    done
    i=$((i + 1))
done < <(find "$data" "$repo/data" -name '*.csv' | sort)
echo "$(ls "$csv_out" | wc -l) seeds in $csv_out"
