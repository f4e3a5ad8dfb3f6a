#!/usr/bin/env python3
"""A deterministic hash-signature database in the shape of ClamAV's: mostly MD5 .hdb lines,
some SHA-256 in .hsb, names like ClamAV's ("Win.Trojan.Agent-6000123-0"), file sizes spread
from 100 bytes to 2 MB, a few `*` sizes.

usage: gen_hashes.py OUTDIR COUNT [SEED]
Writes OUTDIR/sigs.hdb (90% of COUNT) and OUTDIR/sigs.hsb (the rest). Used to measure what
hash signatures cost to compile, load and keep resident:
    corpus_scan OUTDIR EMPTYDIR; corpus_scan --rss SAVED.bhdb"""
import hashlib
import os
import random
import sys

out, count = sys.argv[1], int(sys.argv[2])
seed = int(sys.argv[3]) if len(sys.argv) > 3 else 7
rng = random.Random(seed)
os.makedirs(out, exist_ok=True)
families = ["Win.Trojan.Agent", "Php.Malware.Webshell", "Js.Trojan.Iframe", "Unix.Trojan.Mirai",
            "Html.Phishing.Bank", "Doc.Dropper.Agent", "Win.Malware.Zusy", "Andr.Trojan.Hiddad"]
n_md5 = count * 9 // 10
with open(os.path.join(out, "sigs.hdb"), "w") as hdb, open(os.path.join(out, "sigs.hsb"), "w") as hsb:
    for i in range(count):
        blob = ("%d:%d" % (seed, i)).encode()
        size = "*" if rng.random() < 0.01 else str(rng.randint(100, 2000000))
        name = "%s-%d-0" % (rng.choice(families), 6000000 + i)
        if i < n_md5:
            hdb.write("%s:%s:%s\n" % (hashlib.md5(blob).hexdigest(), size, name))
        else:
            hsb.write("%s:%s:%s\n" % (hashlib.sha256(blob).hexdigest(), size, name))
