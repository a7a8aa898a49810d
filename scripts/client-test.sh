#!/usr/bin/env bash
# Generated-client test: lints the committed openapi/openapi.json with
# Redocly (0 errors or the run fails), generates a Python client
# (openapi-python-client) and a TypeScript fetch client (@hey-api/openapi-ts,
# compiled with `tsc --strict`) from it, and drives a live confab with each:
# accounts, rooms, idempotent sends, paging, direct messages, conversations,
# members, online users, stats, tickets, the event stream, read markers and
# unread counts, typing notices, edits and deletes (with their events), and
# typed problem documents (tests/clients/). Every tool is pinned:
# tests/clients/python/requirements.txt (a venv under target/) and
# tests/clients/typescript/package-lock.json (npm ci). Generated code goes to
# git-ignored folders (tests/clients/*/generated, tests/clients/typescript/build),
# never committed. Starts its own redis-server and confab on free ports;
# CONFAB_BIN picks the binary (default: the debug build, built if needed).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
PY=$ROOT/tests/clients/python
TS=$ROOT/tests/clients/typescript

VENV=$ROOT/target/clients-venv
if ! cmp -s "$PY/requirements.txt" "$VENV/requirements.txt" 2>/dev/null; then
  rm -rf "$VENV"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check -r "$PY/requirements.txt"
  cp "$PY/requirements.txt" "$VENV/requirements.txt"
fi
# npm ci only when the lock file changed since the last install.
if ! cmp -s "$TS/package-lock.json" "$TS/node_modules/.confab-lock.json" 2>/dev/null; then
  (cd "$TS" && npm ci --no-audit --no-fund --silent)
  cp "$TS/package-lock.json" "$TS/node_modules/.confab-lock.json"
fi

# Redocly's recommended rules: any error fails the run (its exit status). The
# warnings left are explained in the README's Clients section.
export REDOCLY_TELEMETRY=off REDOCLY_SUPPRESS_UPDATE_NOTICE=true
(cd "$TS" && npx redocly lint "$ROOT/openapi/openapi.json" --format summary) ||
  { (cd "$TS" && npx redocly lint "$ROOT/openapi/openapi.json") >&2 || true; exit 1; }

echo "Generating the Python client (openapi-python-client)"
rm -rf "$PY/generated"
"$VENV/bin/openapi-python-client" generate --path "$ROOT/openapi/openapi.json" \
  --config "$PY/openapi-python-client.yaml" --meta none --output-path "$PY/generated/confab_client"

echo "Generating and compiling the TypeScript client (@hey-api/openapi-ts, tsc --strict)"
rm -rf "$TS/generated" "$TS/build"
(cd "$TS" && npm run --silent generate >/dev/null && npm run --silent build)

if [ -z "${CONFAB_BIN:-}" ]; then
  cargo build --bin confab
  CONFAB_BIN=$ROOT/target/debug/confab
fi
# shellcheck source=scripts/throwaway-redis.sh
. scripts/throwaway-redis.sh
PORT=$(free_port)
CONFAB_BIND=127.0.0.1:$PORT CONFAB_REDIS_URL=redis://127.0.0.1:$REDIS_PORT \
CONFAB_JWT_SECRET=client-test-secret-client-test-secret CONFAB_ADMIN_KEY=client-test-admin-key RUST_LOG=warn \
  "$CONFAB_BIN" serve > "$WORK/confab.log" 2>&1 &
CONFAB_PID=$!
wait_until 10 "confab to answer /readyz on port $PORT" \
  curl -sf --max-time 1 "http://127.0.0.1:$PORT/readyz" ||
  { tail -n 20 "$WORK/confab.log" >&2; exit 1; }
# The tests read these: the server, and the admin key for a notification.
export CONFAB_URL=http://127.0.0.1:$PORT CONFAB_ADMIN_KEY=client-test-admin-key

echo "Python client flow (pytest)"
(cd "$PY" && PYTHONPATH=generated PYTHONDONTWRITEBYTECODE=1 \
  "$VENV/bin/python" -m pytest -p no:cacheprovider -q test_flow.py)

echo "TypeScript client flow (node --test)"
(cd "$TS" && npm test --silent)

if grep -q "internal error" "$WORK/confab.log"; then
  echo "confab logged internal errors during the client test:" >&2
  grep "internal error" "$WORK/confab.log" >&2
  exit 1
fi
