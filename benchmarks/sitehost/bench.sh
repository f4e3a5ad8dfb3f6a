#!/usr/bin/env bash
# sitehost start time and idle memory per site, in a fresh network namespace.
#   start time: the "ms" of each site's start event (compartment + nginx + PHP-FPM spawned),
#               and the wall time from `up` to all N sites serving their page.
#   idle memory of the isolation machinery per site (apart from nginx and PHP-FPM): the PSS of
#               the site's holder (its pid 1 and the process keeping the namespaces alive).
# usage: benchmarks/sitehost/bench.sh BIN_DIR [N=20]   (BIN_DIR holds sitehost; run as root)
set -euo pipefail
bin=${1:?usage: bench.sh BIN_DIR [N]}
n=${2:-20}
if [ -z "${BULKHEAD_BENCH_NETNS:-}" ]; then exec env BULKHEAD_BENCH_NETNS=1 unshare --net -- "$0" "$@"; fi
ip link set lo up
work=$(mktemp -d /tmp/bulkhead-bench.XXXXXX); chmod 711 "$work"
pid=""
trap '[ -n "$pid" ] && kill -TERM $pid 2>/dev/null; wait 2>/dev/null; rm -rf "$work"' EXIT
sites=""
for i in $(seq 1 "$n"); do
  mkdir -p "$work/www/s$i"; echo '<?php echo "ok";' > "$work/www/s$i/index.php"
  chmod -R a+rX "$work/www/s$i"
  sites+="${sites:+,}{\"name\":\"s$i\",\"webroot\":\"$work/www/s$i\",\"seccomp\":\"${SECCOMP:-web}\"}"
done
echo "{\"state_dir\":\"$work/state\",\"sites\":[$sites]}" > "$work/sites.json"
t0=$(date +%s%N)
"$bin/sitehost" up "$work/sites.json" --native > "$work/events" 2>&1 & pid=$!
ips=$("$bin/sitehost" check "$work/sites.json" | awk '{print $5}')
for ip in $ips; do
  until curl -s -m 1 "http://$ip/" | grep -q ok; do sleep 0.02; kill -0 $pid || { cat "$work/events"; exit 1; }; done
done
t1=$(date +%s%N)
ms=$(grep -o '"event":"start","site":"[^"]*","ipv4":"[^"]*","uid_base":[0-9]*,"ms":[0-9]*' "$work/events" | grep -o '[0-9]*$' | sort -n)
echo "sites: $n"
echo "start of one site (compartment + servers spawned), ms: min $(head -n1 <<<"$ms") median $(sed -n "$(( (n + 1) / 2 ))p" <<<"$ms") max $(tail -n1 <<<"$ms")"
echo "up to all $n sites serving PHP: $(( (t1 - t0) / 1000000 )) ms"
pss=0
for holder in $(pgrep -f '^/usr/bin/sleep infinity$'); do
  parent=$(awk '{print $4}' /proc/$holder/stat)
  for p in $holder $parent; do
    v=$(awk '/^Pss:/ {print $2}' /proc/$p/smaps_rollup); pss=$((pss + v))
  done
done
echo "isolation machinery per site (holder pid 1 + namespace keeper), PSS: $((pss / n)) KiB"
