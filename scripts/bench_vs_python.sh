#!/usr/bin/env bash
# Speed of `netvigil extract` against the Python `cicflowmeter` package, side by side in one
# run, on the same capture, each pinned to one core.
#
#   scripts/bench_vs_python.sh [COPIES] [BIG_COPIES]
#
# COPIES (default 10): time-shifted copies of the official test.pcap (3,292 packets each) that
#   both tools process. BIG_COPIES (default 300, ~1M packets, ~800 MB): a larger capture for
#   netvigil alone, read once beforehand so it is in the page cache.
#
# Needs: a release build (CARGO_TARGET_DIR honoured), python3, and for the peer a venv with
# `pip install cicflowmeter==0.2.0 scapy==2.5.0 "numpy<2" requests` (built here if missing;
# a newer scapy silently writes no flows) plus tcpdump/libpcap, which scapy uses to apply the
# peer's "ip and (tcp or udp)" filter to a file.
set -euo pipefail

copies=${1:-10}
big_copies=${2:-300}
here=$(cd "$(dirname "$0")" && pwd)
repo=$(dirname "$here")
target=${CARGO_TARGET_DIR:-$repo/target}
netvigil=$target/release/netvigil
venv=${CICFLOWMETER_VENV:-$HOME/.cache/netvigil-cicflowmeter-venv}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
test_pcap=$repo/../shared/data/cicflowmeter-reference/official-test/test.pcap

[[ -x $netvigil ]] || { echo "build first: cargo build --release" >&2; exit 1; }
if [[ ! -x $venv/bin/cicflowmeter ]]; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q cicflowmeter==0.2.0 scapy==2.5.0 "numpy<2" requests
fi
command -v tcpdump >/dev/null || { echo "the Python peer needs tcpdump (apt-get install tcpdump)" >&2; exit 1; }

python3 "$here/replicate_pcap.py" "$test_pcap" "$work/same.pcap" "$copies" >/dev/null
packets=$((copies * 3292))
cat "$work/same.pcap" >/dev/null

now() { date +%s.%N; }
rate() { python3 -c "print(f'{$1/$2:,.0f}')"; }

t0=$(now)
taskset -c 0 "$venv/bin/cicflowmeter" -f "$work/same.pcap" -c "$work/python.csv" >/dev/null 2>&1
t1=$(now)
taskset -c 0 "$netvigil" extract --quiet "$work/same.pcap" -o "$work/netvigil.csv" 2>"$work/netvigil.log"
t2=$(now)
py_s=$(python3 -c "print($t1-$t0)")
nv_s=$(python3 -c "print($t2-$t1)")
py_flows=$(($(wc -l <"$work/python.csv") - 1))
nv_flows=$(($(wc -l <"$work/netvigil.csv") - 1))

echo "capture: $copies x test.pcap = $packets packets, $(du -h "$work/same.pcap" | cut -f1)"
printf '| tool | wall s | packets/s | flows |\n|---|---:|---:|---:|\n'
printf '| Python cicflowmeter 0.2.0 | %.2f | %s | %d |\n' "$py_s" "$(rate $packets $py_s)" "$py_flows"
printf '| netvigil extract | %.3f | %s | %d |\n' "$nv_s" "$(rate $packets $nv_s)" "$nv_flows"
python3 -c "print(f'speed-up (wall, whole command): {$py_s/$nv_s:,.0f}x')"
tail -1 "$work/netvigil.log"

python3 "$here/replicate_pcap.py" "$test_pcap" "$work/big.pcap" "$big_copies" >/dev/null
cat "$work/big.pcap" >/dev/null
echo
echo "netvigil alone, $big_copies x test.pcap ($((big_copies * 3292)) packets, $(du -h "$work/big.pcap" | cut -f1), page cache, one core):"
taskset -c 0 "$netvigil" extract --quiet "$work/big.pcap" -o "$work/big.parquet" 2>&1 | tail -1
