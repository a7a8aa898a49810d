#!/usr/bin/env bash
# Installs what the browser test needs when missing: Debian's chromium
# (browsers cannot be downloaded by test tools here) and playwright-core from
# npm. Node.js and npm must be on the machine.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/lib.sh
. scripts/lib.sh
if ! command -v chromium >/dev/null 2>&1; then
  echo "chromium is missing; installing Debian's chromium package" >&2
  apt_install chromium
fi
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  echo "node and npm are missing; installing Debian's nodejs and npm packages" >&2
  apt_install nodejs npm
fi
if [ ! -d tests/e2e/node_modules/playwright-core ]; then
  (cd tests/e2e && npm ci --no-audit --no-fund --silent)
fi
