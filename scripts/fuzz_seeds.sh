#!/usr/bin/env bash
# Writes the fuzz seed corpus (fuzz/README.md) from the real captures in ../shared/data.
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
