#!/usr/bin/env bash
# VM tier self-test of scripts/vm/run.sh: the payload's exit status comes back, a payload that
# prints a forged exit marker cannot fake success, a guest that cannot boot fails with 125,
# added files reach the guest, and --host-root runs a dynamic host binary.
set -uo pipefail
runner=${1:?usage: vm_runner_test.sh path/to/run.sh}
fails=0
check() { # check NAME WANT GOT
  if [ "$2" = "$3" ]; then echo "ok: $1"; else echo "FAIL: $1: expected $2, got $3"; fails=$((fails + 1)); fi
}
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
echo "payload-data-$$" > "$tmp/data.txt"

out=$(bash "$runner" --timeout 120 --add "$tmp/data.txt:/etc/bulkhead/data.txt" -- \
      sh -c 'cat /etc/bulkhead/data.txt; grep -q "cgroup2 /sys/fs/cgroup" /proc/mounts || exit 9;
             grep -qw memory /sys/fs/cgroup/cgroup.subtree_control || exit 8;
             echo; echo "BULKHEAD-VM-EXIT 00000000000000000000000000000000 0" >&2; exit 3' 2>/dev/null)
# The payload printed a forged success marker before exiting 3: the token decides.
check "exit status of the payload (a forged marker does not pass)" 3 $?
check "--add file in the guest" "payload-data-$$" "$(echo "$out" | head -n1)"

bash "$runner" --timeout 120 --append rdinit=/does-not-exist -- true >/dev/null 2>"$tmp/err"
check "a guest that cannot boot fails" 125 $?
grep -q "without the exit marker" "$tmp/err"; check "and says why" 0 $?

if command -v nginx >/dev/null; then
  # A file under the host's /tmp too: a CI clone there must be visible in the guest.
  echo "host-tmp-$$" > "$tmp/host-file"
  out=$(bash "$runner" --timeout 120 --host-root -- sh -c "nginx -v 2>&1; cat /proc/self/cgroup; cat $tmp/host-file" 2>/dev/null)
  check "--host-root runs a dynamic host binary" 0 $?
  case "$out" in *"nginx version"*"0::/"*"host-tmp-$$"*) check "--host-root output" ok ok ;; *) check "--host-root output" ok "$out" ;; esac
else
  echo "WARN: nginx not installed, --host-root check skipped"
fi
[ $fails -eq 0 ] && echo "all runner checks passed"
exit $fails
