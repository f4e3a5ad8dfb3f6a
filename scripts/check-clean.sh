#!/usr/bin/env bash
# Fails when the tests left something behind on this machine: a stray cgroup of ours, a mount
# under /tmp, a bulkhead temp dir, a network namespace, a qemu, a test server, or a device node
# whose owner or mode changed (see the /dev/null hazard in shared/notes/machine.md).
set -uo pipefail
bad=0
report() { echo "leftover: $*"; bad=1; }

for d in /sys/fs/cgroup/unified /sys/fs/cgroup; do
  [ -d "$d" ] || continue
  while IFS= read -r c; do report "cgroup $c"; done < <(find "$d" -maxdepth 3 -type d -name 'bulkhead*' 2>/dev/null)
done
# Temp files and directories of the tests (/tmp/bulkhead-sigbench is the signature
# benchmark's corpus cache, kept between runs on purpose).
while IFS= read -r t; do report "temp $t"; done < <(find /tmp -maxdepth 1 -name 'bulkhead-*' ! -name 'bulkhead-sigbench' 2>/dev/null)
while IFS= read -r m; do report "mount $m"; done < <(awk '$5 ~ /bulkhead/ {print $5}' /proc/self/mountinfo)
if command -v ip >/dev/null; then
  while IFS= read -r n; do report "netns $n"; done < <(ip netns list 2>/dev/null | awk '/bulkhead/ {print $1}')
  while IFS= read -r l; do report "link $l"; done < <(ip -o link show 2>/dev/null | awk -F': ' '/bh-|bulkhead/ {print $2}')
fi
while IFS= read -r p; do report "process $p"; done < <(pgrep -a -f 'qemu-system|bulkhead-(run|scan|caa|seccomp)|nsd -c /tmp/bulkhead|unbound -c /tmp/bulkhead|sitehost' 2>/dev/null | grep -v -e pgrep -e check-clean)
for dev in null zero full random urandom tty; do
  st=$(stat -c '%u:%g %a' "/dev/$dev")
  case "$dev:$st" in
    tty:"0:5 666"|tty:"0:0 666") ;;
    tty:*) report "/dev/tty is $st" ;;
    *:"0:0 666") ;;
    *) report "/dev/$dev is $st (expected 0:0 666)" ;;
  esac
done
[ $bad -eq 0 ] && echo "no leftovers"
exit $bad
