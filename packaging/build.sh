#!/usr/bin/env bash
# Makes the two packages for machines without a network, from one staged tree:
#   dist/netvigil_VERSION_amd64.deb            (dpkg-deb, Debian's own tool: no cargo-deb to compile)
#   dist/netvigil-VERSION-x86_64-linux.tar.gz  (relocatable: unpack anywhere, run bin/netvigil)
# Each holds the stripped binary, the default model, the sample data, the desktop entry and
# icon, man pages (netvigil manpages) and bash/zsh/fish completions (netvigil completions).
# The binary finds its model beside itself (../share/netvigil/models/default), so neither
# package writes anywhere at install time; the history goes to the user's data directory
# (~/.local/share/netvigil) on first use.
#
#   packaging/build.sh [--binary PATH] [--out DIR]
# --binary: package this release binary instead of building one (the package test uses it).
set -euo pipefail
cd "$(dirname "$0")/.."
binary="" out="dist"
while [ $# -gt 0 ]; do
  case "$1" in
    --binary) binary="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    *) echo "packaging/build.sh: unknown argument '$1' (expected --binary PATH, --out DIR)" >&2; exit 2 ;;
  esac
done
if [ -z "$binary" ]; then
  export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/netvigil-target}"
  cargo build --release --locked
  binary="$CARGO_TARGET_DIR/release/netvigil"
fi
version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)
arch=$(dpkg --print-architecture 2>/dev/null || echo amd64)
# The newest glibc symbol version the binary links against is the glibc it needs.
glibc=$(objdump -T "$binary" | grep -o 'GLIBC_[0-9.]*' | sed 's/GLIBC_//' | sort -Vu | tail -1)

mkdir -p "$out"
out=$(cd "$out" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# stage PREFIX: the installed tree under PREFIX (usr/ for the .deb, the tarball's top folder).
stage() {
  local prefix="$1" share="$1/share"
  install -d "$prefix/bin" "$share/netvigil/models" "$share/netvigil/data" "$share/man/man1" \
    "$share/applications" "$share/icons/hicolor/scalable/apps" "$share/doc/netvigil" \
    "$share/bash-completion/completions" "$share/zsh/vendor-completions" "$share/fish/vendor_completions.d"
  strip -o "$prefix/bin/netvigil" "$binary"
  chmod 755 "$prefix/bin/netvigil"
  cp -r models/default "$share/netvigil/models/default"
  cp -r data/cicids2017-sample.csv data/captures data/README.md "$share/netvigil/data/"
  install -m644 packaging/netvigil.desktop "$share/applications/netvigil.desktop"
  install -m644 assets/netvigil.svg "$share/icons/hicolor/scalable/apps/netvigil.svg"
  "$binary" manpages "$work/man"
  for page in "$work/man"/*.1; do gzip -9n -c "$page" > "$share/man/man1/$(basename "$page").gz"; done
  "$binary" completions bash > "$share/bash-completion/completions/netvigil"
  "$binary" completions zsh > "$share/zsh/vendor-completions/_netvigil"
  "$binary" completions fish > "$share/fish/vendor_completions.d/netvigil.fish"
  install -m644 README.md "$share/doc/netvigil/README.md"
  printf 'NetVigil %s\nLicense: MIT OR Apache-2.0\nSample data: CICIDS2017 (see data/README.md for the citation its terms require).\n' \
    "$version" > "$share/doc/netvigil/copyright"
  find "$prefix" -type d -exec chmod 755 {} +
}

# .deb: everything under /usr; nothing in /etc, no maintainer scripts.
deb_root="$work/deb"
stage "$deb_root/usr"
install -d "$deb_root/DEBIAN"
size=$(du -sk --exclude=DEBIAN "$deb_root" | cut -f1)
cat > "$deb_root/DEBIAN/control" <<EOF
Package: netvigil
Version: $version
Architecture: $arch
Maintainer: NetVigil developers <netvigil@localhost>
Installed-Size: $size
Depends: libc6 (>= $glibc), libgcc-s1, libvulkan1, mesa-vulkan-drivers | vulkan-icd, libxkbcommon-x11-0, libx11-xcb1, libwayland-client0
Section: net
Priority: optional
Homepage: https://github.com/netvigil/netvigil
Description: offline detection of attacks in network flows and captures
 NetVigil scores CICFlowMeter flow records and pcap/pcapng captures with a
 Mixture-of-Experts model (on the GPU through Vulkan, or on the CPU), explains
 its verdicts, and keeps runs, models and investigations in a local history.
 It opens no network connection unless the user starts its scoring server,
 which listens on loopback by default. Needs glibc $glibc or newer.
EOF
deb="$out/netvigil_${version}_${arch}.deb"
# gzip rather than dpkg's default xz: a third of the time for a few MB more, and every dpkg reads it.
dpkg-deb --root-owner-group -Zgzip -z6 --build "$deb_root" "$deb.tmp" >/dev/null
mv "$deb.tmp" "$deb"

# Relocatable tarball: the same tree under one top folder.
name="netvigil-$version-x86_64-linux"
stage "$work/$name"
printf 'NetVigil %s, relocatable build for x86-64 Linux (glibc %s or newer; Vulkan loader for the GPU path).\nRun bin/netvigil. Man pages: man -l share/man/man1/netvigil.1.gz\n' \
  "$version" "$glibc" > "$work/$name/README.txt"
tarball="$out/$name.tar.gz"
tar -C "$work" --owner=0 --group=0 -czf "$tarball.tmp" "$name"
mv "$tarball.tmp" "$tarball"
echo "$deb"
echo "$tarball"
echo "glibc $glibc or newer"
