#!/bin/sh
# Side by side, in ONE run: bulkhead vs Hyperscan (block mode), yara and clamscan on the same
# deterministic corpus and the same 1k / 10k signature sets. Prints MB/s and ratios.
#
#   benchmarks/sig/side_by_side.sh [WORKDIR] [CORPUS_MB]
#
# Needs: g++, python3, libhyperscan-dev, yara, clamav (clamscan only; never freshclam).
# The corpus (~250 MB by default) and signature sets are generated under WORKDIR (default
# /tmp/bulkhead-sigbench) and reused when present.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
work=${1:-/tmp/bulkhead-sigbench}
mb=${2:-250}
mkdir -p "$work/bin"
[ -d "$work/corpus" ] || python3 "$here/gen_corpus.py" "$work/corpus" "$mb"
[ -f "$work/s1k/sigs.ndb" ] || python3 "$here/gen_sigs.py" "$work/s1k" 1000
[ -f "$work/s10k/sigs.ndb" ] || python3 "$here/gen_sigs.py" "$work/s10k" 10000
echo "building drivers (g++ -O2)..."
g++ -std=c++20 -O2 -DNDEBUG -I"$root/include" "$here/corpus_scan.cpp" -o "$work/bin/corpus_scan" -pthread
g++ -std=c++20 -O2 -DNDEBUG -I"$root/include" "$root/examples/scan/main.cpp" -o "$work/bin/bulkhead-scan" -pthread
g++ -std=c++17 -O2 -DNDEBUG "$here/hs_driver.cpp" -o "$work/bin/hs_driver" -lhs
bytes=$(du -sbL "$work/corpus" | cut -f1)
cat "$work"/corpus/*/* > /dev/null # warm the page cache for the tools that read files

now() { date +%s.%N; }
rate() { python3 -c "print('%.1f' % ($bytes / 1048576 / ($2 - $1)))"; }
field() { echo "$1" | tr ' ' '\n' | sed -n "s/^$2=//p"; }

for set in s1k s10k; do
  d="$work/$set"
  echo
  echo "=== $set: $(wc -l < "$d/sigs.ndb") signatures, $(python3 -c "print('%.1f' % ($bytes/1048576))") MB corpus ==="
  b=$(CORPUS_SCAN_KEEP="$work/$set.bhdb" "$work/bin/corpus_scan" "$d/sigs.ndb" "$work/corpus" 1 2)
  mem=$("$work/bin/corpus_scan" --rss "$work/$set.bhdb" "$work/corpus" | head -1)
  h=$("$work/bin/hs_driver" "$d/sigs.hs" "$work/corpus")
  bmb=$(field "$(echo "$b" | head -1)" mbps)
  hmb=$(field "$h" mbps)
  t0=$(now); "$work/bin/bulkhead-scan" --threads 1 --no-summary -i -r -d "$d/sigs.ndb" "$work/corpus/" > /dev/null || true; t1=$(now)
  tool=$(rate "$t0" "$t1")
  t0=$(now); yarac "$d/sigs.yar" "$work/yara.compiled" 2>/dev/null; t1=$(now)
  ycomp=$(python3 -c "print('%.3f' % ($t1 - $t0))")
  t0=$(now); yara -p 1 -C -r "$work/yara.compiled" "$work/corpus/" > /dev/null 2>&1 || true; t1=$(now)
  ymb=$(rate "$t0" "$t1")
  t0=$(now); clamscan --no-summary -i -r -d "$d/sigs.ndb" "$work/corpus/" > /dev/null 2>&1 || true; t1=$(now)
  cmb=$(rate "$t0" "$t1")
  echo "$b" | sed 's/^/  /'
  echo "  $mem"
  echo "  $h"
  printf '  %-34s %8s MB/s\n' "bulkhead (in memory, 1 thread)" "$bmb" \
    "Hyperscan block mode (in memory)" "$hmb" \
    "bulkhead-scan -r --threads 1 (files)" "$tool" \
    "yara -p 1 (precompiled, files)" "$ymb" \
    "clamscan -r (files)" "$cmb"
  python3 - "$bmb" "$hmb" "$tool" "$ymb" "$cmb" <<'PY'
import sys
b, h, t, y, c = map(float, sys.argv[1:])
print("  ratio bulkhead/Hyperscan        %.2fx" % (b / h))
print("  ratio bulkhead-scan/yara        %.2fx" % (t / y))
print("  ratio bulkhead-scan/clamscan    %.2fx" % (t / c))
PY
  echo "  yara compile: ${ycomp}s; Hyperscan compile: $(field "$h" compile_s)s; bulkhead compile: $(field "$(echo "$b" | head -1)" compile_s)s, load saved: $(field "$(echo "$b" | head -1)" load_s)s"
done
rm -f "$work/yara.compiled" "$work/s1k.bhdb" "$work/s10k.bhdb"
