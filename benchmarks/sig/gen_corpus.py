#!/usr/bin/env python3
"""Deterministic scan corpus: text, PHP and ELF-like binaries (default ~250 MB).

usage: gen_corpus.py OUTDIR [MEGABYTES] [SEED]
The same seed always gives the same bytes. A few files carry planted signature content
(written by gen_sigs.py's plant list when present in OUTDIR/../plants.txt)."""
import os
import random
import sys

out = sys.argv[1]
total_mb = int(sys.argv[2]) if len(sys.argv) > 2 else 250
seed = int(sys.argv[3]) if len(sys.argv) > 3 else 1
rng = random.Random(seed)
os.makedirs(out, exist_ok=True)

words = ("the of and to in is it you that he was for on are with as his they be at one have this from "
         "or had by word but what some we can out other were all there when up use your how said an each "
         "she which do their time if will way about many then them write would like so these her long make "
         "thing see him two has look more day could go come did number sound no most people my over know "
         "water than call first who may down side been now find any new work part take get place made").split()
php_tokens = ["$this->", "function ", "return ", "array(", "echo ", "if (", "isset(", "foreach (", " as ",
              "=> ", "$_GET['", "$_POST['", "');", "}\n", "{\n", "public ", "private ", "static ", "new ",
              "require_once '", "class ", "extends ", "->get(", "strlen(", "str_replace(", "preg_match('/",
              "json_encode(", "null", "true", "false", ";\n", "    ", "\t", "/* ", " */", "// "]


def text_file(size):
    parts = []
    n = 0
    while n < size:
        line = " ".join(rng.choice(words) for _ in range(rng.randint(4, 16)))
        if rng.random() < 0.3:
            line = line.capitalize() + "."
        parts.append(line)
        n += len(line) + 1
    return ("\n".join(parts) + "\n").encode()[:size]


def php_file(size):
    parts = ["<?php\n"]
    n = 6
    while n < size:
        t = rng.choice(php_tokens)
        if rng.random() < 0.4:
            t += rng.choice(words) + "_" + rng.choice(words)
        parts.append(t)
        n += len(t)
    return "".join(parts).encode()[:size]


def bin_file(size):
    hdr = b"\x7fELF\x02\x01\x01" + bytes(9) + b"\x02\x00\x3e\x00"
    body = bytearray()
    while len(body) < size:
        r = rng.random()
        if r < 0.4:
            body += rng.randbytes(rng.randint(16, 512))
        elif r < 0.7:
            body += bytes(rng.randint(8, 256))
        elif r < 0.85:
            body += b"\xff" * rng.randint(4, 64)
        else:
            body += (" ".join(rng.choice(words) for _ in range(8)) + "\0").encode()
    return (hdr + bytes(body))[:size]


total = total_mb << 20
written = 0
i = 0
while written < total:
    kind = rng.random()
    if kind < 0.4:
        size = rng.randint(2_000, 120_000)
        data, ext = text_file(size), "txt"
    elif kind < 0.8:
        size = rng.randint(2_000, 80_000)
        data, ext = php_file(size), "php"
    else:
        size = rng.randint(50_000, 2_000_000)
        data, ext = bin_file(size), "bin"
    d = os.path.join(out, "d%02d" % (i % 50))
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "f%05d.%s" % (i, ext)), "wb") as f:
        f.write(data)
    written += len(data)
    i += 1
print("%d files, %.1f MB in %s" % (i, written / 1048576, out))
