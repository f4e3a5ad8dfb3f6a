#!/usr/bin/env python3
"""Deterministic body-signature sets, the same set in three syntaxes.

usage: gen_sigs.py OUTDIR COUNT [SEED]
Writes OUTDIR/sigs.ndb (ClamAV), OUTDIR/sigs.yar (YARA hex strings) and OUTDIR/sigs.hs
(Hyperscan: "id:/regex/flags" lines). About 20% of the signatures carry ?? wildcards and
10% a {n-m} gap; the rest are plain byte strings. Half are binary-looking, half are built
from the words and PHP tokens the corpus uses, so the prefilter meets realistic near-hits."""
import os
import random
import sys

out, count = sys.argv[1], int(sys.argv[2])
seed = int(sys.argv[3]) if len(sys.argv) > 3 else 7
rng = random.Random(seed)
os.makedirs(out, exist_ok=True)
words = ("the of and to in is it you that he was for on are with as his they be at one have this from "
         "or had by word but what some we can out other were all there when up use your how said").split()
evil = ["eval(", "base64_decode(", "gzinflate(", "str_rot13(", "assert(", "system(", "passthru(",
        "shell_exec(", "$_REQUEST[", "create_function(", "preg_replace('/.*/e'", "fsockopen(", "chr("]


def body():
    if rng.random() < 0.5:
        return rng.randbytes(rng.randint(12, 32))
    s = rng.choice(evil) + rng.choice(words) + "_" + "".join(rng.choice("abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(rng.randint(6, 14)))
    return s.encode()


ndb, yar, hs = [], [], []
for i in range(count):
    b = body()
    r = rng.random()
    # token list: ('b', bytes) | ('any', n) | ('gap', lo, hi)
    if r < 0.2:
        k = rng.randint(4, len(b) - 4)
        toks = [("b", b[:k]), ("any", rng.randint(1, 2)), ("b", b[k:])]
    elif r < 0.3:
        k = rng.randint(4, len(b) - 4)
        lo = rng.randint(0, 8)
        toks = [("b", b[:k]), ("gap", lo, lo + rng.randint(1, 24)), ("b", b[k:])]
    else:
        toks = [("b", b)]
    h, y, x = "", [], ""
    for t in toks:
        if t[0] == "b":
            h += t[1].hex()
            y += ["%02X" % c for c in t[1]]
            x += "".join("\\x%02x" % c for c in t[1])
        elif t[0] == "any":
            h += "??" * t[1]
            y += ["??"] * t[1]
            x += "." * t[1] if t[1] == 1 else ".{%d}" % t[1]
        else:
            h += "{%d-%d}" % (t[1], t[2])
            y += ["[%d-%d]" % (t[1], t[2])]
            x += ".{%d,%d}" % (t[1], t[2])
    name = "Bench.Sig.%05d" % i
    ndb.append("%s:0:*:%s" % (name, h))
    yar.append("rule r%05d { strings: $a = { %s } condition: $a }" % (i, " ".join(y)))
    hs.append("%d:/%s/s" % (i, x))
open(os.path.join(out, "sigs.ndb"), "w").write("\n".join(ndb) + "\n")
open(os.path.join(out, "sigs.yar"), "w").write("\n".join(yar) + "\n")
open(os.path.join(out, "sigs.hs"), "w").write("\n".join(hs) + "\n")
print("%d signatures in %s" % (count, out))
