#!/usr/bin/env bash
# Checks scripts/cluster.sh end to end: start, a write and read through the
# cluster, 3 masters + 3 replicas, SIGKILL of the master that holds the key,
# its replica promoted and the cluster ok again within CHECK_FAILOVER_SECS
# (default 15), the key still readable, then stop. Uses its own state file,
# so a cluster started by hand is left alone.
set -euo pipefail
cd "$(dirname "$0")/.."

export CLUSTER_STATE=${TMPDIR:-/tmp}/confab-cluster-check.$$.env
trap 'scripts/cluster.sh stop' EXIT
FAILOVER_SECS=${CHECK_FAILOVER_SECS:-15}

fail() { echo "cluster-check: FAIL: $*" >&2; exit 1; }
nodes() { redis-cli -p "$1" cluster nodes | tr -d '\r'; }
port_of() { local a=${1#*:}; echo "${a%@*}"; }

scripts/cluster.sh start >/dev/null
# shellcheck disable=SC1090
source "$CLUSTER_STATE"
read -r -a ports <<<"$CLUSTER_PORTS"
p1=${ports[0]}

[ "$(redis-cli -c -p "$p1" set foo bar)" = OK ] || fail "set foo"
[ "$(redis-cli -c -p "$p1" get foo)" = bar ] || fail "get foo"
role_count() { nodes "$p1" | awk -v r="$1" '$3 ~ "(^|,)" r "(,|$)"' | wc -l; }
[ "$(role_count master)" -eq 3 ] || fail "not 3 masters"
[ "$(role_count slave)" -eq 3 ] || fail "not 3 replicas"

# The master that owns foo's slot, its replica, and a third node to ask.
slot=$(redis-cli -p "$p1" cluster keyslot foo | tr -d '\r')
master=$(nodes "$p1" | awk -v s="$slot" '$3 ~ /master/ { for (i = 9; i <= NF; i++) { n = split($i, r, "-"); if (s >= r[1] && s <= r[n]) print $1, $2 } }')
read -r mid maddr <<<"$master"
mport=$(port_of "$maddr")
rport=$(port_of "$(nodes "$p1" | awk -v m="$mid" '$4 == m { print $2 }')")
other=""
for p in "${ports[@]}"; do [ "$p" != "$mport" ] && [ "$p" != "$rport" ] && other=$p && break; done
mpid=$(redis-cli -p "$mport" info server | tr -d '\r' | sed -n 's/^process_id://p')

echo "cluster-check: SIGKILL master 127.0.0.1:$mport (pid $mpid, slot $slot); replica 127.0.0.1:$rport"
start=$(date +%s%N)
kill -9 "$mpid"
until [ "$(redis-cli -p "$rport" role 2>/dev/null | head -1)" = master ] &&
      redis-cli -p "$other" cluster info | tr -d '\r' | grep -q '^cluster_state:ok$'; do
  [ $(( ($(date +%s%N) - start) / 1000000000 )) -lt "$FAILOVER_SECS" ] || fail "no failover within ${FAILOVER_SECS}s"
  sleep 0.1
done
echo "cluster-check: replica promoted and cluster_state:ok after $(( ($(date +%s%N) - start) / 1000000 )) ms"
nodes "$other" | grep -q "127.0.0.1:$rport@[0-9]* [a-z,]*master" || fail "cluster nodes does not show :$rport as master"
[ "$(redis-cli -c -p "$other" get foo)" = bar ] || fail "get foo after failover"
echo "cluster-check: ok"
