#!/usr/bin/env bash
# Fetch Debian's stock kernel (the linux-image-amd64 package's current image) without
# installing it, for the Linux boot smoke tests: .cache/debian-kernel/vmlinuz (bzImage)
# and .cache/debian-kernel/vmlinux (its uncompressed ELF, which carries a PVH entry note).
# The same package's virtio modules go, decompressed (busybox insmod cannot read .ko.xz),
# into .cache/debian-kernel/modules/<name>.ko for the QEMU + vhost-user-blk interop test's
# initramfs; in Debian's kernel virtio is modular. Load order (each after its dependencies):
# virtio_pci_legacy_dev virtio_pci_modern_dev virtio_ring virtio virtio_pci, then
# virtio_blk, virtio-rng, virtio_console, failover net_failover virtio_net.
set -euo pipefail
cd "$(dirname "$0")/.."
out=.cache/debian-kernel
MODULES=(virtio_pci_legacy_dev virtio_pci_modern_dev virtio_ring virtio virtio_pci
         virtio_blk virtio-rng virtio_console failover net_failover virtio_net)
have_all() {
  [ -s "$out/vmlinuz" ] && [ -s "$out/vmlinux" ] || return 1
  local m; for m in "${MODULES[@]}"; do [ -s "$out/modules/$m.ko" ] || return 1; done
}
have_all && exit 0
command -v apt-get >/dev/null || { echo "fetch-debian-kernel: needs apt-get (Debian/Ubuntu)" >&2; exit 1; }
pkg=$(apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-[0-9]/{print $2; exit}')
[ -n "$pkg" ] || { echo "fetch-debian-kernel: no linux-image-amd64 in the apt lists (run apt-get update)" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && apt-get download -q "$pkg" >/dev/null 2>&1)
# One pass over the package: the kernel image and the virtio module chain (.ko or .ko.xz).
# tar exits non-zero if some pattern matched nothing; what is missing is checked below.
dpkg-deb --fsys-tarfile "$tmp"/*.deb | tar -x -C "$tmp" --wildcards \
  './boot/vmlinuz-*' \
  './lib/modules/*/kernel/drivers/virtio/virtio*.ko*' \
  './lib/modules/*/kernel/drivers/block/virtio_blk.ko*' \
  './lib/modules/*/kernel/drivers/char/virtio_console.ko*' \
  './lib/modules/*/kernel/drivers/char/hw_random/virtio-rng.ko*' \
  './lib/modules/*/kernel/net/core/failover.ko*' \
  './lib/modules/*/kernel/drivers/net/net_failover.ko*' \
  './lib/modules/*/kernel/drivers/net/virtio_net.ko*' 2>/dev/null || true
mkdir -p "$out"
cp "$tmp"/boot/vmlinuz-* "$out/vmlinuz"
# The bzImage payload is xz-compressed (CONFIG_KERNEL_XZ): find the stream and unpack it.
off=$(LC_ALL=C grep -abo $'\xfd7zXZ' "$out/vmlinuz" | head -1 | cut -d: -f1)
tail -c +"$((off + 1))" "$out/vmlinuz" | xz -dc > "$out/vmlinux" 2>/dev/null || true
[ -s "$out/vmlinux" ] || { echo "fetch-debian-kernel: could not extract vmlinux" >&2; exit 1; }
rm -rf "$out/modules"
mkdir -p "$out/modules"
for m in "${MODULES[@]}"; do
  f=$(find "$tmp/lib/modules" -name "$m.ko" -o -name "$m.ko.xz" -o -name "$m.ko.zst" -o -name "$m.ko.gz" | head -1)
  case "$f" in
    *.ko) cp "$f" "$out/modules/$m.ko" ;;
    *.ko.xz) xz -dc "$f" > "$out/modules/$m.ko" ;;
    *.ko.zst) zstd -qdc "$f" > "$out/modules/$m.ko" ;;
    *.ko.gz) gzip -dc "$f" > "$out/modules/$m.ko" ;;
    *) echo "fetch-debian-kernel: $pkg has no module $m" >&2; exit 1 ;;
  esac
done
ls "$tmp/lib/modules" > "$out/modules/VERSION"
echo "fetch-debian-kernel: $pkg -> $out (vmlinuz, vmlinux, ${#MODULES[@]} virtio modules)"
