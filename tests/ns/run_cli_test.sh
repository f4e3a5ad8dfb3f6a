#!/bin/sh
# Kernel tier: bulkhead-run end to end. Runs everything inside a fresh network namespace
# (unshare -n) so the --net veth's host side never lands in the machine's namespace.
# usage: run_cli_test.sh PATH/TO/bulkhead-run
set -u
R="$1"
if [ "$(id -u)" != 0 ]; then echo "WARN: not root, bulkhead-run tests cannot run"; exit 0; fi
if [ -z "${BH_IN_NETNS:-}" ]; then BH_IN_NETNS=1 exec unshare -n sh "$0" "$@"; fi
fail=0
check() { # name, expected, actual
    if [ "$2" = "$3" ]; then echo "ok   $1"; else echo "FAIL $1: expected [$2], got [$3]"; fail=1; fi
}
contains() { # name, needle, haystack
    case "$3" in *"$2"*) echo "ok   $1";; *) echo "FAIL $1: [$2] not in [$3]"; fail=1;; esac
}
BASE="--unshare-all --uid-map 0:100000:65536 --gid-map 0:100000:65536 --ro-bind /usr /usr
      --symlink usr/bin /bin --symlink usr/lib /lib --symlink usr/lib64 /lib64 --proc /proc --dev /dev"

out=$("$R" --help); check "--help exits 0" 0 $?
for f in --unshare-all --ro-bind --bind --tmpfs --proc --dev --symlink --dir --uid-map --gid-map \
         --hostname --cap-keep --rlimit --seccomp --cgroup --memory-max --net --ip --peer-ip --json-status; do
    contains "--help documents $f" "$f" "$out"
done

out=$("$R" $BASE --hostname cli --tmpfs /tmp --rlimit NOFILE=77 /bin/sh -c 'hostname; ulimit -n; id -u; exit 7')
check "payload exit code passes through" 7 $?
check "hostname, rlimit, uid inside" "cli 77 0" "$(echo $out)"

err=$("$R" $BASE --ro-bind /nonexistent-cli-src /data /bin/true 2>&1); rc=$?
check "setup failure exit code" 125 $rc
check "setup failure names the step" "bulkhead-run: mount /nonexistent-cli-src at /data: No such file or directory" "$err"

err=$("$R" $BASE no-such-cmd-cli 2>&1); check "not found exit code" 127 $?
contains "not found message" "execute no-such-cmd-cli: No such file or directory" "$err"
err=$("$R" $BASE /proc/self/status 2>&1); check "cannot execute exit code" 126 $?

err=$("$R" --rlimit NOFILE=x /bin/true 2>&1); check "bad flag exit code" 125 $?
contains "bad flag named" "--rlimit" "$err"
err=$("$R" --cap-keep CAP_FLY /bin/true 2>&1); contains "bad capability named" "--cap-keep: capability \"CAP_FLY\"" "$err"
err=$("$R" --memory-max 10M /bin/true 2>&1); contains "limits need --cgroup" "--cgroup PATH" "$err"
err=$("$R" --bogus /bin/true 2>&1); contains "unknown flag named" "unknown option --bogus" "$err"

json=$("$R" --json-status $BASE /bin/sh -c 'exit 3' 2>&1 >/dev/null)
contains "json started" '{"event":"started","pid":' "$json"
contains "json exited" '{"event":"exited","exit_code":3}' "$json"

out=$("$R" $BASE --cap-keep CAP_NET_BIND_SERVICE --uid 1000 --gid 1000 \
      --uid-map 0:100000:2000 --gid-map 0:100000:2000 /bin/sh -c 'grep CapEff /proc/self/status; id -u')
check "cap-keep for a non-root uid" "CapEff: 0000000000000400 1000" "$(echo $out)"

# A seccomp program file: allow everything but uname (errno EPERM), raw BPF like bwrap's.
SC=$(mktemp)
python3 - "$SC" <<'PY'
import struct, sys
def ins(code, jt, jf, k): return struct.pack('<HBBI', code, jt, jf, k)
prog = ins(0x20, 0, 0, 4) + ins(0x15, 1, 0, 0xc000003e) + ins(0x06, 0, 0, 0x80000000)  # arch check
prog += ins(0x20, 0, 0, 0) + ins(0x15, 0, 1, 63) + ins(0x06, 0, 0, 0x00050001) + ins(0x06, 0, 0, 0x7fff0000)
open(sys.argv[1], 'wb').write(prog)
PY
err=$("$R" $BASE --seccomp "$SC" /bin/uname 2>&1); rc=$?
check "seccomp filter denies uname" 1 $rc
contains "seccomp errno seen" "Operation not permitted" "$err"
printf 'abc' > "$SC"
err=$("$R" $BASE --seccomp "$SC" /bin/true 2>&1); contains "bad seccomp file named" "--seccomp $SC: size 3" "$err"
rm -f "$SC"

# --net: own netns with a veth to this (fresh) namespace.
ip link set lo up 2>/dev/null || true
out=$("$R" $BASE --net --ip 10.77.0.2/24 --peer-ip 10.77.0.1/24 --veth bhcli0 \
      /usr/bin/python3 -c "import socket;s=socket.socket();s.settimeout(2)
try: s.connect(('10.77.0.1',9))
except OSError as e: print(e.errno)")
check "veth reaches the peer (refused, not unreachable)" 111 "$out"
out=$("$R" $BASE --net --ip fd00:77::2/64 --peer-ip fd00:77::1/64 --veth bhcli6 \
      /usr/bin/python3 -c "import socket;s=socket.socket(socket.AF_INET6);s.settimeout(2)
try: s.connect(('fd00:77::1',9))
except OSError as e: print(e.errno)")
check "IPv6 veth reaches the peer" 111 "$out"
check "veth removed afterwards" "" "$(grep bhcli0 /proc/net/dev)"

# --cgroup: CLONE_INTO_CGROUP into a cgroup2 directory made for the test (removed after).
CG=""
for root in /sys/fs/cgroup/unified /sys/fs/cgroup; do
    if [ -e "$root/cgroup.controllers" ]; then CG="$root/bulkhead-cli-test-$$"; break; fi
done
if [ -n "$CG" ] && mkdir "$CG"; then
    out=$("$R" --cgroup "$CG" /bin/sh -c 'grep "^0::" /proc/self/cgroup')
    check "--cgroup spawns into the cgroup" "0::/bulkhead-cli-test-$$" "$out"
    if [ ! -e "$CG/pids.max" ]; then
        err=$("$R" --cgroup "$CG" --pids-max 10 /bin/true 2>&1); rc=$?
        check "--pids-max without the controller fails" 125 $rc
        contains "--pids-max named" "--pids-max: open pids.max: No such file or directory (controller not enabled" "$err"
    else
        "$R" --cgroup "$CG" --pids-max 10 /bin/true; check "--pids-max written" 0 $?
        check "pids.max value" 10 "$(cat "$CG/pids.max")"
    fi
    rmdir "$CG"; check "test cgroup removed" 0 $?
else
    echo "WARN: no cgroup2 hierarchy to test --cgroup"
fi

st=$(stat -c '%u:%g %a' /dev/null); check "/dev/null untouched" "0:0 666" "$st"
exit $fail
