#!/usr/bin/env bash
# Real-window screenshots for README: NetVigil in an X11 window under Xvfb (wgpu on Mesa
# lavapipe), captures from ../shared/data and data/captures opened as one session, the views
# chosen with xdotool as an analyst clicks them, grabbed with xwd.
# Needs: xvfb, xdotool, x11-apps (xwd), netpbm (xwdtopnm, pnmtopng).
# Usage: scripts/screenshots.sh [OUT_DIR]   (default docs/screenshots)
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/netvigil-target}
BIN=${NETVIGIL_BIN:-$CARGO_TARGET_DIR/release/netvigil}
OUT=${1:-docs/screenshots}
mkdir -p "$OUT"
for tool in Xvfb xdotool xwd xwdtopnm pnmtopng; do
  command -v "$tool" >/dev/null || { echo "screenshots.sh needs $tool" >&2; exit 2; }
done
D=../shared/data
FILES=("$D/pcaps/attacks/synscan.pcapng" "$D/pcaps/normal/dns.pcap" "$D/pcaps/normal/hieulw_cicflowmeter_test.pcap"
       data/captures/bruteforce_hydra_ftp.pcap data/captures/dos_slowloris.pcap)
SCRATCH=$(mktemp -d)
DISPLAY_NUM=:${SCREEN_DISPLAY:-87}
Xvfb "$DISPLAY_NUM" -screen 0 1280x800x24 -nolisten tcp >/dev/null 2>&1 &
XVFB=$!
trap 'kill $APP $XVFB 2>/dev/null || true; rm -rf "$SCRATCH"' EXIT
export DISPLAY=$DISPLAY_NUM
sleep 2
"$BIN" --data-dir "$SCRATCH" "${FILES[@]}" >/dev/null 2>&1 &
APP=$!
# The window appears, the model loads and the five captures are read and scored.
for _ in $(seq 60); do xdotool search --name '^NetVigil' >/dev/null 2>&1 && break; sleep 1; done
WIN=$(xdotool search --name '^NetVigil' | head -1)
xdotool windowmove "$WIN" 0 0 windowsize "$WIN" 1280 800
sleep "${SCREEN_WAIT:-25}"
shot() { xwd -root -silent | xwdtopnm 2>/dev/null | pnmtopng > "$OUT/$1.png"; echo "wrote $OUT/$1.png"; }
click() { xdotool mousemove "$1" "$2" click 1; sleep "${3:-2}"; }
# Tabs of the menu bar (x of each title at 1280 px wide).
click 430 20 3; shot conversations
click 512 20 3; shot endpoints
# Back to the conversations; a double-click on the first (the scan) lands on its flows.
click 430 20 2
xdotool mousemove 60 132 click --repeat 2 --delay 80 1; sleep 3; shot pivot
# Every flow again, then the first (the scan's first probe) opened in the inspector by a
# double-click: gauge, families, gate and the explanation's bars.
click 415 66 3; shot flows
xdotool mousemove 300 429 click --repeat 2 --delay 80 1; sleep 8; shot inspector
