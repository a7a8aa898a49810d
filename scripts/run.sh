#!/usr/bin/env bash
# Runs confab on :8080 (or $CONFAB_BIND) from a fresh clone:
# - installs redis-server when missing;
# - when no Redis answers at $CONFAB_REDIS_URL (default 127.0.0.1:6379),
#   starts one with append-only persistence under .data/redis;
# - uses a development JWT secret unless CONFAB_JWT_SECRET is set;
# - builds and starts confab (release build).
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/lib.sh
. scripts/lib.sh

scripts/ensure-redis-server.sh

export CONFAB_REDIS_URL="${CONFAB_REDIS_URL:-redis://127.0.0.1:6379}"
export CONFAB_BIND="${CONFAB_BIND:-127.0.0.1:8080}"

# host and port of the Redis URL (redis://[user:pass@]host:port[/db])
hostport="${CONFAB_REDIS_URL#*://}"
hostport="${hostport##*@}"
hostport="${hostport%%/*}"
redis_host="${hostport%%:*}"
redis_port="${hostport##*:}"
[ "$redis_port" = "$hostport" ] && redis_port=6379

if redis-cli -h "$redis_host" -p "$redis_port" ping >/dev/null 2>&1; then
  echo "Using the Redis at $redis_host:$redis_port"
else
  case "$redis_host" in
    127.0.0.1|localhost) ;;
    *) echo "No Redis answers at $CONFAB_REDIS_URL and it is not local; start it first." >&2; exit 1 ;;
  esac
  mkdir -p .data/redis
  echo "Starting redis-server on $redis_port (append-only, data in .data/redis)"
  redis-server --port "$redis_port" --bind 127.0.0.1 --appendonly yes \
    --dir "$PWD/.data/redis" --logfile "$PWD/.data/redis/redis.log" --daemonize yes
  wait_until 10 "the redis-server started on port $redis_port (log: .data/redis/redis.log)" \
    redis-cli -p "$redis_port" ping
fi

if [ -z "${CONFAB_JWT_SECRET:-}" ]; then
  echo "CONFAB_JWT_SECRET is not set; using a development secret (never do this in production)" >&2
  export CONFAB_JWT_SECRET="confab-development-secret-do-not-deploy"
fi

cargo build --release --bin confab
exec target/release/confab serve "$@"
