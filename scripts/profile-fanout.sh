#!/usr/bin/env bash
# Profiles confab's fan-out: starts a throwaway redis-server and the release
# confab (or the binary given as $CONFAB_BIN) as scripts/bench.sh does, runs
# `confab-bench fanout` (2,000 streams, $RATE msg/s, 10 s) under `perf
# record` attached to confab, and prints the profile's top frames by their
# own CPU time (the leaves of a flame graph) and confab's CPU per delivery.
# The profile stays in target/profile/ (perf.data) for `perf report`.
#
#   scripts/profile-fanout.sh            # 20 msg/s
#   RATE=50 scripts/profile-fanout.sh
set -euo pipefail
cd "$(dirname "$0")/.."

RATE=${RATE:-20}
STREAMS=${STREAMS:-2000}
CONFAB_BIN=${CONFAB_BIN:-target/release/confab}
command -v perf >/dev/null || { echo "perf is missing (Debian: linux-perf)" >&2; exit 1; }
scripts/ensure-redis-server.sh
cargo build --release -p confab -p confab-bench --bins

# shellcheck source=scripts/throwaway-redis.sh
. scripts/throwaway-redis.sh
ulimit -n "$(ulimit -Hn)" || true
CONFAB_PORT=$(free_port)
env -u CONFAB_REDIS_CLUSTER_NODES CONFAB_REDIS_URL="redis://127.0.0.1:$REDIS_PORT" \
  CONFAB_BIND=127.0.0.1:$CONFAB_PORT \
  CONFAB_JWT_SECRET=benchmark-secret-benchmark-secret-benchmark \
  CONFAB_SEND_RATE_PER_SEC=1000000 CONFAB_SEND_BURST=1000000 \
  CONFAB_MAX_STREAMS_PER_USER=100000 CONFAB_SERVER__MAX_CONNECTIONS_PER_ADDRESS=0 \
  RUST_LOG=warn "$CONFAB_BIN" serve > "$WORK/confab.log" 2>&1 &
CONFAB_PID=$!
wait_until 10 "confab to answer /readyz on port $CONFAB_PORT" \
  curl -sf --max-time 1 "http://127.0.0.1:$CONFAB_PORT/readyz" ||
  { tail -n 20 "$WORK/confab.log" >&2; exit 1; }

OUT=target/profile
mkdir -p "$OUT"
# The streams open first (not profiled); perf attaches for the sending.
target/release/confab-bench --url "http://127.0.0.1:$CONFAB_PORT" \
  --redis "redis://127.0.0.1:$REDIS_PORT" --server-pid "$CONFAB_PID" \
  fanout --streams "$STREAMS" --rate "$RATE" --seconds 10 &
BENCH_PID=$!
# Wait for every stream to be open (the metric counts them).
wait_until 120 "$STREAMS streams to open" bash -c \
  "curl -sf http://127.0.0.1:$CONFAB_PORT/metrics | grep -q '^confab_open_streams $STREAMS\$'"
perf record -F 999 ${PERF_CALL_GRAPH:--g} -o "$OUT/perf.data" -p "$CONFAB_PID" -- sleep 10 2> "$OUT/perf-record.log"
wait "$BENCH_PID"
perf report -i "$OUT/perf.data" --no-children --sort symbol --stdio -g none 2>/dev/null |
  grep -v "^#" | grep -v "^$" | head -n 40 | cut -c1-110 || true
echo "Where the time went (kernel, confab, libc):"
perf report -i "$OUT/perf.data" --no-children --sort dso --stdio -g none 2>/dev/null |
  grep -v "^#" | grep -v "^$" | head -n 5 || true
