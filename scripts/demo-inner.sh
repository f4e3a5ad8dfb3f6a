#!/usr/bin/env bash
# The per-site host demo proper (scripts/demo.sh prepares and calls it, on the host or in the
# project's VM). It runs in a fresh network namespace (the machine's own network is never
# touched): three sites with real nginx and PHP-FPM, each in its own compartment, then shows
# what each site can and cannot do, and tears everything down.
#
# usage: demo-inner.sh BIN_DIR [--native]
#   BIN_DIR holds sitehost and bulkhead-audit.
set -uo pipefail

bin=${1:?usage: demo-inner.sh BIN_DIR [--native]}
native=${2:-}
if [ -z "${BULKHEAD_DEMO_NETNS:-}" ]; then
  # Re-run inside a fresh network namespace; everything below lives and dies there.
  exec env BULKHEAD_DEMO_NETNS=1 unshare --net -- "$0" "$@"
fi
ip link set lo up

work=$(mktemp -d /tmp/bulkhead-demo.XXXXXX)
chmod 711 "$work" # site users must traverse it to their webroots
state=$work/state
sup_pid=""
nsd_pid=""
results=()
fails=0
cleanup() {
  if [ -n "$sup_pid" ] && kill -0 "$sup_pid" 2>/dev/null; then
    kill -TERM "$sup_pid"; wait "$sup_pid" 2>/dev/null
  fi
  if [ -n "$nsd_pid" ]; then kill -TERM "$nsd_pid" 2>/dev/null; wait "$nsd_pid" 2>/dev/null; fi
  rm -rf "$work"
}
trap cleanup EXIT
say() { printf '\n\033[1m## %s\033[0m\n' "$*"; }
[ -t 1 ] || say() { printf '\n## %s\n' "$*"; }
check() { # check "claim" command...  (records PASS when the command succeeds)
  local claim=$1; shift
  if "$@" >/dev/null 2>&1; then results+=("PASS  $claim"); else results+=("FAIL  $claim"); fails=$((fails + 1)); fi
}
sh_() { "$bin/sitehost" "$@" --state-dir "$state"; }
site_exec() { local s=$1; shift; "$bin/sitehost" exec "$s" --state-dir "$state" -- "$@"; }
fails() { ! "$@"; }

say "three sites, each with its own webroot, ids and address"
for s in alpha beta gamma; do
  mkdir -p "$work/www/$s"
  cat > "$work/www/$s/index.php" <<PHP
<?php
echo "site ", gethostname(), ": PHP ", PHP_VERSION, " as uid ", posix_getuid(), ", pid ", getmypid(), "\n";
PHP
  echo "secret of $s" > "$work/www/$s/secret.txt"
done
# A local authoritative DNS server for the sites' domains (CAA preflight).
mkdir -p "$work/dns"
cat > "$work/dns/example.zone" <<'ZONE'
$ORIGIN example.
$TTL 300
@     IN SOA ns.example. hostmaster.example. 1 3600 600 86400 300
@     IN NS  ns.example.
ns    IN A   127.0.0.53
alpha IN CAA 0 issue "letsencrypt.org"
beta  IN CAA 0 issue "sectigo.com"
beta  IN CAA 0 iodef "mailto:security@beta.example"
ZONE
cat > "$work/dns/nsd.conf" <<CONF
server:
  ip-address: 127.0.0.53@5353
  username: ""
  chroot: ""
  zonesdir: "$work/dns"
  pidfile: "$work/dns/nsd.pid"
  database: ""
  xfrdfile: "$work/dns/xfrd.state"
  zonelistfile: "$work/dns/zone.list"
  logfile: "$work/dns/nsd.log"
  verbosity: 0
remote-control:
  control-enable: no
zone:
  name: example
  zonefile: example.zone
CONF
nsd -d -c "$work/dns/nsd.conf" & nsd_pid=$!
# Signatures in ClamAV's .ndb format: a PHP web shell (eval of request data, any spacing).
mkdir -p "$work/sigs"
shell_hex=$(printf 'eval($_POST[' | od -An -tx1 | tr -d ' \n')
echo "Bulkhead.Demo.WebShell.PostEval:0:*:${shell_hex}" > "$work/sigs/demo.ndb"
limits='"limits": {"memory_max": "256M", "memory_high": "192M", "pids_max": 64, "cpu_max": "50000 100000"}'
cat > "$work/sites.json" <<JSON
{"state_dir": "$state",
 "caa": {"ca": "letsencrypt.org", "servers": ["127.0.0.53:5353"]},
 "pressure": [{"resource": "memory", "stall_ms": 100, "window_ms": 1000}],
 "scan": {"databases": ["$work/sigs/demo.ndb"], "quarantine_dir": "$work/quarantine"},
 "sites": [
  {"name": "alpha", "domains": ["alpha.example"], "webroot": "$work/www/alpha", $limits},
  {"name": "beta",  "domains": ["beta.example"],  "webroot": "$work/www/beta",  $limits},
  {"name": "gamma", "domains": ["gamma.example"], "webroot": "$work/www/gamma", $limits}
 ]}
JSON
"$bin/sitehost" check "$work/sites.json" || exit 2
# The webroots belong to each site's www-data (uid 33 inside = ids.base + 33 outside).
base=200000
for s in alpha beta gamma; do chown -R $((base + 33)):$((base + 33)) "$work/www/$s"; base=$((base + 65536)); done

say "sitehost up"
"$bin/sitehost" up "$work/sites.json" --tools "$bin" $native > "$work/events.log" 2>&1 &
sup_pid=$!
for _ in $(seq 300); do [ -S "$state/control.sock" ] && sh_ status >/dev/null 2>&1 && break; sleep 0.1; done
# Serving means nginx answers and PHP-FPM's socket is there (slow under an emulated VM).
for s in 6 10 14; do
  for _ in $(seq 600); do curl -s -m 2 "http://10.88.0.$s/" | grep -q '^site ' && break; sleep 0.1; done
done
sh_ status

say "each site serves its own PHP page on its own IP"
declare -A ip=([alpha]=10.88.0.6 [beta]=10.88.0.10 [gamma]=10.88.0.14)
for s in alpha beta gamma; do
  page=$(curl -s -m 5 "http://${ip[$s]}/")
  echo "  http://${ip[$s]}/ -> $page"
  check "$s serves PHP from ${ip[$s]} as its own uid 33" grep -q "site $s: PHP .* as uid 33" <<<"$page"
done

say "bulkhead-audit inside alpha (what alpha can see and do)"
site_exec alpha /opt/bulkhead/bulkhead-audit | sed -e '/^processes visible/,/^mounts/{/^mounts/!d}' -e '/^mounts:/,/^network/{/^mounts:\|^network/!d}'
audit=$(site_exec alpha /opt/bulkhead/bulkhead-audit --json)
for k in user pid mnt net uts ipc cgroup; do
  check "alpha: $k namespace is its own" grep -q "\"kind\":\"$k\",\"inode\":[0-9]*,\"host_inode\":[0-9]*,\"verdict\":\"private\"" <<<"$audit"
done
check "alpha: no capabilities, no_new_privs set" grep -q '"CapEff":0.*"no_new_privs":1' <<<"$audit"
check "alpha: root inside is not root outside" grep -q '"uid_map":"0 *200000 *65536"' <<<"$audit"
check "alpha: seccomp blocks io_uring, ptrace, bpf, keyctl, mount, unshare, setns, kexec, modules..." \
  bash -c "grep -q '\"seccomp_mode\":2' <<<'$audit' && ! grep -q '\"outcome\":\"reachable\"' <<<'$audit'"

say "CAA preflight: may letsencrypt.org issue for each site's domain? (local DNS server)"
sh_ certcheck
check "letsencrypt.org may issue for alpha.example (CAA names it)" \
  grep -q '"event":"certcheck","site":"alpha","domain":"alpha.example","ca":"letsencrypt.org","permitted":true' "$work/events.log"
check "letsencrypt.org may not issue for beta.example (CAA names sectigo.com only), and sitehost says why" \
  bash -c "grep '\"event\":\"certcheck\",\"site\":\"beta\"' '$work/events.log' | grep '\"permitted\":false' | grep -q sectigo.com"

say "upload scanning: a web shell arrives in alpha's webroot (in a directory made after start)"
site_exec alpha sh -c 'mkdir -p /srv/www/uploads/2026 && printf "<?php @eval(\$_POST[\"c\"]); ?>\n" > /srv/www/uploads/2026/shell.php'
for _ in $(seq 50); do grep -q '"event":"malware","site":"alpha"' "$work/events.log" && break; sleep 0.1; done
grep '"event":"malware"' "$work/events.log" | sed 's/^/  /'
check "the upload is detected (Bulkhead.Demo.WebShell.PostEval) and named in an event" \
  grep -q '"event":"malware","site":"alpha","path":"uploads/2026/shell.php","signature":"Bulkhead.Demo.WebShell.PostEval"' "$work/events.log"
check "the file left alpha's webroot" fails test -e "$work/www/alpha/uploads/2026/shell.php"
check "it sits in the quarantine outside every site, with its record" \
  bash -c "ls '$work/quarantine/alpha/'*.bin && grep -q '\"path\":\"uploads/2026/shell.php\"' '$work/quarantine/alpha/'*.json"
sh_ scan --all | sed 's/^/  /'
check "a full scan of every site finds nothing more, and skips unchanged files the second time" \
  bash -c "'$bin/sitehost' scan --all --state-dir '$state' >/dev/null && '$bin/sitehost' scan --all --state-dir '$state' | grep -q 'unchanged [1-9]'"

say "alpha against beta"
# beta's nginx master, by its pid on the host
bpid=$(sh_ status --json | grep -o '"name":"beta".*' | grep -o '"name":"nginx","running":true,"pid":[0-9]*' | head -n1 | grep -o '[0-9]*$')
check "alpha cannot read beta's files (beta's webroot is not in alpha's world)" fails site_exec alpha cat "$work/www/beta/secret.txt"
check "beta can read its own file (control)" site_exec beta cat /srv/www/secret.txt
check "alpha cannot signal beta's nginx (host pid $bpid is not in alpha's pid namespace)" fails site_exec alpha kill -0 "$bpid"
check "alpha cannot connect to beta's IP" fails site_exec alpha curl -s -m 3 http://10.88.0.10/
check "beta reaches its own IP (control)" site_exec beta curl -s -m 3 http://10.88.0.10/
site_exec alpha touch /tmp/planted /dev/shm/planted
check "alpha's /tmp and /dev/shm are not beta's" fails site_exec beta ls /tmp/planted /dev/shm/planted
check "alpha sees its own planted files (control)" site_exec alpha ls /tmp/planted /dev/shm/planted

say "escape suite: bulkhead-escape in alpha (as www-data and as alpha's root) against beta and the host"
"$bin/sitehost" exec beta --state-dir "$state" -- /opt/bulkhead/bulkhead-escape --serve-canaries demo-canary >/dev/null &
canary_pid=$!
for _ in $(seq 100); do site_exec beta test -e /tmp/demo-canary && break; sleep 0.1; done
bpid_now=$(sh_ status --json | grep -o '"name":"beta".*' | grep -o '"name":"nginx","running":true,"pid":[0-9]*' | head -n1 | grep -o '[0-9]*$')
probe_args=(--pid "$bpid_now" --file "$work/www/beta/secret.txt" --ip 10.88.0.10 --host-ip 10.88.0.5 --host-port 22 --ifname bh1-beta --canary demo-canary)
site_exec alpha /opt/bulkhead/bulkhead-escape "${probe_args[@]}" | sed 's/^/  /'
check "escape suite as alpha's www-data: every probe refused" site_exec alpha /opt/bulkhead/bulkhead-escape "${probe_args[@]}"
check "escape suite as alpha's root: every probe refused" "$bin/sitehost" exec alpha --root --state-dir "$state" -- /opt/bulkhead/bulkhead-escape "${probe_args[@]}"
check "the same attempts inside beta reach beta's own canaries (control)" \
  site_exec beta /opt/bulkhead/bulkhead-escape --control --file /srv/www/secret.txt --ip 10.88.0.10 --canary demo-canary
kill "$canary_pid" 2>/dev/null; wait "$canary_pid" 2>/dev/null

if [ -z "$native" ]; then
  say "limits are enforced per site"
  site_exec alpha sh -c 'n=0; while [ $n -lt 200 ]; do sleep 20 & n=$((n+1)); done 2>/dev/null; echo "alpha forked until pids.max"' || true
  check "a fork storm in alpha stops at pids.max=64" bash -c "[ \$(cat /sys/fs/cgroup/bulkhead-sitehost/alpha/pids.current) -le 64 ]"
  check "beta still serves during alpha's fork storm" bash -c "curl -s -m 5 http://10.88.0.10/ | grep -q 'site beta'"
  check "the refused forks are an event naming alpha (pids_max)" grep -q '"event":"pids_max","site":"alpha"' "$work/events.log"
  sh_ kill alpha >/dev/null
  site_exec alpha php -d memory_limit=-1 -r '$a = str_repeat("x", 600 * 1024 * 1024); echo strlen($a);' || true
  sleep 0.5
  check "a 600 MB memory hog in alpha is OOM-killed inside alpha (memory.max=256M)" grep -q '"event":"oom_kill","site":"alpha"' "$work/events.log"
  check "memory pressure above the configured threshold is an event naming alpha" grep -q '"event":"pressure","site":"alpha","resource":"memory"' "$work/events.log"
  sh_ status
  check "beta was not touched by alpha's OOM" bash -c "! grep -q '\"event\":\"oom_kill\",\"site\":\"beta\"' '$work/events.log'"
  check "beta still serves after alpha's OOM" bash -c "curl -s -m 5 http://10.88.0.10/ | grep -q 'site beta'"
  # The supervisor runs outside every site's limits: after the storms it must sleep, not poll.
  cpu_ticks() { awk '{print $14 + $15}' "/proc/$sup_pid/stat"; }
  t0=$(cpu_ticks); sleep 2; t1=$(cpu_ticks)
  check "the supervisor is idle once the storms are over ($((t1 - t0)) ticks of CPU in 2 s, at most 30)" test $((t1 - t0)) -le 30
else
  results+=("SKIP  limits: --native runs without cpu/memory/pids controllers (run without --native to see them enforced in the VM)")
fi

say "teardown"
kill -TERM "$sup_pid"; wait "$sup_pid"; sup_pid=""
check "no cgroup left" bash -c "! ls -d /sys/fs/cgroup/bulkhead-sitehost /sys/fs/cgroup/unified/bulkhead-sitehost 2>/dev/null"
check "no veth left" bash -c "! ip -o link | grep -q 'bh[0-9]-'"
check "no site process left" bash -c "! pgrep -f '[n]ginx: master|[p]hp-fpm: master'"
kill -TERM "$nsd_pid" 2>/dev/null; wait "$nsd_pid" 2>/dev/null; nsd_pid=""
check "/dev/null is still root:root 0666" bash -c "[ \"\$(stat -c '%u:%g %a' /dev/null)\" = '0:0 666' ]"

say "events (JSON lines)"
grep -v '"event":"log"' "$work/events.log" | head -n 20

say "report"
printf '  %s\n' "${results[@]}"
echo
if [ $fails -eq 0 ]; then echo "demo: every check passed"; else echo "demo: $fails check(s) failed"; fi
[ $fails -eq 0 ]
