# Sourced by scripts that need a Redis of their own (bench.sh,
# contract-test.sh): a free-port helper, and a redis-server without
# persistence on a free port (REDIS_PORT), in a temporary folder (WORK),
# stopped and removed on exit together with the confab at CONFAB_PID, if any.

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
for _ in $(seq 50); do redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 && break; sleep 0.1; done
