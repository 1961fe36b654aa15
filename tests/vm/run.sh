#!/bin/bash
# tests/vm/run.sh: run a command inside an emulated machine that boots Debian 12's
# own kernel (linux-image-amd64, 6.1) under qemu-system-x86 with software emulation
# (TCG: no KVM is needed), so that gpatch runs on the kernel and the CPU its users
# have rather than on the host's.
#
#   tests/vm/run.sh [--cpu max|max,-fsgsbase] [--smp N] [--mem M] [--timeout S] -- CMD...
#
# The guest sees the host's root file system read-only over 9p (so the host's
# libraries, Python and this build are what runs), the repository read-write at its
# own path, and fresh tmpfs on /tmp, /run, /dev/shm and /var/tmp. It brings up
# loopback, cds to the repository, runs CMD with bash as root, and powers off.
# The output of CMD comes back on stdout; the exit status is CMD's (124 when the
# guest ran past --timeout, 125 when the guest never reported one).
#
# The kernel package and busybox (for the guest's first process) are downloaded
# once with `apt-get download` into $GPATCH_VM_CACHE (default build/vm-cache) and
# unpacked there; nothing is installed into the host system except qemu itself
# (`make vm-deps`).
set -euo pipefail

here=$(cd "$(dirname "$0")/../.." && pwd)
cache=${GPATCH_VM_CACHE:-$here/build/vm-cache}
cpu=max
smp=4
mem=4096
timeout_s=900
while [ $# -gt 0 ]; do
  case "$1" in
    --cpu) cpu=$2; shift 2 ;;
    --smp) smp=$2; shift 2 ;;
    --mem) mem=$2; shift 2 ;;
    --timeout) timeout_s=$2; shift 2 ;;
    --) shift; break ;;
    *) echo "tests/vm/run.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
[ $# -gt 0 ] || { echo "usage: tests/vm/run.sh [--cpu C] [--smp N] [--mem M] [--timeout S] -- CMD..." >&2; exit 2; }

command -v qemu-system-x86_64 >/dev/null || { echo "tests/vm/run.sh: qemu-system-x86_64 is missing (make vm-deps)" >&2; exit 2; }

# ---- the kernel and busybox, cached --------------------------------------------
mkdir -p "$cache"
if [ ! -e "$cache/ready" ]; then
  rm -rf "$cache/pkg" "$cache/root" && mkdir -p "$cache/pkg" "$cache/root"
  # linux-image-amd64 is the metapackage; its one dependency names the kernel.
  kpkg() { apt-cache depends linux-image-amd64 2>/dev/null | sed -n 's/^ *Depends: \(linux-image-[0-9].*-amd64\)$/\1/p' | head -1; }
  kpkg=$(kpkg)
  if [ -z "$kpkg" ]; then # a fresh machine may never have read the archive's lists
    SUDO=; [ "$(id -u)" = 0 ] || SUDO=sudo
    $SUDO apt-get update -qq >/dev/null 2>&1 || true
    kpkg=$(kpkg)
  fi
  [ -n "$kpkg" ] || { echo "tests/vm/run.sh: apt knows no linux-image-amd64 (apt-get update?)" >&2; exit 2; }
  (cd "$cache/pkg" && apt-get download -q "$kpkg" busybox-static >/dev/null 2>&1) ||
    { echo "tests/vm/run.sh: cannot download $kpkg and busybox-static" >&2; exit 2; }
  for d in "$cache"/pkg/*.deb; do dpkg-deb -x "$d" "$cache/root"; done
  touch "$cache/ready"
fi
kernel=$(ls "$cache"/root/boot/vmlinuz-* | head -1)
kver=${kernel##*/vmlinuz-}
mods=$cache/root/lib/modules/$kver/kernel

# ---- the guest's first process: an initramfs of busybox, 9p modules and init ----
initrd=$cache/initrd-$kver.cpio
if [ ! -e "$initrd" ] || [ "$0" -nt "$initrd" ]; then
  ir=$(mktemp -d)
  mkdir -p "$ir"/{bin,dev,proc,sys,mods,newroot}
  cp "$cache/root/bin/busybox" "$ir/bin/busybox"
  # Load order follows each module's depends= line.
  order="drivers/virtio/virtio_ring drivers/virtio/virtio drivers/virtio/virtio_pci_modern_dev
         drivers/virtio/virtio_pci_legacy_dev drivers/virtio/virtio_pci net/9p/9pnet
         net/9p/9pnet_virtio fs/netfs/netfs fs/fscache/fscache fs/9p/9p"
  n=0
  for m in $order; do n=$((n + 1)); cp "$mods/$m.ko" "$ir/mods/$(printf %02d $n)-${m##*/}.ko"; done
  cat >"$ir/init" <<'EOF'
#!/bin/busybox sh
/bin/busybox mount -t proc proc /proc
/bin/busybox mount -t sysfs sys /sys
/bin/busybox mount -t devtmpfs dev /dev
for m in /mods/*.ko; do /bin/busybox insmod "$m" || echo "gpvm: insmod $m failed"; done
o="trans=virtio,version=9p2000.L,msize=512000,cache=loose"
/bin/busybox mount -t 9p -o "ro,$o" hostroot /newroot || { echo "gpvm: no host root"; /bin/busybox poweroff -f; }
repo=$(/bin/busybox sed -n 's/.*gpvm.repo=\([^ ]*\).*/\1/p' /proc/cmdline)
/bin/busybox mount -t proc proc /newroot/proc
/bin/busybox mount -t sysfs sys /newroot/sys
/bin/busybox mount -t devtmpfs dev /newroot/dev
for d in /tmp /run /var/tmp; do /bin/busybox mount -t tmpfs -o mode=1777 tmpfs "/newroot$d"; done
# the repository last, over the fresh tmpfs where it lies under one (a clone in /tmp)
/bin/busybox mkdir -p "/newroot$repo" 2>/dev/null
/bin/busybox mount -t 9p -o "rw,$o" repo "/newroot$repo" || { echo "gpvm: no repo"; /bin/busybox poweroff -f; }
/bin/busybox mkdir -p /newroot/dev/shm /newroot/dev/pts
/bin/busybox mount -t tmpfs -o mode=1777 tmpfs /newroot/dev/shm
/bin/busybox mount -t devpts devpts /newroot/dev/pts
/bin/busybox ip link set lo up
/bin/busybox hostname gpvm
echo "gpvm: up, kernel $(/bin/busybox uname -r), $(/bin/busybox grep -c ^processor /newroot/proc/cpuinfo) CPUs, fsgsbase in cpuinfo: $(/bin/busybox grep -c -w fsgsbase /newroot/proc/cpuinfo)"
/bin/busybox chroot /newroot /bin/bash -c "cd $repo && export HOME=/tmp PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin && bash $repo/build/vm/cmd.sh; echo \"gpvm: rc=\$?\""
/bin/busybox sync
/bin/busybox poweroff -f
EOF
  chmod +x "$ir/init"
  (cd "$ir" && find . | /bin/busybox cpio -o -H newc 2>/dev/null) >"$initrd.tmp"
  mv "$initrd.tmp" "$initrd"
  rm -rf "$ir"
fi

# ---- run ----------------------------------------------------------------------
mkdir -p "$here/build/vm"
{ printf '%q ' "$@"; echo; } >"$here/build/vm/cmd.sh"
log=$here/build/vm/console.log
set +e
timeout --foreground -k 5 "$timeout_s" qemu-system-x86_64 \
  -machine q35 -accel tcg,thread=multi -cpu "$cpu" -smp "$smp" -m "$mem" \
  -nographic -no-reboot -serial stdio -monitor none -display none \
  -kernel "$kernel" -initrd "$initrd" \
  -append "console=ttyS0 quiet loglevel=3 panic=-1 gpvm.repo=$here" \
  -virtfs "local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap" \
  -virtfs "local,path=$here,mount_tag=repo,security_model=none,multidevs=remap" \
  </dev/null 2>&1 | tr -d '\r' | sed -u 's/\x1b\[[0-9;?]*[a-zA-Z]//g; s/\x1b.//g' | tee "$log"
st=${PIPESTATUS[0]}
set -e
[ "$st" = 124 ] && { echo "tests/vm/run.sh: the guest ran past ${timeout_s}s"; exit 124; }
rc=$(sed -n 's/^gpvm: rc=\([0-9]*\)$/\1/p' "$log" | tail -1)
[ -n "$rc" ] || { echo "tests/vm/run.sh: the guest reported no exit status (see $log)"; exit 125; }
exit "$rc"
