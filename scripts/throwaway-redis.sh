# shellcheck shell=bash
# Sourced by scripts that need a Redis of their own (bench.sh,
# contract-test.sh): a free-port helper, and a redis-server without
# persistence on a free port (REDIS_PORT), in a temporary folder (WORK),
# stopped and removed on exit together with the confab at CONFAB_PID, if any.
# Also brings in scripts/lib.sh (wait_until).

# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

REDIS_PORT=$(free_port)
WORK=$(mktemp -d)
cleanup() {
  [ -n "${CONFAB_PID:-}" ] && kill "$CONFAB_PID" 2>/dev/null || true
  redis-cli -p "$REDIS_PORT" shutdown nosave >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT
redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save '' --appendonly no --dir "$WORK" \
  --logfile "$WORK/redis.log" --daemonize yes
wait_until 10 "the throwaway redis-server on port $REDIS_PORT" redis-cli -p "$REDIS_PORT" ping ||
  { tail -n 20 "$WORK/redis.log" >&2; exit 1; }
