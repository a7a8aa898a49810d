#!/usr/bin/env bash
# Contract test: schemathesis (from PyPI) generates requests from the
# committed openapi/openapi.json and checks a live confab's answers against
# it: no 5xx, documented status codes, content types, headers and schemas,
# invalid data rejected, 405 for undeclared methods. Starts its own
# redis-server and the debug confab on free ports.
#
# Every run is the same run: a fixed seed, a fixed number of examples and no
# time budget (with --max-time, fuzzing repeats until the time is spent, so
# a faster machine tests more cases), no example database, and
# schemathesis's cache (which replays requests from earlier runs) off.
# Schemathesis runs in the throwaway folder, so nothing it or Hypothesis
# writes (.schemathesis/, .hypothesis/) lands in the work tree.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

VENV=target/schemathesis-venv
if [ ! -x "$VENV/bin/schemathesis" ]; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check "schemathesis==4.32.5"
fi

cargo build --bin confab
# shellcheck source=scripts/throwaway-redis.sh
. scripts/throwaway-redis.sh
PORT=$(free_port)

CONFAB_BIND=127.0.0.1:$PORT CONFAB_REDIS_URL=redis://127.0.0.1:$REDIS_PORT \
CONFAB_JWT_SECRET=contract-test-secret-contract-test-secret CONFAB_ADMIN_KEY=contract-admin-key RUST_LOG=warn \
  target/debug/confab serve > "$WORK/confab.log" 2>&1 &
CONFAB_PID=$!
wait_until 10 "confab to answer /readyz on port $PORT" \
  curl -sf --max-time 1 "http://127.0.0.1:$PORT/readyz" ||
  { tail -n 20 "$WORK/confab.log" >&2; exit 1; }

API=http://127.0.0.1:$PORT/api/v1
curl -sf "$API/auth/register" -H 'Content-Type: application/json' \
  -d '{"username": "contract", "password": "contract-password"}' >/dev/null
TOKEN=$(curl -sf "$API/auth/login" -H 'Content-Type: application/json' \
  -d '{"username": "contract", "password": "contract-password"}' |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')

# The cache would replay requests recorded by earlier runs. An event stream
# never ends: schemathesis reads it until its request timeout (10 s) unless
# it has read max-stream-events events first; stopping after the first
# (`ready`, always sent at once) keeps each stream short and its content the
# same on every run, where a shorter timeout would depend on timing.
cat > "$WORK/schemathesis.toml" <<'TOML'
[cache]
enabled = false

[[operations]]
include-path = "/api/v1/events"
max-stream-events = 1
TOML

# Checks applied to every operation; the response schema too, except on
# the event stream: schemathesis checks each event as the object {event,
# data, id}, with `data` still a string, against the response schema, while
# confab's schema describes the parsed `data` (the union generated clients
# yield). The events are checked against their schemas, by name, in
# tests/clients/typescript (scripts/client-test.sh) instead.
CHECKS=not_a_server_error,status_code_conformance,content_type_conformance,response_headers_conformance,negative_data_rejection,unsupported_method,allow_header_conformance,missing_required_header,ignored_auth

# Runs schemathesis with these extra arguments.
schemathesis_run() {
  (
    cd "$WORK"
    HYPOTHESIS_STORAGE_DIRECTORY="$WORK/hypothesis" \
      "$ROOT/$VENV/bin/schemathesis" --config-file "$WORK/schemathesis.toml" \
        run "$ROOT/openapi/openapi.json" \
        --url "http://127.0.0.1:$PORT" \
        --header "Authorization: Bearer $TOKEN" \
        --header "X-Admin-Key: contract-admin-key" \
        --max-examples 300 \
        --seed 20261123 \
        --generation-database none \
        --workers 1 \
        "$@"
  )
}

# Logout is left out: it would revoke the token the rest of the run uses.
schemathesis_run --exclude-path /api/v1/auth/logout --exclude-path /api/v1/events \
  --checks "$CHECKS,response_schema_conformance"
schemathesis_run --include-path /api/v1/events --checks "$CHECKS"
if grep -q "internal error" "$WORK/confab.log"; then
  echo "confab logged internal errors during the contract test:" >&2
  grep "internal error" "$WORK/confab.log" >&2
  exit 1
fi
