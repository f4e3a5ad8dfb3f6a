#!/usr/bin/env bash
# Runs bench_cgroup inside the VM tier's guest (pure cgroup v2, all controllers enabled), where
# the limits cases have controllers to write. libbenchmark is only shipped as a shared library,
# so the guest shares the host's root read-only (--host-root) and runs the dynamic binary.
#
#   benchmarks/cgroup/vm_bench.sh BUILD_DIR [benchmark flags...]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=${1:?usage: vm_bench.sh BUILD_DIR [benchmark flags...]}
shift
bin=$build/benchmarks/cgroup/bench_cgroup
[ -x "$bin" ] || { echo "vm_bench.sh: $bin not built (cmake --build $build --target bench_cgroup)" >&2; exit 2; }
exec bash "$here/../../scripts/vm/run.sh" --host-root --timeout 600 --mem 1024 \
  --add "$bin:/opt/bulkhead/bench_cgroup" -- /opt/bulkhead/bench_cgroup "$@"
