#!/usr/bin/env bash
# Runs the whole benchmark suite with one command and rewrites BENCHMARKS.md
# from its results (no figure is typed in by hand):
# - builds confab and confab-bench in release mode;
# - starts a throwaway redis-server on a free port (no persistence);
# - starts confab with limits raised for load (send rate, streams per user);
# - runs `confab-bench all` (ceiling, send, members, fanout at 20 and 50
#   messages/s, floor, typing, my-rooms, webhooks, history, offline, offline-rooms,
#   quiet-rooms, resume, idle), then `idle-max` against a restarted confab
#   (so that no memory left by earlier scenarios hides its cost);
# - writes BENCHMARKS.md: machine, commands, results.
# Everything runs on this machine: the load generator shares its cores with
# confab and Redis.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/ensure-redis-server.sh
cargo build --release -p confab -p confab-bench --bins

# shellcheck source=scripts/throwaway-redis.sh
. scripts/throwaway-redis.sh
CONFAB_PORT=$(free_port)
RESULTS=target/bench-results.json
rm -f "$RESULTS"

# Streams and connections for the idle scenarios: the soft open-file limit
# raised to the hard one, for confab (started from this shell) and the load
# generator. idle-max opens as many streams as both limits allow.
ulimit -n "$(ulimit -Hn)" || true

# Starts the release confab with limits raised for load, logging to $1, with
# the Redis to use given as the following VAR=value arguments (and no other
# Redis setting from the caller's environment); sets CONFAB_PID. Every
# client of the load generator has one address, so the per-address
# connection cap is off (as behind a proxy).
start_confab() {
  local log=$1
  shift
  env -u CONFAB_REDIS_URL -u CONFAB_REDIS_CLUSTER_NODES "$@" CONFAB_BIND=127.0.0.1:$CONFAB_PORT \
    CONFAB_JWT_SECRET=benchmark-secret-benchmark-secret-benchmark \
    CONFAB_SEND_RATE_PER_SEC=1000000 CONFAB_SEND_BURST=1000000 \
    CONFAB_MAX_STREAMS_PER_USER=100000 \
    CONFAB_SERVER__MAX_CONNECTIONS_PER_ADDRESS=0 \
    CONFAB_WEBHOOKS__ALLOW_PRIVATE_ADDRESSES=true CONFAB_WEBHOOKS__MAX_BACKOFF_SECS=1 \
    RUST_LOG=warn \
    target/release/confab serve > "$log" 2>&1 &
  CONFAB_PID=$!
  wait_until 10 "confab to answer /readyz on port $CONFAB_PORT" \
    curl -sf --max-time 1 "http://127.0.0.1:$CONFAB_PORT/readyz" ||
    { tail -n 20 "$log" >&2; exit 1; }
}

start_confab "$WORK/confab.log" CONFAB_REDIS_URL=redis://127.0.0.1:$REDIS_PORT

BENCH="target/release/confab-bench --url http://127.0.0.1:$CONFAB_PORT --redis redis://127.0.0.1:$REDIS_PORT --server-pid $CONFAB_PID --json $RESULTS"
$BENCH all
# idle-max on a fresh confab (same Redis): its memory per stream is then
# what the streams cost, not memory that earlier scenarios left behind.
kill "$CONFAB_PID" 2>/dev/null || true
wait "$CONFAB_PID" 2>/dev/null || true
start_confab "$WORK/confab-idle.log" CONFAB_REDIS_URL=redis://127.0.0.1:$REDIS_PORT
target/release/confab-bench --url "http://127.0.0.1:$CONFAB_PORT" --redis "redis://127.0.0.1:$REDIS_PORT" \
  --server-pid "$CONFAB_PID" --json "$RESULTS" idle-max

# The same confab on a 3-master, 3-replica Redis Cluster: send and fan-out,
# with each node's Redis CPU over the send run.
kill "$CONFAB_PID" 2>/dev/null || true
wait "$CONFAB_PID" 2>/dev/null || true
export CLUSTER_STATE="$WORK/cluster.env"
scripts/cluster.sh start >/dev/null
trap 'scripts/cluster.sh stop >/dev/null 2>&1 || true; cleanup' EXIT
# shellcheck source=/dev/null
. "$CLUSTER_STATE"
start_confab "$WORK/confab-cluster.log" CONFAB_REDIS_CLUSTER_NODES="$CONFAB_REDIS_CLUSTER_NODES"
node_cpu() { for p in $CLUSTER_PORTS; do redis-cli -p "$p" info cpu | tr -d '\r' |
  awk -F: -v p="$p" '/^used_cpu_(sys|user):/ {t += $2} END {printf "%s=%s ", p, t}'; done; }
FIRST=${CONFAB_REDIS_CLUSTER_NODES%%,*}
CLUSTER_BENCH="target/release/confab-bench --url http://127.0.0.1:$CONFAB_PORT --redis redis://$FIRST --server-pid $CONFAB_PID --json $RESULTS --label cluster"
cpu_before=$(node_cpu); t0=$(date +%s.%N)
$CLUSTER_BENCH send
cpu_after=$(node_cpu); t1=$(date +%s.%N)
$CLUSTER_BENCH fanout
NODE_CPU=$(python3 - "$cpu_before" "$cpu_after" "$t0" "$t1" <<'PY'
import sys
before = dict(kv.split("=") for kv in sys.argv[1].split())
after = dict(kv.split("=") for kv in sys.argv[2].split())
secs = float(sys.argv[4]) - float(sys.argv[3])
for port in before:
    print(f"| 127.0.0.1:{port} | {(float(after[port]) - float(before[port])) / secs * 100:.0f} % of a core |")
PY
)

cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')
mem=$(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo)
{
  cat <<MD
# Benchmarks

Produced by \`scripts/bench.sh\` on $(date -u +%Y-%m-%d) — rerun it to refresh this
file; every figure below comes from that run.

## Machine

- CPU: ${cpu:-unknown}, $(nproc) cores
- Memory: $mem
- confab, Redis $(redis-server --version | awk '{print $3}' | cut -d= -f2) and the load generator all on this machine (loopback), sharing its cores.

## Commands

\`\`\`sh
scripts/bench.sh
# which runs, against a release confab started with raised send and stream limits:
target/release/confab-bench --url http://127.0.0.1:PORT --redis redis://127.0.0.1:PORT --server-pid PID all
# then, against a restarted confab:
target/release/confab-bench --url http://127.0.0.1:PORT --redis redis://127.0.0.1:PORT --server-pid PID idle-max
\`\`\`

Scenarios (see \`bench/src/main.rs\`):
- **ceiling**: confab's send script run directly on Redis by 64 concurrent clients (redis-rs, one multiplexed connection): what Redis alone allows.
- **send**: 64 senders (each its own user) post to 8 rooms for 10 s.
- **members**: the send load into 8 rooms that also have 8, 64 or 1,000 more members without streams (one run each; the members are written by confab's join scripts directly, registering 1,000 users over the API would take ~30 s of Argon2): Redis CPU and memory (\`used_memory\` after − before) per message should not grow with the members.
- **fanout**: 2,000 streams in one room, 20 messages/s for 10 s, then again at 50 messages/s; every stream must get every message once, in order. "confab CPU per delivery" is all of confab's CPU time (the sum of its threads' \`/proc/PID/task/*/schedstat\`, or \`/proc/PID/stat\` in 10 ms ticks if a thread exited meanwhile) from the first send until every stream has read its last message, divided by the messages all streams received: the sender's requests are in it too.
- **floor**: no confab: one thread of the load generator writes a 450-byte buffer (a typical message event) to each of 2,000 loopback TCP connections 20 times a second for 10 s while its other threads read them; the writing thread's CPU time per write. That is the least a delivery can cost on this machine (one small socket write; on loopback the receiving side's TCP processing runs in the writer's system call, as it does in confab's), the figure to hold fanout's "confab CPU per delivery" against.
- **typing**: 2,000 streams in one room while 20 other members take turns typing (one notice every 110 ms, each typist every 2.2 s, so none is throttled) for 10 s: post-to-receive latency (goal p99 < 50 ms) and every stream getting every notice.
- **my-rooms**: a user in 100 rooms of 150 messages each (half marked read half-way) lists them with unread counts (\`GET /users/me/rooms?limit=100\`) 300 times while another user keeps posting to them (goal p99 < 10 ms).
- **webhooks**: 10 webhooks, one per room, delivering to a receiver in the load generator: 200 messages/s for 10 s (send-to-delivery latency, every message once and in order), then 500 messages per room held back by a failing receiver and drained (deliveries/s, and confab's CPU over the drain per delivery).
- **send [10 webhooks on other rooms]**: the send scenario again while those webhooks exist (goal: within 5 % of **send**).
- **history**: a room seeded with 1,000,000 messages, paged end to end with \`before\`, 50 a page.
- **offline**: a user with 1,000 queued messages connects.
- **offline-rooms**: a user in 50 rooms who missed 20 messages in each since their last stream closed connects; all 1,000 must arrive (goal: last one < 100 ms).
- **quiet-rooms**: a user in 1,000 rooms without activity since their last stream connects, 20 times: median time to \`ready\` (goal < 20 ms).
- **resume**: 10 streams open at once with a resume token 20 rooms × 1,000 messages back (past \`sse.resume_max\`, so \`resumed: false\`): peak growth of confab's RSS and Redis's \`used_memory\` (goal < 50 MB each) and another user's requests meanwhile (goal: no 503).
- **idle**: 10,000 idle streams; confab's resident memory (/proc/PID/status) before and after.
- **idle-max**: up to 100,000 idle streams, opened 200 at a time from 8 loopback source addresses (127.0.0.2 to 127.0.0.9, to get past one address's ~28,000 ephemeral ports); confab's resident memory before and after. Each stream takes a file descriptor in confab and one in the load generator, so the count is capped at what both processes' open-file limits leave room for (soft limit, raised to the hard one by this script, less the files already open, less 500): "streams (capped by open-file limit)" appears when that cap was below 100,000, and "streams held" is what was actually open when memory was measured. It runs against a freshly started confab (the same Redis), so that memory earlier scenarios left in confab's allocator does not hide the streams' cost.
- **send [cluster]**, **fanout [cluster]**: send and fanout (at 50 messages/s) again, with confab on a throwaway 3-master, 3-replica Redis Cluster on this same machine (\`scripts/cluster.sh\`); each node's Redis CPU is below the table.

## Results

MD
  target/release/confab-bench report "$RESULTS"
  cat <<MD

Redis CPU of each cluster node over the \`send [cluster]\` run (setup
included; masters and replicas as \`redis-cli --cluster create\` paired them):

| node | Redis CPU |
|---|---|
$NODE_CPU
MD
  if [ -f docs/bench-analysis.md ]; then
    echo
    cat docs/bench-analysis.md
  fi
} > BENCHMARKS.md
echo "BENCHMARKS.md written"
