#!/usr/bin/env bash
# Noisy-neighbour proof: site beta's PHP request latency at a fixed rate, with and without a
# CPU hog, a memory hog and a fork storm in site alpha; with the per-site limits, and the same
# runs without any limits to show what the limits buy. Needs the cpu, memory and pids
# controllers: on a hybrid-mode host it runs itself in the project's VM.
#
# usage: benchmarks/sitehost/noisy.sh SITEHOST_DIR LATENCY_BIN [RUNS=3] [SECONDS=20] [RATE=10]
#   SITEHOST_DIR holds sitehost (+ tools); LATENCY_BIN is bench_latency (this directory).
#   NOISY_MODES="limited unlimited" and NOISY_SCENARIOS="none cpu memory forks" pick a subset;
#   NOISY_CPU_MAX sets the sites' cpu.max in the limited mode (default "50000 100000": half a CPU
#   per 100 ms period; a 10 ms period throttled even the quiet site badly in the TCG VM), and
#   NOISY_VM_CPUS the VM's CPUs (default 2).
#   The rate keeps beta's own load at about half its cpu.max (a page costs ~25 ms of CPU under
#   TCG): at 20 req/s beta sat at its own limit whenever the emulated CPU ran slow (a busy host),
#   and the benchmark measured beta throttling itself, not its neighbour.
#   Runs are interleaved (run 1 of every case, then run 2, ...), so slow drift in the machine's
#   own noise lands on every case alike instead of on whichever case ran during it.
#   Each run also prints beta's major faults and file refaults (memory.stat deltas), which
#   show whether alpha's reclaim took page-cache pages beta runs on.
set -uo pipefail
bin=${1:?usage: noisy.sh SITEHOST_DIR LATENCY_BIN [RUNS] [SECONDS] [RATE]}
lat=${2:?usage: noisy.sh SITEHOST_DIR LATENCY_BIN [RUNS] [SECONDS] [RATE]}
runs=${3:-3} secs=${4:-20} rate=${5:-10}
# Absolute paths: the VM runs this script again from another working directory.
bin=$(cd "$bin" && pwd) || exit 2
lat=$(cd "$(dirname "$lat")" && pwd)/$(basename "$lat")
[ -x "$bin/sitehost" ] || { echo "noisy.sh: no sitehost in $bin" >&2; exit 2; }
[ -x "$lat" ] || { echo "noisy.sh: $lat is not an executable (build bench_latency)" >&2; exit 2; }
here=$(cd "$(dirname "$0")" && pwd)
self="$here/$(basename "$0")"
root=$(cd "$here/../.." && pwd)

controllers_ok() { local c; c=$(cat /sys/fs/cgroup/cgroup.controllers 2>/dev/null) || return 1
  for w in cpu memory pids; do grep -qw $w <<<"$c" || return 1; done; }
if [ -z "${BULKHEAD_NOISY_INNER:-}" ]; then
  if controllers_ok; then exec env BULKHEAD_NOISY_INNER=1 unshare --net -- "$self" "$bin" "$lat" "$runs" "$secs" "$rate"; fi
  pass=()
  for v in NOISY_MODES NOISY_SCENARIOS NOISY_CPU_MAX NOISY_VM_CPUS; do [ -n "${!v:-}" ] && pass+=(--env "$v=${!v}"); done
  exec "$root/scripts/vm/run.sh" --host-root --module veth --mem 3072 --cpus "${NOISY_VM_CPUS:-2}" --timeout 3000 \
    --env BULKHEAD_NOISY_INNER=1 "${pass[@]}" -- unshare --net -- "$self" "$bin" "$lat" "$runs" "$secs" "$rate"
fi
ip link set lo up
work=$(mktemp -d /tmp/bulkhead-noisy.XXXXXX); chmod 711 "$work"
sup=""
trap '[ -n "$sup" ] && kill -TERM $sup 2>/dev/null; wait 2>/dev/null; rm -rf "$work"' EXIT
for s in alpha beta; do
  mkdir -p "$work/www/$s"
  # A page that does a little work, like a small CMS page.
  echo '<?php $x = 0; for ($i = 0; $i < 20000; $i++) { $x += $i * $i; } echo "ok ", $x, "\n";' > "$work/www/$s/index.php"
done
chown -R 200033:200033 "$work/www/alpha"; chown -R 265569:265569 "$work/www/beta"

hog() { # hog KIND: started inside alpha, in its exec group
  case $1 in
    cpu) "$bin/sitehost" exec alpha --state-dir "$work/state" -- sh -c 'for i in 1 2 3 4; do (while :; do :; done) & done; wait' ;;
    memory) "$bin/sitehost" exec alpha --state-dir "$work/state" -- sh -c 'while :; do php -d memory_limit=-1 -r "\$a = str_repeat(\"x\", 700 << 20); usleep(200000);"; done' ;;
    forks) "$bin/sitehost" exec alpha --state-dir "$work/state" -- sh -c 'n=0; while [ $n -lt 2000 ]; do sleep 120 & n=$((n+1)); done 2>/dev/null; wait' ;;
  esac
}

beta_faults() { # "pgmajfault workingset_refault_file" of beta's whole subtree
  awk '$1 == "pgmajfault" {m = $2} $1 == "workingset_refault_file" {r = $2} END {print m + 0, r + 0}' \
    /sys/fs/cgroup/bulkhead-sitehost/beta/memory.stat 2>/dev/null || echo "0 0"; }

results=()
for mode in ${NOISY_MODES:-limited unlimited}; do
  if [ $mode = limited ]; then
    limits='"limits": {"cpu_max": "'"${NOISY_CPU_MAX:-50000 100000}"'", "memory_max": "384M", "memory_high": "320M", "pids_max": 128}'
  else
    limits='"limits": {}'
  fi
  cat > "$work/sites.json" <<JSON
{"state_dir": "$work/state", "caa": {"on_up": false},
 "sites": [{"name": "alpha", "webroot": "$work/www/alpha", $limits},
           {"name": "beta",  "webroot": "$work/www/beta",  $limits}]}
JSON
  "$bin/sitehost" up "$work/sites.json" --tools "$bin" > "$work/events-$mode.log" 2>&1 & sup=$!
  for ip in 10.88.0.6 10.88.0.10; do
    for _ in $(seq 600); do curl -s -m 2 "http://$ip/" | grep -q '^ok' && break; sleep 0.1; done
  done
  for r in $(seq "$runs"); do
    for scenario in ${NOISY_SCENARIOS:-none cpu memory forks}; do
      hog_pid=""
      if [ $scenario != none ]; then hog $scenario >/dev/null 2>&1 & hog_pid=$!; sleep 3; fi
      f0=$(beta_faults)
      n0=0; [ -f "$work/lat-$mode-$scenario.txt" ] && n0=$(wc -l < "$work/lat-$mode-$scenario.txt")
      out=$("$lat" 10.88.0.10 80 / "$rate" "$secs" "$work/lat-$mode-$scenario.txt")
      # When the slow requests of this run were sent (seconds into the run): bursts or spread.
      slow=$(tail -n +$((n0 + 1)) "$work/lat-$mode-$scenario.txt" | awk -v r="$rate" '$1 > 150 {printf "%s%.1fs:%.0fms", (n++ ? " " : ""), (NR - 1) / r, $1} END {if (!n) printf "none"}')
      f1=$(beta_faults)
      results+=("$mode $scenario $r $out")
      echo "$mode hog=$scenario run $r: $out beta pgmajfault+$(( ${f1% *} - ${f0% *} )) refault_file+$(( ${f1#* } - ${f0#* } )) slow(>150ms): $slow" >&2
      if [ -n "$hog_pid" ]; then
        # Only the hog's group: alpha's servers keep running, so no restart lands on the next case.
        echo 1 > /sys/fs/cgroup/bulkhead-sitehost/alpha/exec/cgroup.kill 2>/dev/null ||
          "$bin/sitehost" kill alpha --state-dir "$work/state" >/dev/null 2>&1
        kill "$hog_pid" 2>/dev/null; wait "$hog_pid" 2>/dev/null
        sleep 2
      fi
    done
  done
  kill -TERM $sup; wait $sup; sup=""
done

echo
# pooled FILE P: the P-quantile of every latency of a case's runs (same index rule as bench_latency)
pooled() { sort -n "$1" | awk -v p="$2" '{v[NR] = $1} END {i = int(p * NR) + 1; if (i > NR) i = NR; printf "%.2f", v[i]}'; }
echo "beta: PHP page at $rate req/s for ${secs}s, $runs runs per case; latency p50 / p99 in ms (errors)"
echo "per run, then pooled over the runs, and the pooled p99 against the same mode's quiet one"
printf '%-10s %-8s %-62s %s\n' mode "hog" "runs" "pooled p50 / p99   ratio"
for mode in ${NOISY_MODES:-limited unlimited}; do
  quiet=""
  [ -s "$work/lat-$mode-none.txt" ] && quiet=$(pooled "$work/lat-$mode-none.txt" 0.99)
  for scenario in ${NOISY_SCENARIOS:-none cpu memory forks}; do
    line=""
    for r in "${results[@]}"; do
      set -- $r
      [ "$1" = $mode ] && [ "$2" = $scenario ] || continue
      p50=$(grep -o '"p50_ms":[0-9.]*' <<<"$4" | cut -d: -f2); p99=$(grep -o '"p99_ms":[0-9.]*' <<<"$4" | cut -d: -f2)
      err=$(grep -o '"errors":[0-9]*' <<<"$4" | cut -d: -f2)
      line+="  $p50 / $p99 ($err)"
    done
    f="$work/lat-$mode-$scenario.txt" pool="-" ratio="-"
    if [ -s "$f" ]; then
      pool="$(pooled "$f" 0.50) / $(pooled "$f" 0.99)"
      [ -n "$quiet" ] && ratio=$(awk -v a="$(pooled "$f" 0.99)" -v b="$quiet" 'BEGIN {printf "%.2fx", a / b}')
    fi
    printf '%-10s %-8s %-62s %-18s %s\n' $mode $scenario "$line" "$pool" "$ratio"
  done
done
