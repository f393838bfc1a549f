#!/usr/bin/env bash
# Installs the release binary, the shipped default model, the desktop entry and the icon for
# the current user (~/.local), so NetVigil opens from the desktop's menu and file manager.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/netvigil-target}"
cargo build --release --locked
prefix="${PREFIX:-$HOME/.local}"
install -Dm755 "$CARGO_TARGET_DIR/release/netvigil" "$prefix/bin/netvigil"
mkdir -p "$prefix/share/netvigil/models"
rm -rf "$prefix/share/netvigil/models/default"
cp -r models/default "$prefix/share/netvigil/models/default"
mkdir -p "$prefix/share/applications"
install -Dm644 assets/netvigil.svg "$prefix/share/icons/hicolor/scalable/apps/netvigil.svg"
sed "s|^Exec=netvigil|Exec=env NETVIGIL_DEFAULT_MODEL=$prefix/share/netvigil/models/default $prefix/bin/netvigil|" \
  packaging/netvigil.desktop > "$prefix/share/applications/netvigil.desktop"
echo "installed NetVigil to $prefix"
