#!/usr/bin/env bash
# bulkhead VM runner: boots Debian's linux-image-amd64 under qemu with a pure cgroup v2
# hierarchy (cgroup_no_v1=all), runs one command inside and returns its exit status.
#
#   scripts/vm/run.sh [options] -- COMMAND [ARGS...]
#
# The guest root is an uncompressed cpio initramfs holding busybox-static, the files given
# with --add and the kernel modules given with --module (dependencies resolved through
# modules.dep). Inside the guest proc, sysfs, devtmpfs, tmpfs (/tmp) and cgroup2
# (/sys/fs/cgroup, every available controller enabled in the root's subtree_control) are
# mounted before COMMAND runs with stdout/stderr on a pipe. Afterwards the guest prints
# "BULKHEAD-VM-EXIT <token> <status>" with a random per-run token and powers off
# (reboot -f + qemu -no-reboot). The runner exits with COMMAND's status, or 125 when the VM
# did not boot, timed out or never printed the marker: it fails loudly, never passes.
#
# Options:
#   --add HOST[:GUEST]  copy HOST into the guest at GUEST (default /bin/<basename HOST>);
#                       directories are copied recursively. Repeatable.
#   --module NAME       load kernel module NAME (e.g. loop) and its dependencies. Repeatable.
#   --host-root         share the host's / read-only over virtio-9p and run COMMAND in an
#                       overlay (tmpfs upper) over it, moved over / in a private mount
#                       namespace (not a chroot: user namespaces work), so dynamic host
#                       binaries and sandboxes work.
#   --timeout SECONDS   hard limit for the whole VM run (default 300).
#   --mem MIB           guest memory (default 512).   --cpus N   guest CPUs (default 2).
#   --append ARGS       extra kernel command line arguments.
#   --kernel VERSION    kernel version under /boot (default: newest *-amd64).
#   --cache DIR         where the extracted vmlinux is cached (default $BULKHEAD_VM_CACHE or
#                       ${XDG_CACHE_HOME:-$HOME/.cache}/bulkhead-vm).
#   --workdir DIR       guest working directory for COMMAND (default /).
#   --env K=V           environment variable for COMMAND. Repeatable.
#   --console           show the whole kernel console (default: only COMMAND's output).
#   --accel kvm|tcg     force the accelerator (default: KVM only when /dev/kvm is writable
#                       and the CPU shows vmx/svm, else TCG).
#   -h, --help
set -euo pipefail

prog=bulkhead-vm
die() { echo "$prog: error: $*" >&2; exit 125; }
note() { echo "$prog: $*" >&2; }

adds=() modules=() envs=() host_root=0 timeout_s=300 mem=512 cpus=2 append="" kver=""
cache="${BULKHEAD_VM_CACHE:-${XDG_CACHE_HOME:-${HOME:-/tmp}/.cache}/bulkhead-vm}" workdir=/ console=0 accel=""
usage() { sed -n '2,/^set -euo/p' "$0" | sed -e '/^set -euo/d' -e 's/^# \{0,1\}//'; }
while [ $# -gt 0 ]; do
  case "$1" in
    --add) [ $# -ge 2 ] || die "--add needs HOST[:GUEST]"; adds+=("$2"); shift 2 ;;
    --module) [ $# -ge 2 ] || die "--module needs a name"; modules+=("$2"); shift 2 ;;
    --host-root) host_root=1; shift ;;
    --timeout) [ $# -ge 2 ] && [[ "$2" =~ ^[1-9][0-9]*$ ]] || die "--timeout needs a positive number of seconds"; timeout_s=$2; shift 2 ;;
    --mem) [ $# -ge 2 ] && [[ "$2" =~ ^[1-9][0-9]*$ ]] || die "--mem needs MiB"; mem=$2; shift 2 ;;
    --cpus) [ $# -ge 2 ] && [[ "$2" =~ ^[1-9][0-9]*$ ]] || die "--cpus needs a number"; cpus=$2; shift 2 ;;
    --append) [ $# -ge 2 ] || die "--append needs arguments"; append="$append $2"; shift 2 ;;
    --kernel) [ $# -ge 2 ] || die "--kernel needs a version"; kver=$2; shift 2 ;;
    --cache) [ $# -ge 2 ] || die "--cache needs a directory"; cache=$2; shift 2 ;;
    --workdir) [ $# -ge 2 ] || die "--workdir needs a directory"; workdir=$2; shift 2 ;;
    --env) [ $# -ge 2 ] && [[ "$2" == *=* ]] || die "--env needs K=V"; envs+=("$2"); shift 2 ;;
    --console) console=1; shift ;;
    --accel) [ $# -ge 2 ] && [[ "$2" =~ ^(kvm|tcg)$ ]] || die "--accel needs kvm or tcg"; accel=$2; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    --) shift; break ;;
    -*) die "unknown option '$1' (see --help)" ;;
    *) break ;;
  esac
done
[ $# -gt 0 ] || die "no command given (usage: run.sh [options] -- COMMAND [ARGS...])"

# --- host tools (installed quietly when missing) -----------------------------------------
apt_quiet() {
  note "installing $*"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null 2>&1 && return 0
  # Stale package lists are the usual cause: refresh once and retry.
  apt-get update -qq >/dev/null 2>&1
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null || die "apt-get install $* failed"
}
command -v file >/dev/null || apt_quiet file
need_pkgs=()
command -v qemu-system-x86_64 >/dev/null || need_pkgs+=(qemu-system-x86)
command -v cpio >/dev/null || need_pkgs+=(cpio)
command -v xz >/dev/null || need_pkgs+=(xz-utils)
[ -x /bin/busybox ] && file -L /bin/busybox 2>/dev/null | grep -q 'statically linked' || need_pkgs+=(busybox-static)
ls /boot/vmlinuz-*-amd64 >/dev/null 2>&1 || need_pkgs+=(linux-image-amd64)
[ ${#need_pkgs[@]} -gt 0 ] && apt_quiet "${need_pkgs[@]}"
busybox=/bin/busybox
file -L "$busybox" | grep -q 'statically linked' || die "$busybox is not statically linked (install busybox-static)"

# --- kernel --------------------------------------------------------------------------------
if [ -z "$kver" ]; then
  kver=$(ls /boot/vmlinuz-*-amd64 2>/dev/null | sed 's|/boot/vmlinuz-||' | sort -V | tail -n1)
  [ -n "$kver" ] || die "no /boot/vmlinuz-*-amd64 (install linux-image-amd64)"
fi
bzimage=/boot/vmlinuz-$kver
[ -r "$bzimage" ] || die "kernel $bzimage not readable"
moddir=/lib/modules/$kver
mkdir -p "$cache" || die "cannot create cache directory $cache"

# The bzImage holds the vmlinux ELF compressed; booting the uncompressed ELF through its PVH
# entry skips the slow in-guest decompression (20+ s under TCG). Find the compressed stream
# by its magic and keep the first candidate that decompresses to an ELF.
# Keyed by the bzImage's size and mtime, so a rebuilt package with the same version string
# is extracted again.
vmlinux=$cache/vmlinux-$kver-$(stat -c %s-%Y "$bzimage")
extract_vmlinux() {
  local tmp=$vmlinux.tmp.$$ magic cmd off
  for pair in 'fd377a585a00:xz -dcq --single-stream' '1f8b08:gzip -dcq' '28b52ffd:zstd -dcq' \
              '02214c18:lz4 -dcq' '5d000000:xz -dcq --format=lzma'; do
    magic=${pair%%:*} cmd=${pair#*:}
    command -v "${cmd%% *}" >/dev/null || continue
    local pat; pat=$(echo "$magic" | sed 's/../\\x&/g')
    for off in $(LC_ALL=C grep -obUaP "$pat" "$bzimage" 2>/dev/null | cut -d: -f1 | head -n 8); do
      tail -c +$((off + 1)) "$bzimage" | $cmd > "$tmp" 2>/dev/null || true
      if [ -s "$tmp" ] && [ "$(head -c 4 "$tmp" | od -An -tx1 | tr -d ' \n')" = 7f454c46 ]; then
        mv -f "$tmp" "$vmlinux"; return 0
      fi
    done
  done
  rm -f "$tmp"; return 1
}
if [ ! -s "$vmlinux" ]; then
  note "extracting vmlinux from $bzimage into $cache (once)"
  extract_vmlinux || die "could not find a compressed vmlinux in $bzimage"
fi

# --- initramfs -----------------------------------------------------------------------------
work=$(mktemp -d "${TMPDIR:-/tmp}/bulkhead-vm.XXXXXX")
qpid=""
# timeout(1) passes TERM on to qemu; a KILL would orphan qemu.
cleanup() { [ -n "$qpid" ] && kill -TERM "$qpid" 2>/dev/null && wait "$qpid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
trap 'exit 130' INT TERM
root=$work/root
mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,proc,sys,dev,tmp,run,etc,lib/modules,newroot,host,mnt}
cp "$busybox" "$root/bin/busybox"

for a in ${adds[@]+"${adds[@]}"}; do
  src=${a%%:*}; dst=${a#*:}
  [ "$dst" = "$a" ] && dst=/bin/$(basename "$src")
  [ -e "$src" ] || die "--add: '$src' does not exist"
  # With --host-root the files go on top of the host's root (copied into the overlay).
  base=$root; [ $host_root = 1 ] && base=$root/payload
  mkdir -p "$base$(dirname "$dst")"
  cp -a "$src" "$base$dst" || die "--add: copying '$src' to '$dst' failed"
done

# Modules: dependencies first, in modules.dep order (its lists are reverse load order).
mods_ordered=()
add_module() {
  local name=$1 line path deps d i
  line=$(grep -E "(^|/)${name//-/[-_]}\.ko(\.[a-z]+)?:" "$moddir/modules.dep" | head -n1) \
    || die "--module: no module '$name' in $moddir/modules.dep (built in? then drop --module)"
  path=${line%%:*}; read -r -a deps <<<"${line#*:}"
  for ((i=${#deps[@]}-1; i>=0; i--)); do add_path "${deps[$i]}"; done
  add_path "$path"
}
add_path() {
  local p=$1 m
  for m in ${mods_ordered[@]+"${mods_ordered[@]}"}; do [ "$m" = "$p" ] && return 0; done
  mods_ordered+=("$p")
}
[ $host_root = 1 ] && for m in virtio_pci 9pnet_virtio 9p overlay; do add_module $m; done
for m in ${modules[@]+"${modules[@]}"}; do add_module "$m"; done
: > "$root/etc/modules.order"
for p in ${mods_ordered[@]+"${mods_ordered[@]}"}; do
  b=$(basename "$p"); case "$b" in
    *.ko) cp "$moddir/$p" "$root/lib/modules/$b" ;;
    *.ko.xz) xz -dc "$moddir/$p" > "$root/lib/modules/${b%.xz}"; b=${b%.xz} ;;
    *.ko.zst) zstd -dcq "$moddir/$p" > "$root/lib/modules/${b%.zst}"; b=${b%.zst} ;;
    *.ko.gz) gzip -dc "$moddir/$p" > "$root/lib/modules/${b%.gz}"; b=${b%.gz} ;;
  esac
  echo "$b" >> "$root/etc/modules.order"
done

token=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
printf '%s\n' "$token" > "$root/etc/token"
# COMMAND, one file per argument (any bytes but NUL), read back by the guest's init.
mkdir -p "$root/etc/argv"; i=0; for arg in "$@"; do printf '%s' "$arg" > "$root/etc/argv/$i"; i=$((i + 1)); done
: > "$root/etc/env"; for e in ${envs[@]+"${envs[@]}"}; do printf 'export %q\n' "$e" >> "$root/etc/env"; done
echo "$workdir" > "$root/etc/workdir"
echo "$host_root" > "$root/etc/host_root"

cat > "$root/init" <<'INIT'
#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin:/sbin:/usr/bin:/usr/sbin HOME=/root
mount -t devtmpfs dev /dev 2>/dev/null
exec </dev/console >/dev/console 2>&1
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t tmpfs -o mode=1777 tmp /tmp
mount -t tmpfs run /run
mount -t cgroup2 -o nsdelegate cgroup2 /sys/fs/cgroup || echo "bulkhead-vm: mounting cgroup2 failed"
token=$(cat /etc/token); rm -f /etc/token
fail() { echo; echo "bulkhead-vm: guest: $*"; echo "BULKHEAD-VM-EXIT $token 125"; sync; reboot -f; sleep 10; }
while read -r m; do [ -n "$m" ] && { insmod "/lib/modules/$m" || fail "insmod $m failed"; }; done < /etc/modules.order
for c in $(cat /sys/fs/cgroup/cgroup.controllers); do
  echo "+$c" > /sys/fs/cgroup/cgroup.subtree_control || fail "cannot enable controller $c"
done
ifconfig lo 127.0.0.1 up 2>/dev/null
set --; i=0
while [ -e /etc/argv/$i ]; do a=$(cat /etc/argv/$i; echo x); set -- "$@" "${a%x}"; i=$((i + 1)); done
. /etc/env
prefix=""
if [ "$(cat /etc/host_root)" = 1 ]; then
  mount -t 9p -o trans=virtio,version=9p2000.L,ro,msize=262144,cache=loose hostroot /host || fail "9p mount of the host root failed"
  mount -t tmpfs ovl /mnt && mkdir -p /mnt/u /mnt/w || fail "tmpfs for the overlay failed"
  mount -t overlay -o lowerdir=/host,upperdir=/mnt/u,workdir=/mnt/w overlay /newroot || fail "overlay over the host root failed"
  # /tmp stays the overlay's (the host's /tmp read-only below, the guest's writes above): a
  # checkout or build tree under the host's /tmp (a CI clone) must be visible in the guest.
  for d in proc sys dev run; do mkdir -p /newroot/$d; mount --bind /$d /newroot/$d || fail "bind /$d"; done
  mount -t cgroup2 cgroup2 /newroot/sys/fs/cgroup 2>/dev/null
  [ -d /payload ] && { cp -a /payload/. /newroot/ || fail "copying the --add files into the overlay failed"; }
  # Not a plain chroot: the kernel refuses new user namespaces to a chrooted process. In a
  # private mount namespace the overlay is moved over / and entered (as switch_root does), so
  # the command's root is its mount namespace's root and sandboxes work inside.
  printf '#!/bin/busybox sh\ncd /newroot || exit 125\nmount --move /newroot / || exit 125\nexec chroot . "$@"\n' > /bin/enter-newroot
  chmod +x /bin/enter-newroot
  prefix="unshare -m /bin/enter-newroot"
fi
cd "$(cat /etc/workdir)" 2>/dev/null || fail "no working directory $(cat /etc/workdir)"
echo; echo "BULKHEAD-VM-START $token"
( $prefix "$@"; echo $? > /run/status ) 2>&1 | cat
rc=$(cat /run/status 2>/dev/null || echo 126)
sync
echo; echo "BULKHEAD-VM-EXIT $token $rc"
reboot -f
sleep 10
INIT
chmod +x "$root/init"

(cd "$root" && find . -print0 | LC_ALL=C sort -z | cpio --null -o -H newc --quiet -R 0:0) > "$work/initramfs.cpio" \
  || die "building the initramfs failed"

# --- accelerator ---------------------------------------------------------------------------
if [ -z "$accel" ]; then
  accel=tcg
  if [ -w /dev/kvm ] && grep -qE '\b(vmx|svm)\b' /proc/cpuinfo; then accel=kvm; fi
fi
if [ "$accel" = kvm ]; then accel_args=(-accel kvm -cpu host); else accel_args=(-accel tcg,thread=multi -cpu max); fi

cmdline="console=ttyS0 cgroup_no_v1=all panic=-1 rdinit=/init quiet loglevel=1 cryptomgr.notests=1 lpj=5000000 tsc=reliable no_timer_check mitigations=off initcall_blacklist=crypto_kdf108_init,init_kprobe_trace$append"
[ $console = 1 ] && cmdline=${cmdline/ quiet loglevel=1/ loglevel=7}
qargs=(-M pc "${accel_args[@]}" -m "$mem" -smp "$cpus" -nodefaults -no-user-config -nographic
       -no-reboot -kernel "$vmlinux" -initrd "$work/initramfs.cpio" -append "$cmdline"
       -chardev file,id=con,path="$work/console.log" -serial chardev:con)
if [ $host_root = 1 ]; then
  qargs+=(-fsdev local,id=hostroot,path=/,security_model=none,readonly=on,multidevs=remap
          -device virtio-9p-pci,fsdev=hostroot,mount_tag=hostroot)
fi

# --- run -----------------------------------------------------------------------------------
: > "$work/console.log"
start=$(date +%s.%N)
timeout --kill-after=5 "$timeout_s" qemu-system-x86_64 "${qargs[@]}" </dev/null >"$work/qemu.out" 2>&1 &
qpid=$!
# Stream the guest's console while it runs (tail exits with qemu).
tail -n +1 --pid=$qpid -f "$work/console.log" 2>/dev/null | tr -d '\r' | {
  if [ $console = 1 ]; then cat; else
    # Show the payload's output as it comes (firmware and kernel noise before it hidden).
    # The payload's last line may lack its newline: the guest prints an empty line before
    # the exit marker, which is dropped here.
    awk -v t="$token" 'index($0, "BULKHEAD-VM-EXIT " t) {if (pending && prev != "") print prev; exit}
      on {if (pending) print prev; prev = $0; pending = 1; fflush()}
      $0 == "BULKHEAD-VM-START " t {on = 1}' || true
  fi
}
set +e; wait $qpid; qrc=$?; set -e; qpid=""
elapsed=$(awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN{printf "%.1f", e-s}')
marker=$(tr -d '\r' < "$work/console.log" | grep -a -o -E "BULKHEAD-VM-EXIT $token -?[0-9]+\$" | tail -n1 || true)
if [ -z "$marker" ]; then
  if [ $qrc = 124 ] || [ $qrc = 137 ]; then note "VM timed out after ${timeout_s}s (accel $accel, kernel $kver)"
  else note "VM ended (qemu status $qrc) without the exit marker: it did not boot or the guest crashed"; fi
  [ -s "$work/qemu.out" ] && { note "qemu said:"; sed 's/^/  /' "$work/qemu.out" >&2; }
  note "last console lines:"; tr -d '\r' < "$work/console.log" | tail -n 30 | sed 's/^/  /' >&2
  exit 125
fi
rc=${marker##* }
note "guest exit status $rc after ${elapsed}s (accel $accel, kernel $kver)"
exit "$rc"
