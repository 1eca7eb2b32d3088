#!/usr/bin/env bash
# Fetch Debian's stock kernel (the linux-image-amd64 package's current image) without
# installing it, for the Linux boot smoke tests: .cache/debian-kernel/vmlinuz (bzImage)
# and .cache/debian-kernel/vmlinux (its uncompressed ELF, which carries a PVH entry note).
set -euo pipefail
cd "$(dirname "$0")/.."
out=.cache/debian-kernel
[ -s "$out/vmlinuz" ] && [ -s "$out/vmlinux" ] && exit 0
command -v apt-get >/dev/null || { echo "fetch-debian-kernel: needs apt-get (Debian/Ubuntu)" >&2; exit 1; }
pkg=$(apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-[0-9]/{print $2; exit}')
[ -n "$pkg" ] || { echo "fetch-debian-kernel: no linux-image-amd64 in the apt lists (run apt-get update)" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && apt-get download -q "$pkg" >/dev/null 2>&1)
dpkg-deb --fsys-tarfile "$tmp"/*.deb | tar -x -C "$tmp" --wildcards './boot/vmlinuz-*'
mkdir -p "$out"
cp "$tmp"/boot/vmlinuz-* "$out/vmlinuz"
# The bzImage payload is xz-compressed (CONFIG_KERNEL_XZ): find the stream and unpack it.
off=$(LC_ALL=C grep -abo $'\xfd7zXZ' "$out/vmlinuz" | head -1 | cut -d: -f1)
tail -c +"$((off + 1))" "$out/vmlinuz" | xz -dc > "$out/vmlinux" 2>/dev/null || true
[ -s "$out/vmlinux" ] || { echo "fetch-debian-kernel: could not extract vmlinux" >&2; exit 1; }
echo "fetch-debian-kernel: $pkg -> $out"
