#!/usr/bin/env bash
# A throwaway Redis Cluster on loopback for tests and CI: 3 masters, each with
# one replica (6 redis-servers), no persistence, all files in one temp dir.
#
#   scripts/cluster.sh start    start it; prints CONFAB_REDIS_CLUSTER_NODES=...
#   scripts/cluster.sh status   cluster info + cluster nodes of a running one
#   scripts/cluster.sh stop     shut it down, remove its dir and state file
#   scripts/cluster.sh restart PORT
#                               start a node that was killed again (same port,
#                               dir and identity: it rejoins, as a replica if
#                               its replica took over meanwhile)
#
# `start` writes a state file (CLUSTER_STATE, by default
# ${TMPDIR:-/tmp}/confab-cluster.env) that a test or CI step can `source`:
# it exports CONFAB_REDIS_CLUSTER_NODES (the seed list) and records
# CLUSTER_DIR, CLUSTER_PORTS and CLUSTER_PIDS. Only one line goes to stdout,
# the seed list; progress and errors go to stderr.
#
# Ports: 6 free ports chosen by the OS, each with a free cluster bus port of
# its own, unless CLUSTER_BASE_PORT is set: then BASE..BASE+5, with the bus
# on port+10000 as Redis does by default.
#
# Node timeout: --cluster-node-timeout 2000 (CLUSTER_NODE_TIMEOUT_MS), so a
# killed master is marked FAIL after ~2 s and its replica is promoted about
# 1 s later: failover tests take seconds, not the default 15 s. Replicas
# always attempt failover (cluster-replica-validity-factor 0), and a master
# starts its replica's first sync at once (repl-diskless-sync-delay 0, not
# 5 s), so `start` takes about 2 s.
# CLUSTER_EXTRA_ARGS is appended to every redis-server command line (e.g.
# "--cluster-require-full-coverage no").
#
# `start` returns only when every node reports cluster_state:ok with all
# 16384 slots assigned and ok, and every master has its replica connected and
# synced, bounded by CLUSTER_WAIT_SECS (default 30); on timeout it prints why
# and the nodes' log tails, stops what it started and exits 1.
#
# `stop` only shuts down servers whose process id matches the state file, so
# it never touches a Redis it did not start (such as one on 6379). Running it
# with nothing started exits 0.
#
# Needs only bash, redis-server, redis-cli and python3.
set -euo pipefail

STATE=${CLUSTER_STATE:-${TMPDIR:-/tmp}/confab-cluster.env}
NODE_TIMEOUT_MS=${CLUSTER_NODE_TIMEOUT_MS:-2000}
WAIT_SECS=${CLUSTER_WAIT_SECS:-30}
EXTRA_ARGS=${CLUSTER_EXTRA_ARGS:-}
N=6

log() { echo "cluster.sh: $*" >&2; }
die() { log "$*"; exit 1; }

# Prints 2*N distinct free loopback ports: N client ports, then N bus ports.
# All sockets are held open until every port is chosen so none repeats.
free_ports() {
  python3 - "$1" <<'PY'
import socket, sys
n = int(sys.argv[1])
socks = []
for _ in range(n):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    socks.append(s)
print(" ".join(str(s.getsockname()[1]) for s in socks))
PY
}

port_in_use() {
  python3 - "$1" <<'PY'
import socket, sys
s = socket.socket()
try:
    s.bind(("127.0.0.1", int(sys.argv[1])))
except OSError:
    sys.exit(0)
sys.exit(1)
PY
}

# The process id the server on port $1 reports, or nothing.
server_pid() {
  redis-cli -p "$1" info server 2>/dev/null | tr -d '\r' | sed -n 's/^process_id://p'
}

# Stops the nodes listed in CLUSTER_PORTS/CLUSTER_PIDS, then removes CLUSTER_DIR.
stop_nodes() {
  local ports pids i p pid
  read -r -a ports <<<"$CLUSTER_PORTS"
  read -r -a pids <<<"$CLUSTER_PIDS"
  for i in "${!ports[@]}"; do
    p=${ports[$i]} pid=${pids[$i]:-}
    # A start that failed early may not have recorded every pid yet.
    if [ -z "$pid" ] && [ -s "${CLUSTER_DIR:-/nonexistent}/$p/redis.pid" ]; then
      pid=$(cat "$CLUSTER_DIR/$p/redis.pid") pids[i]=$pid
    fi
    [ -n "$pid" ] || continue
    # Only a server that is ours (same process id) is asked to shut down.
    if [ "$(server_pid "$p")" = "$pid" ]; then
      redis-cli -p "$p" shutdown nosave >/dev/null 2>&1 || true
    fi
  done
  for i in "${!ports[@]}"; do
    pid=${pids[$i]:-}
    [ -n "$pid" ] || continue
    for _ in $(seq 30); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    # Fallback: kill it, if that pid is still a redis-server of our dir.
    if kill -0 "$pid" 2>/dev/null && [ -n "${CLUSTER_DIR:-}" ] &&
       grep -qa redis-server "/proc/$pid/cmdline" 2>/dev/null &&
       [ "$(readlink "/proc/$pid/cwd" 2>/dev/null)" = "$CLUSTER_DIR/${ports[$i]}" ]; then
      kill -9 "$pid" 2>/dev/null || true
    fi
  done
  if [ -n "${CLUSTER_DIR:-}" ] && [ -d "$CLUSTER_DIR" ]; then rm -rf "$CLUSTER_DIR"; fi
}

cmd_stop() {
  if [ ! -f "$STATE" ]; then
    log "nothing to stop (no $STATE)"
    return 0
  fi
  # shellcheck disable=SC1090
  source "$STATE"
  stop_nodes
  rm -f "$STATE"
  log "stopped (ports $CLUSTER_PORTS)"
}

# Why the cluster is not ready yet (one line), or nothing when it is.
not_ready() {
  local p info repl masters=0
  for p in "${PORTS[@]}"; do
    info=$(redis-cli -p "$p" cluster info 2>/dev/null | tr -d '\r') || { echo "127.0.0.1:$p does not answer"; return; }
    grep -q '^cluster_state:ok$' <<<"$info" || { echo "127.0.0.1:$p: $(grep '^cluster_state:' <<<"$info")"; return; }
    grep -q '^cluster_slots_assigned:16384$' <<<"$info" || { echo "127.0.0.1:$p: $(grep '^cluster_slots_assigned:' <<<"$info")"; return; }
    grep -q '^cluster_slots_ok:16384$' <<<"$info" || { echo "127.0.0.1:$p: $(grep '^cluster_slots_ok:' <<<"$info")"; return; }
    grep -q "^cluster_known_nodes:$N\$" <<<"$info" || { echo "127.0.0.1:$p: $(grep '^cluster_known_nodes:' <<<"$info")"; return; }
    repl=$(redis-cli -p "$p" info replication 2>/dev/null | tr -d '\r')
    if grep -q '^role:master$' <<<"$repl"; then
      masters=$((masters + 1))
      grep -q '^connected_slaves:1$' <<<"$repl" || { echo "master 127.0.0.1:$p: $(grep '^connected_slaves:' <<<"$repl")"; return; }
      grep -q '^slave0:.*state=online' <<<"$repl" || { echo "master 127.0.0.1:$p: replica not online yet"; return; }
    else
      grep -q '^master_link_status:up$' <<<"$repl" || { echo "replica 127.0.0.1:$p: $(grep '^master_link_status:' <<<"$repl")"; return; }
      grep -q '^master_sync_in_progress:0$' <<<"$repl" || { echo "replica 127.0.0.1:$p: sync in progress"; return; }
    fi
  done
  [ "$masters" -eq 3 ] || echo "$masters masters, want 3"
}

# Starts the node on port $1 with cluster bus port $2 in CLUSTER_DIR/$1.
start_node() {
  local p=$1 b=$2
  mkdir -p "$CLUSTER_DIR/$p"
  # shellcheck disable=SC2086
  redis-server --port "$p" --bind 127.0.0.1 --dir "$CLUSTER_DIR/$p" \
    --cluster-enabled yes --cluster-config-file nodes.conf --cluster-port "$b" \
    --cluster-node-timeout "$NODE_TIMEOUT_MS" --cluster-replica-validity-factor 0 \
    --save '' --appendonly no --repl-diskless-sync-delay 0 --daemonize yes \
    --pidfile "$CLUSTER_DIR/$p/redis.pid" --logfile "$CLUSTER_DIR/$p/redis.log" \
    $EXTRA_ARGS
}

# Writes the state file from the CLUSTER_* variables.
write_state() {
  local tmp="$STATE.tmp.$$"
  {
    echo "# written by scripts/cluster.sh start; removed by scripts/cluster.sh stop"
    echo "export CONFAB_REDIS_CLUSTER_NODES=$CONFAB_REDIS_CLUSTER_NODES"
    printf 'CLUSTER_DIR=%q\n' "$CLUSTER_DIR"
    echo "CLUSTER_PORTS=\"$CLUSTER_PORTS\""
    echo "CLUSTER_BUS_PORTS=\"$CLUSTER_BUS_PORTS\""
    echo "CLUSTER_PIDS=\"$CLUSTER_PIDS\""
  } >"$tmp"
  mv "$tmp" "$STATE"
}

cmd_restart() {
  local port=${1:-}
  [ -f "$STATE" ] || die "not running (no $STATE)"
  # shellcheck disable=SC1090
  source "$STATE"
  local ports bus pids i
  read -r -a ports <<<"$CLUSTER_PORTS"
  read -r -a bus <<<"$CLUSTER_BUS_PORTS"
  read -r -a pids <<<"$CLUSTER_PIDS"
  for i in "${!ports[@]}"; do
    [ "${ports[$i]}" = "$port" ] || continue
    ! redis-cli -p "$port" ping >/dev/null 2>&1 || die "the node on port $port is running"
    rm -f "$CLUSTER_DIR/$port/redis.pid"
    start_node "$port" "${bus[$i]}"
    for _ in $(seq 50); do [ -s "$CLUSTER_DIR/$port/redis.pid" ] && redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.1; done
    redis-cli -p "$port" ping >/dev/null 2>&1 || die "redis-server on port $port did not start again"
    pids[i]=$(cat "$CLUSTER_DIR/$port/redis.pid")
    CLUSTER_PIDS="${pids[*]}"
    write_state
    log "restarted 127.0.0.1:$port"
    return 0
  done
  die "no node on port '$port' (ports: $CLUSTER_PORTS)"
}

cmd_start() {
  if [ -f "$STATE" ]; then
    # shellcheck disable=SC1090
    (source "$STATE"; for p in $CLUSTER_PORTS; do redis-cli -p "$p" ping >/dev/null 2>&1 && exit 0; done; exit 1) &&
      die "a cluster is already running (state file $STATE); run '$0 stop' first"
    log "removing a stale state file $STATE"
    cmd_stop
  fi

  local ports bus
  if [ -n "${CLUSTER_BASE_PORT:-}" ]; then
    if ! [[ $CLUSTER_BASE_PORT =~ ^[0-9]+$ ]] || [ "$CLUSTER_BASE_PORT" -lt 1024 ] || [ "$CLUSTER_BASE_PORT" -gt 55530 ]; then
      die "CLUSTER_BASE_PORT must be a number in 1024..55530 (bus ports are port+10000)"
    fi
    ports=() bus=()
    for i in $(seq 0 $((N - 1))); do
      ports+=($((CLUSTER_BASE_PORT + i))) bus+=($((CLUSTER_BASE_PORT + i + 10000)))
    done
    for p in "${ports[@]}" "${bus[@]}"; do
      ! port_in_use "$p" || die "port $p is in use; choose another CLUSTER_BASE_PORT"
    done
  else
    local all
    read -r -a all <<<"$(free_ports $((2 * N)))"
    ports=("${all[@]:0:N}") bus=("${all[@]:N:N}")
  fi
  PORTS=("${ports[@]}")

  CLUSTER_DIR=$(mktemp -d "${TMPDIR:-/tmp}/confab-cluster.XXXXXX")
  CLUSTER_PORTS="${ports[*]}"
  CLUSTER_PIDS=""
  # Until the state file is written, a failed start stops what it started.
  trap 'log "start failed; cleaning up"; stop_nodes' EXIT

  CLUSTER_BUS_PORTS="${bus[*]}"
  local i p
  for i in "${!ports[@]}"; do
    start_node "${ports[$i]}" "${bus[$i]}"
  done
  for p in "${ports[@]}"; do
    for _ in $(seq 50); do [ -s "$CLUSTER_DIR/$p/redis.pid" ] && redis-cli -p "$p" ping >/dev/null 2>&1 && break; sleep 0.1; done
    [ -s "$CLUSTER_DIR/$p/redis.pid" ] || { tail -n 20 "$CLUSTER_DIR/$p/redis.log" >&2 || true; die "redis-server on port $p did not start"; }
    CLUSTER_PIDS="$CLUSTER_PIDS $(cat "$CLUSTER_DIR/$p/redis.pid")"
  done
  CLUSTER_PIDS=${CLUSTER_PIDS# }

  local seeds=() nodes
  for p in "${ports[@]}"; do seeds+=("127.0.0.1:$p"); done
  nodes=$(IFS=,; echo "${seeds[*]}")
  redis-cli --cluster create "${seeds[@]}" --cluster-replicas 1 --cluster-yes >"$CLUSTER_DIR/create.log" 2>&1 ||
    { cat "$CLUSTER_DIR/create.log" >&2; die "redis-cli --cluster create failed"; }

  local deadline=$((SECONDS + WAIT_SECS)) why
  while why=$(not_ready); [ -n "$why" ]; do
    if [ "$SECONDS" -ge "$deadline" ]; then
      for p in "${ports[@]}"; do log "--- tail of 127.0.0.1:$p log"; tail -n 5 "$CLUSTER_DIR/$p/redis.log" >&2 || true; done
      die "cluster not ready after ${WAIT_SECS}s: $why"
    fi
    sleep 0.2
  done

  CONFAB_REDIS_CLUSTER_NODES=$nodes
  write_state
  trap - EXIT
  log "ready: 3 masters + 3 replicas on ports $CLUSTER_PORTS (dir $CLUSTER_DIR, state $STATE)"
  echo "CONFAB_REDIS_CLUSTER_NODES=$nodes"
}

cmd_status() {
  [ -f "$STATE" ] || die "not running (no $STATE)"
  # shellcheck disable=SC1090
  source "$STATE"
  local p
  for p in $CLUSTER_PORTS; do
    if redis-cli -p "$p" ping >/dev/null 2>&1; then
      echo "CONFAB_REDIS_CLUSTER_NODES=$CONFAB_REDIS_CLUSTER_NODES"
      echo "# cluster info (127.0.0.1:$p)"
      redis-cli -p "$p" cluster info | tr -d '\r' | grep -E '^cluster_(state|slots_assigned|slots_ok|known_nodes|size):'
      echo "# cluster nodes"
      redis-cli -p "$p" cluster nodes | tr -d '\r' | sort -k2
      return 0
    fi
  done
  die "no node answers (ports $CLUSTER_PORTS)"
}

case "${1:-}" in
  start) cmd_start ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  restart) cmd_restart "${2:-}" ;;
  *) echo "usage: $0 start|stop|status|restart PORT" >&2; exit 2 ;;
esac
