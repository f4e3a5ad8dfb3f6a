#!/usr/bin/env bash
# The whole test suite, as the README gives it and CI runs it (.ci/run).
#   1. installs what it needs (scripts/packages/*.txt)
#   2. g++ 12 build (-Werror), every tier: unit, kernel, vm, e2e (ctest labels)
#   3. clang 14 build with ASan + UBSan (-Werror), tiers unit, kernel, e2e
#      (the vm tier runs static binaries, which the sanitizers cannot build)
#   4. g++ 12 release build (-O2 -Werror: the optimiser's warnings differ), unit tier
#   5. aarch64 cross build (g++ 12, -Werror), unit tier under qemu-user: the scalar matcher
#      paths, byte order and char signedness on the other common server architecture
#   6. clang 14 libFuzzer build: each fuzz target fuzzed for BULKHEAD_FUZZ_SECONDS
# Needs root (kernel tier: namespaces, mounts, seccomp, cgroups). Ends with a summary line.
set -euo pipefail
. "$(dirname "$0")/lib/common.sh"
root=$(bh_root)
cd "$root"
jobs=${BULKHEAD_JOBS:-$(nproc)}
fuzz_seconds=${BULKHEAD_FUZZ_SECONDS:-20}
[ "$(id -u)" -eq 0 ] || bh_die "run as root: the kernel, vm and e2e tiers need it"

bh_log "dependencies"
"$root/scripts/install-deps.sh"

total_pass=0
total_fail=0
failed_stages=()
# run_ctest NAME ARGS... : runs ctest, adds its counts to the totals, never aborts the script.
run_ctest() {
  local name=$1; shift
  local log
  log=$(mktemp /tmp/bulkhead-ctest.XXXXXX)
  set +e
  ctest "$@" 2>&1 | tee "$log"
  local rc=${PIPESTATUS[0]}
  set -e
  local line pass fail
  line=$(grep -E '^[0-9]+% tests passed, [0-9]+ tests failed out of [0-9]+' "$log" | tail -n1)
  rm -f "$log"
  if [ -z "$line" ]; then
    failed_stages+=("$name (no tests ran)")
    total_fail=$((total_fail + 1))
    return
  fi
  fail=$(sed -E 's/.* ([0-9]+) tests failed out of ([0-9]+).*/\1/' <<<"$line")
  pass=$(( $(sed -E 's/.* out of ([0-9]+).*/\1/' <<<"$line") - fail ))
  total_pass=$((total_pass + pass))
  total_fail=$((total_fail + fail))
  [ "$rc" -eq 0 ] || failed_stages+=("$name")
}

build() {
  local preset=$1
  bh_log "configure + build: $preset"
  cmake --preset "$preset" -DBULKHEAD_FUZZ_SECONDS="$fuzz_seconds" >/dev/null
  cmake --build --preset "$preset" -j "$jobs"
}

start=$(date +%s)
build gcc
bh_log "tests (g++): unit kernel vm e2e"
run_ctest gcc --preset gcc -j "$jobs" -L 'unit|kernel|vm|e2e'

build asan
bh_log "tests (clang, ASan+UBSan): unit kernel e2e"
run_ctest asan --preset asan -j "$jobs"

build release
bh_log "tests (g++ -O2): unit"
run_ctest release --preset release -j "$jobs"

build arm64
bh_log "tests (aarch64 under qemu-user): unit"
run_ctest arm64 --preset arm64 -j "$jobs"

build fuzz
bh_log "fuzzing each target for ${fuzz_seconds}s (clang, libFuzzer)"
run_ctest fuzz --preset fuzz -j "$jobs"

bh_log "leftover check"
"$root/scripts/check-clean.sh" || failed_stages+=("leftovers")

elapsed=$(( $(date +%s) - start ))
echo
echo "bulkhead test suite: ${elapsed}s; stages failed: ${failed_stages[*]:-none}"
echo "suite: ${total_pass} passed, ${total_fail} failed"
[ ${#failed_stages[@]} -eq 0 ] && [ "$total_fail" -eq 0 ]
