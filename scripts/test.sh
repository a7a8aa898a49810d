#!/usr/bin/env bash
# Runs confab's whole test suite from a fresh clone: installs what the tests
# need (redis-server; chromium and playwright-core for the browser test),
# then unit and integration tests, then the browser end-to-end test. The
# tests start throwaway redis-servers of their own on free ports; the
# machine's Redis on 6379 is never touched.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/ensure-redis-server.sh
scripts/ensure-browser.sh

# Property tests run 4096 cases each here (256 by default).
PROPTEST_CASES=${PROPTEST_CASES:-4096} cargo test --all-targets "$@"

# The browser test drives the debug binary the step above built.
cargo build --bin confab
(cd tests/e2e && npm test)

# The contract test: schemathesis against a live confab and openapi.json.
scripts/contract-test.sh
