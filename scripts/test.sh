#!/usr/bin/env bash
# Runs confab's whole test suite from a fresh clone: installs what the tests
# need (redis-server; chromium and playwright-core for the browser test),
# then unit and integration tests on a single Redis, the integration tests
# again on a 3-master, 3-replica Redis Cluster, the failover test (a master
# SIGKILLed under load) on another, then the browser end-to-end test and the
# contract test. The tests start throwaway redis-servers of
# their own on free ports; the machine's Redis on 6379 is never touched.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/ensure-redis-server.sh
scripts/ensure-browser.sh

# Property tests run 4096 cases each here (256 by default).
PROPTEST_CASES=${PROPTEST_CASES:-4096} cargo test --all-targets "$@"

# The integration tests again, on a throwaway Redis Cluster of their own. (In
# a subshell: the cluster's variables must not reach the steps below.)
export CLUSTER_STATE="${TMPDIR:-/tmp}/confab-test-cluster-$$.env"
trap 'scripts/cluster.sh stop >/dev/null 2>&1 || true' EXIT
scripts/cluster.sh start >/dev/null
(
  # shellcheck source=/dev/null
  . "$CLUSTER_STATE"
  CONFAB_TEST_REDIS_CLUSTER_NODES=$CONFAB_REDIS_CLUSTER_NODES cargo test --test api "$@"
)
scripts/cluster.sh stop >/dev/null

# The failover test kills a master, so it runs alone, on a fresh cluster.
scripts/cluster.sh start >/dev/null
(
  # shellcheck source=/dev/null
  . "$CLUSTER_STATE"
  CONFAB_TEST_REDIS_CLUSTER_NODES=$CONFAB_REDIS_CLUSTER_NODES \
    cargo test --test api failover -- --ignored
)
scripts/cluster.sh stop >/dev/null

# The browser test drives the debug binary the step above built.
cargo build --bin confab
(cd tests/e2e && npm test)

# The contract test: schemathesis against a live confab and openapi.json.
scripts/contract-test.sh

# Generated clients (Python, TypeScript) from openapi.json against a live confab.
scripts/client-test.sh
