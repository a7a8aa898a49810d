#!/usr/bin/env bash
# Runs confab on :8080 (or $CONFAB_BIND) from a fresh clone:
# - installs redis-server when missing;
# - when no Redis answers at $CONFAB_REDIS_URL (default 127.0.0.1:6379),
#   starts one with append-only persistence under .data/redis;
# - without CONFAB_JWT_SECRET, generates a random secret on first run and
#   keeps it in .data/jwt-secret (readable by you only), so tokens survive
#   restarts;
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
  secret_file=.data/jwt-secret
  if [ ! -s "$secret_file" ]; then
    mkdir -p .data
    # 48 random bytes, base64: 64 characters, well over HS256's 32 bytes.
    (umask 077 && head -c 48 /dev/urandom | base64 -w0 > "$secret_file")
    echo "Generated a random JWT secret in $secret_file (set CONFAB_JWT_SECRET to use your own)" >&2
  fi
  CONFAB_JWT_SECRET="$(cat "$secret_file")"
  export CONFAB_JWT_SECRET
fi

cargo build --release --bin confab
exec target/release/confab serve "$@"
