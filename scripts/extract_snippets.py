#!/usr/bin/env python3
"""Extracts the compiled code examples from Markdown files.

A fenced ```cpp block directly preceded by a line
    <!-- snippet: NAME MODE -->
is written to OUTDIR/NAME.cpp, and a line "NAME MODE" goes to OUTDIR/snippets.txt.
MODE: compile (build only), unit or kernel (build and run under that ctest label).

usage: extract_snippets.py OUTDIR FILE.md...
"""
import os
import re
import sys

MARK = re.compile(r"^<!--\s*snippet:\s*([A-Za-z0-9_]+)\s+(compile|unit|kernel)\s*-->\s*$")


def main():
    out, files = sys.argv[1], sys.argv[2:]
    os.makedirs(out, exist_ok=True)
    listing = []
    names = set()
    for path in files:
        lines = open(path, encoding="utf-8").read().splitlines()
        i = 0
        while i < len(lines):
            m = MARK.match(lines[i])
            if not m:
                i += 1
                continue
            name, mode = m.groups()
            if name in names:
                sys.exit(f"{path}:{i + 1}: snippet name '{name}' used twice")
            if i + 1 >= len(lines) or lines[i + 1].strip() != "```cpp":
                sys.exit(f"{path}:{i + 1}: snippet marker must be followed by a ```cpp fence")
            j = i + 2
            body = []
            while j < len(lines) and lines[j].strip() != "```":
                body.append(lines[j])
                j += 1
            if j >= len(lines):
                sys.exit(f"{path}:{i + 2}: unterminated ```cpp block")
            names.add(name)
            text = f"// extracted from {os.path.basename(path)} line {i + 3}\n" + "\n".join(body) + "\n"
            target = os.path.join(out, name + ".cpp")
            if not os.path.exists(target) or open(target).read() != text:
                with open(target, "w", encoding="utf-8") as f:
                    f.write(text)
            listing.append(f"{name} {mode}")
            i = j + 1
    with open(os.path.join(out, "snippets.txt"), "w", encoding="utf-8") as f:
        f.write("\n".join(listing) + ("\n" if listing else ""))


if __name__ == "__main__":
    main()
