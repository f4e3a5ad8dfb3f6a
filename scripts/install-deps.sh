#!/usr/bin/env bash
# Installs the Debian packages the build and every test tier need (scripts/packages/*.txt).
# Idempotent; quiet when everything is installed.
set -euo pipefail
. "$(dirname "$0")/lib/common.sh"
root=$(bh_root)
bh_install "$root"/scripts/packages/*.txt
