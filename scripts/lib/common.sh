# Shared helpers for the scripts in scripts/ (sourced, not run).
# shellcheck shell=bash

bh_root() { cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd; }

bh_log() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }
[ -t 2 ] || bh_log() { printf '==> %s\n' "$*" >&2; }

bh_die() { printf 'error: %s\n' "$*" >&2; exit 2; }

# bh_packages FILE... : the package names listed in scripts/packages/*.txt files.
bh_packages() { sed -e 's/#.*//' -e '/^[[:space:]]*$/d' "$@" | awk '{print $1}' | sort -u; }

# bh_install FILE... : installs what the package lists name and is not installed yet.
# Quiet and without `apt-get update` when everything is there already.
bh_install() {
  local missing=() p
  for p in $(bh_packages "$@"); do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
      missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  [ "$(id -u)" -eq 0 ] || bh_die "need root to install: ${missing[*]}"
  bh_log "installing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # Package scripts must not start system services (nsd, unbound, nginx, php-fpm): the
  # tests start their own instances on their own ports.
  local rc_d=/usr/sbin/policy-rc.d created=""
  if [ ! -e "$rc_d" ]; then
    printf '#!/bin/sh\nexit 101\n' > "$rc_d" && chmod +x "$rc_d" && created=1
  fi
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null ||
    { [ -n "$created" ] && rm -f "$rc_d"; bh_die "apt-get install failed"; }
  [ -n "$created" ] && rm -f "$rc_d"
  return 0
}
