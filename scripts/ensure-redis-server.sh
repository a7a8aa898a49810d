#!/usr/bin/env bash
# Installs Debian's redis-server when it is not on PATH. Used by run.sh and
# test.sh so that a fresh machine needs nothing but the Rust toolchain.
set -euo pipefail
if command -v redis-server >/dev/null 2>&1 && command -v redis-cli >/dev/null 2>&1; then
  exit 0
fi
# shellcheck source=scripts/lib.sh
. "$(dirname "$0")/lib.sh"
echo "redis-server is missing; installing Debian's redis-server package" >&2
apt_install redis-server redis-tools
# Debian's package may start a service on 6379; confab's scripts never rely
# on it, and the tests start servers of their own.
command -v redis-server >/dev/null
