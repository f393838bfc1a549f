#!/usr/bin/env bash
# Spark job against `netvigil predict` on the same files and cores, in one run:
#   - predict on the folder, pinned to 1 core and to 2 cores (taskset);
#   - scripts/spark_score.py in local mode with 1 and 2 executor threads (local[1], local[2]),
#     pinned to the same cores, its wall time from submit to the last Parquet file written;
#   - the per-partition start-up cost: `netvigil predict - -o -` on one flow (process start,
#     model load, first batch), median of 10.
# Prints one table as Markdown.
#
#   scripts/spark_bench.sh [FOLDER]   (default: ../shared/data/cicids2017-improved)
set -euo pipefail
cd "$(dirname "$0")/.."
folder="${1:-../shared/data/cicids2017-improved}"
bin="${CARGO_TARGET_DIR:-$HOME/.cache/netvigil-target}/release/netvigil"
python="${NETVIGIL_SPARK_PYTHON:-$HOME/.cache/netvigil-spark/venv/bin/python}"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export SPARK_LOCAL_IP=127.0.0.1 XDG_RUNTIME_DIR="$work"

seconds() { local t0 t1; t0=$(date +%s.%N); "$@" >/dev/null 2>"$work/err" || { cat "$work/err" >&2; exit 1; }; t1=$(date +%s.%N); echo "$t1 - $t0" | bc -l; }

flows=$("$bin" --data-dir "$work/d" predict -q --model models/default "$folder" -o "$work/count.csv" && echo $(($(wc -l < "$work/count.csv") - 1)))
echo "| run | cores | seconds | flows/s | per core |"
echo "|---|---|---|---|---|"
for cores in 1 2; do
  cpus=$([ "$cores" = 1 ] && echo 0 || echo 0,1)
  s=$(seconds taskset -c "$cpus" "$bin" --data-dir "$work/d" predict -q --model models/default "$folder" -o "$work/p.csv")
  printf '| netvigil predict | %s | %.1f | %.0f | %.0f |\n' "$cores" "$s" "$(echo "$flows / $s" | bc -l)" "$(echo "$flows / $s / $cores" | bc -l)"
  s=$(seconds taskset -c "$cpus" "$python" scripts/spark_score.py --master "local[$cores]" --netvigil "$bin" --model models/default "$folder" "$work/out-$cores")
  printf '| Spark job, local[%s] | %s | %.1f | %.0f | %.0f |\n' "$cores" "$cores" "$s" "$(echo "$flows / $s" | bc -l)" "$(echo "$flows / $s / $cores" | bc -l)"
done
one=$(head -2 "$(ls "$folder"/*.csv | head -1)")
times=()
for _ in $(seq 10); do
  t0=$(date +%s.%N)
  echo "$one" | "$bin" --data-dir "$work/d" predict -q --model models/default - -o - >/dev/null
  t1=$(date +%s.%N)
  times+=("$(echo "$t1 - $t0" | bc -l)")
done
median=$(printf '%s\n' "${times[@]}" | sort -n | sed -n 5p)
printf '\n%s flows in %s; per-partition start-up of the streaming scorer (one flow, median of 10): %.3f s\n' "$flows" "$folder" "$median"
