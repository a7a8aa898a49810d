#!/usr/bin/env bash
# Runs confab's whole test suite from a fresh clone: installs what the tests
# need (redis-server), then unit and integration tests. The integration
# tests start throwaway redis-servers of their own on free ports; the
# machine's Redis on 6379 is never touched.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/ensure-redis-server.sh

cargo test --all-targets "$@"
