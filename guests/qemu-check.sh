#!/usr/bin/env bash
# Run the lab guests under QEMU (reference behaviour for the VMM) and summarise.
#   guests/qemu-check.sh [-m MACHINE] [-a ACCEL] [-s SMP] [-c CMDLINE] [GUEST...]
#   e.g. guests/qemu-check.sh -m pc,kernel-irqchip=split -a kvm lapic ioapic
# `virtio` gets a scratch virtio-blk disk, virtio-rng and a virtconsole (host side checked).
# Exit status: 0 if every guest exited with status 0 (QEMU exit code 1).
set -u
here=$(cd "$(dirname "$0")" && pwd)
machine=pc accel=kvm smp=2 cmdline=""
while getopts "m:a:s:c:" o; do
    case $o in
    m) machine=$OPTARG ;; a) accel=$OPTARG ;; s) smp=$OPTARG ;; c) cmdline=$OPTARG ;;
    *) exit 2 ;;
    esac
done
shift $((OPTIND - 1))
guests=${*:-hello smp lapic ioapic serial}
cpu=(-cpu max)
[ "$accel" = kvm ] && cpu=(-cpu host)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
status=0
for g in $guests; do
    elf=$here/out/$g.elf
    [ -f "$elf" ] || { echo "$g: $elf missing (make -C guests)"; status=1; continue; }
    mkfifo "$tmp/in"
    exec 3<>"$tmp/in"
    extra=()
    if [ "$g" = virtio ]; then # blk (1 MiB scratch image), rng, console (host side in a file)
        head -c 1048576 /dev/urandom >"$tmp/disk.img"
        extra=(-drive "file=$tmp/disk.img,if=none,format=raw,id=d0"
            -device virtio-blk-pci,drive=d0,disable-legacy=on -device virtio-rng-pci,disable-legacy=on
            -device virtio-serial-pci,disable-legacy=on -device virtconsole,chardev=vc0
            -chardev "file,id=vc0,path=$tmp/vc.out")
    fi
    timeout 60 qemu-system-x86_64 -machine "$machine" -accel "$accel" "${cpu[@]}" -m 128 -smp "$smp" \
        -display none -no-reboot -nodefaults -kernel "$elf" -append "$cmdline" \
        -device isa-debug-exit,iobase=0xf4,iosize=4 -device pc-testdev \
        -chardev stdio,id=s0,signal=off -serial chardev:s0 "${extra[@]}" <"$tmp/in" >"$tmp/out" 2>&1 &
    pid=$!
    if [ "$g" = serial ]; then
        for _ in $(seq 200); do
            grep -q "LAB-READY serial-rx" "$tmp/out" 2>/dev/null && { printf 'ping\n' >&3; break; }
            kill -0 $pid 2>/dev/null || break
            sleep 0.1
        done
    fi
    wait $pid
    rc=$?
    exec 3>&-
    rm -f "$tmp/in"
    guest_status=$(( rc & 1 ? rc >> 1 : -1 ))
    grep -E "^(LAB-|got:|Hello)" "$tmp/out" | sed "s/^/[$g] /"
    if [ "$g" = virtio ]; then
        echo "[$g] host side of virtio-console: $(cat "$tmp/vc.out" 2>/dev/null)"
        grep -q "LAB-VIRTIO-CONSOLE hello" "$tmp/vc.out" 2>/dev/null || status=1
    fi
    echo "[$g] qemu exit $rc -> guest status $guest_status"
    [ "$guest_status" = 0 ] || status=1
done
exit $status
