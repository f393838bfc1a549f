#!/usr/bin/env bash
# Proof of "no network": a whole NetVigil session inside a network namespace that has only
# loopback (unshare -n), every NetVigil process traced by strace. The session: extract and
# score a capture, train one epoch, calibrate on a known-good capture, start `serve` on
# loopback and score through it, open the window under Xvfb with a file and close it. Then
# every connect/sendto/sendmsg in the traces is checked: only loopback addresses and local
# Unix sockets (and netlink, the kernel's own interface) are allowed.
#
#   scripts/no_network_session.sh BINARY WORKDIR
# Exit 0: passed; 77: skipped (not root, or no unshare/strace/Xvfb/ip/curl: says which);
# anything else: failed, with the reason on stderr.
set -euo pipefail
if [ "${1:-}" != "--inside" ]; then
  [ $# -eq 2 ] || { echo "usage: $0 BINARY WORKDIR" >&2; exit 2; }
  if [ "$(id -u)" -ne 0 ]; then echo "SKIP: unshare -n needs root (run as root, as CI does)"; exit 77; fi
  for tool in unshare strace Xvfb ip curl; do
    command -v "$tool" >/dev/null || { echo "SKIP: $tool is not installed (.ci/run installs it)"; exit 77; }
  done
  unshare -n true 2>/dev/null || { echo "SKIP: this machine refuses new network namespaces"; exit 77; }
  exec unshare -n -- "$0" --inside "$(realpath "$1")" "$(realpath "$2")"
fi
bin=$2 work=$3
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$work"
ip link set lo up
# (ip asks the kernel over netlink; /sys/class/net would still show the host's sysfs.)
interfaces=$(ip -o link show | awk -F': ' '{print $2}' | tr '\n' ' ')
[ "$interfaces" = "lo " ] || { echo "the namespace has interfaces besides loopback: $interfaces" >&2; exit 1; }
echo "namespace interfaces: $interfaces"
data="$work/data"
export HOME="$work/home" XDG_DATA_HOME="$work/home/.local/share" XDG_RUNTIME_DIR="$work/run"
mkdir -p "$HOME" traces "$XDG_RUNTIME_DIR"
chmod 700 "$XDG_RUNTIME_DIR"
step=0
traced() { # traced NAME CMD...: runs CMD under strace (network calls of it and its threads/children)
  local name=$1; shift
  step=$((step + 1))
  echo "== $step $name"
  strace -f -qq -e trace=connect,sendto,sendmsg -o "traces/$step-$name" "$@"
}

traced predict-capture "$bin" --data-dir "$data" predict "$repo/data/captures/bruteforce_hydra_ssh.pcap" -o capture-verdicts.csv -q
[ "$(wc -l < capture-verdicts.csv)" -gt 10 ] || { echo "capture gave too few verdicts" >&2; exit 1; }
traced train "$bin" --data-dir "$data" train "$repo/data/cicids2017-sample.csv" --epochs 1 -o "$work/model" >/dev/null
traced calibrate "$bin" --data-dir "$data" calibrate --model "$work/model" --fpr 0.01 "$repo/data/captures/benign_http_browsing.pcap"

port=8759
step=$((step + 1))
echo "== $step serve"
strace -f -qq -e trace=connect,sendto,sendmsg -o "traces/$step-serve" \
  "$bin" --data-dir "$data" serve --model "$work/model" --bind "127.0.0.1:$port" &
tracer=$!
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.2; done
scored=$(curl -sf -H 'Content-Type: text/csv' --data-binary "@$repo/data/cicids2017-sample.csv" "http://127.0.0.1:$port/v1/score")
# Stop the server itself (strace's child), as Ctrl+C would; strace then ends with it.
kill -TERM $(cat "/proc/$tracer/task/$tracer/children")
wait "$tracer" || true
echo "$scored" | grep -q '"p_attack"' || { echo "serve did not score: ${scored:0:300}" >&2; exit 1; }
echo "served $(echo "$scored" | grep -o '"p_attack"' | wc -l) verdicts over loopback"

Xvfb :87 -nolisten tcp -screen 0 1280x800x24 >/dev/null 2>&1 &
xvfb=$!
trap 'kill $xvfb 2>/dev/null || true' EXIT
for _ in $(seq 1 50); do [ -e /tmp/.X11-unix/X87 ] && break; sleep 0.1; done
DISPLAY=:87 traced window "$bin" --data-dir "$data" bench-gui "$repo/data/cicids2017-sample.csv" --frames 20 --json > window.json
grep -q '"frames"' window.json || { echo "the window did not report its frames" >&2; exit 1; }

# The check: every address a traced process connected or sent to.
echo "== network calls in the traces"
bad=0
while IFS= read -r line; do
  case "$line" in
    *'sa_family=AF_UNIX'*|*'sa_family=AF_NETLINK'*) ;;
    *'inet_addr("127.'*|*'inet_pton(AF_INET6, "::1"'*|*'inet_pton(AF_INET6, "::ffff:127.'*) ;;
    *) echo "NOT LOCAL: $line" >&2; bad=1 ;;
  esac
done < <(grep -h -E 'connect\(|sendto\(|sendmsg\(' traces/* | grep -E 'sa_family=|sin6?_addr|inet_' || true)
for f in traces/*; do
  printf '%s: %s unix, %s loopback, %s netlink\n' "$(basename "$f")" \
    "$(grep -c 'sa_family=AF_UNIX' "$f" || true)" \
    "$(grep -c -E 'inet_addr\("127\.|inet_pton\(AF_INET6, "::1"' "$f" || true)" \
    "$(grep -c 'sa_family=AF_NETLINK' "$f" || true)"
done
[ $bad -eq 0 ] || { echo "the session tried to reach something beyond loopback" >&2; exit 1; }
echo "PASSED: whole session offline; only loopback and local Unix sockets"
