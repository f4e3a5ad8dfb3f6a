#!/usr/bin/env bash
# The README's main job: the per-site isolating host demo.
#   1. installs what it needs (scripts/packages/*.txt), builds sitehost and bulkhead-audit
#   2. runs scripts/demo-inner.sh: three sites with real nginx + PHP-FPM, each in its own
#      compartment, inside a fresh network namespace; shows what a site can and cannot do
#   3. limits must really be enforced: where this machine's cgroup2 lacks the cpu, memory and
#      pids controllers (hybrid mode), the demo runs inside the project's VM (a pure cgroup v2
#      kernel, the host's root shared read-only). --native runs on the host without limits,
#      and says so.
# usage: scripts/demo.sh [--native]
set -euo pipefail
. "$(dirname "$0")/lib/common.sh"
root=$(bh_root)
native=""
case "${1:-}" in
  --native) native=--native ;;
  "") ;;
  -h|--help) sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
  *) bh_die "unknown argument '$1' (see --help)" ;;
esac
[ "$(id -u)" -eq 0 ] || bh_die "run as root: sites need namespaces, cgroups and veths"

bh_log "dependencies"
"$root/scripts/install-deps.sh"

bh_log "build (release)"
cmake --preset release >/dev/null
cmake --build --preset release -j "$(nproc)" --target sitehost
bin="$root/build/release/examples/sitehost" # sitehost, and bulkhead-audit copied beside it

has_controllers() {
  local c
  c=$(cat /sys/fs/cgroup/cgroup.controllers 2>/dev/null) || return 1
  for want in cpu memory pids; do grep -qw "$want" <<<"$c" || return 1; done
}

if [ -n "$native" ]; then
  bh_log "running on this host WITHOUT cgroup limits (--native)"
  exec "$root/scripts/demo-inner.sh" "$bin" --native
elif has_controllers; then
  bh_log "running on this host (pure cgroup v2: limits enforced)"
  exec "$root/scripts/demo-inner.sh" "$bin"
else
  bh_log "this host's cgroup2 lacks cpu/memory/pids (hybrid mode): running the demo in the VM"
  exec "$root/scripts/vm/run.sh" --host-root --module veth --mem 2048 --cpus 2 --timeout 900 -- \
    "$root/scripts/demo-inner.sh" "$bin"
fi
