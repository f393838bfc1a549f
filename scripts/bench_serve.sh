#!/usr/bin/env bash
# Load benchmark of `netvigil serve` on this machine, in one run: wrk (a C load generator from
# Debian, one thread, keep-alive) and `netvigil bench-serve` (Rust clients) against the same
# server build, one-flow and 1,000-flow requests at several concurrencies, beside predict's
# own flows/s on the same flows. Usage: [MODEL=DIR] scripts/bench_serve.sh [SECONDS]  (needs: wrk)
set -euo pipefail
cd "$(dirname "$0")/.."
secs="${1:-5}"
model="${MODEL:-models/default}"   # MODEL=DIR: another bundle
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/netvigil-target}"
cargo build --release --locked -q
bin="$CARGO_TARGET_DIR/release/netvigil"
work="$(mktemp -d)"; trap 'kill $server 2>/dev/null || true; rm -rf "$work"' EXIT
sample=data/cicids2017-sample.csv
python3 - "$sample" "$work" <<'PY'
import csv, json, sys
rows = list(csv.reader(open(sys.argv[1])))
header, data = rows[0], rows[1:]
def num(v):
    # Numbers as the CSV writes them: integers stay integers, decimals keep their digits.
    for cast in (int, float):
        try: return cast(v)
        except ValueError: pass
    return v
def obj(r):
    return {h: num(v) for h, v in zip(header, r)}
json.dump([obj(data[0])], open(f"{sys.argv[2]}/one.json", "w"))
json.dump([obj(data[i % len(data)]) for i in range(1000)], open(f"{sys.argv[2]}/thousand.json", "w"))
with open(f"{sys.argv[2]}/thousand.csv", "w") as f:
    f.write(",".join(header) + "\n")
    for i in range(1000): f.write(",".join(data[i % len(data)]) + "\n")
PY
for kind in one.json thousand.json thousand.csv; do
  type=application/json; [[ $kind == *.csv ]] && type=text/csv
  cat > "$work/$kind.lua" <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "$type"
local f = io.open("$work/$kind", "rb"); wrk.body = f:read("*a"); f:close()
LUA
done
"$bin" --data-dir "$work/history" serve --model "$model" --bind 127.0.0.1:18751 2>"$work/serve.log" &
server=$!
for _ in $(seq 50); do curl -sf localhost:18751/healthz >/dev/null 2>&1 && break; sleep 0.2; done
echo "wrk (1 thread), $secs s each"
printf '%-14s %5s %12s %12s %9s %9s\n' body clients requests/s flows/s p50_ms p99_ms
for kind in one.json thousand.json thousand.csv; do
  flows=1; [[ $kind == thousand* ]] && flows=1000
  for c in 1 4 16; do
    out=$(wrk -t1 -c"$c" -d"${secs}s" --latency -s "$work/$kind.lua" http://127.0.0.1:18751/v1/score)
    rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
    ms() { awk -v p="$1" '$1==p {v=$2; if (v ~ /us$/) {sub(/us/,"",v); v/=1000} else if (v ~ /ms$/) {sub(/ms/,"",v)} else if (v ~ /s$/) {sub(/s/,"",v); v*=1000}; print v}' <<<"$out"; }
    printf '%-14s %5s %12.0f %12.0f %9.2f %9.2f\n' "$kind" "$c" "$rps" "$(echo "$rps*$flows" | bc)" "$(ms 50%)" "$(ms 99%)"
  done
done
errors=$(curl -s localhost:18751/metrics | awk '/^netvigil_http_errors_total/ {s+=$2} END {print s+0}')
echo "server-side errors: $errors"
kill $server; wait $server 2>/dev/null || true
echo
echo "netvigil bench-serve (Rust clients, same cores) and predict's flows/s"
# Many more flows than a request, so that concurrent requests carry different flows (the
# server scores a repeated row once): the corrected release's files as one CSV, shuffled.
python3 - ../shared/data/cicids2017-improved "$work/corrected.csv" <<'PY'
import glob, os, random, sys
files = sorted(glob.glob(os.path.join(sys.argv[1], "*.csv")))
header, rows = None, []
for f in files:
    lines = open(f).read().splitlines()
    header = header or lines[0]
    rows += [l for l in lines[1:] if l]
random.Random(42).shuffle(rows)
open(sys.argv[2], "w").write(header + "\n" + "\n".join(rows) + "\n")
PY
"$bin" --data-dir "$work/history" bench-serve "$work/corrected.csv" --model "$model" --seconds "$secs" --concurrency 1,4,16 --flows 1,1000
