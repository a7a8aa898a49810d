#!/usr/bin/env bash
# Reproduces the slow-body attack of issue 11 (finding 2) at full scale
# against a release confab on a throwaway Redis, and shows how it holds up:
# - confab runs with an open-file limit of 1024 (CONFAB_NOFILE), a common
#   default, so that its caps are the ones a stock machine gets;
# - ATTACK_CONNECTIONS (800) clients, all from 127.0.0.1, each declare a
#   1,000-byte JSON body, send `{` and then one byte a second; whenever the
#   server closes one, it reconnects (after a second when it was refused) and
#   starts again, for ATTACK_SECONDS (30);
# - meanwhile /healthz is asked every half second on a fresh connection,
#   and confab's open descriptors (/proc/PID/fd) are counted every second.
# It runs twice: with the default settings (256 connections per address),
# and with max_connections_per_address = 0 (every client behind one proxy
# address), where the instance cap and the body deadline alone hold. Each
# run prints a line every 5 s and a summary: /healthz answers and latency,
# how each slow connection ended (408 at the body deadline, or 503 over a
# cap) and how long it lived, and confab's descriptors at their peak and
# after the attack.
set -euo pipefail
cd "$(dirname "$0")/.."

ATTACK_CONNECTIONS=${ATTACK_CONNECTIONS:-800}
ATTACK_SECONDS=${ATTACK_SECONDS:-30}
CONFAB_NOFILE=${CONFAB_NOFILE:-1024}

scripts/ensure-redis-server.sh
cargo build --release -p confab --bin confab

# shellcheck source=scripts/throwaway-redis.sh
. scripts/throwaway-redis.sh
CONFAB_PORT=$(free_port)
# The attacker's own sockets.
ulimit -n "$(ulimit -Hn)" || true

# Starts the release confab with the open-file limit $CONFAB_NOFILE, these
# extra VAR=value settings, and its log in $1; sets CONFAB_PID.
start_confab() {
  local log=$1
  shift
  (
    ulimit -n "$CONFAB_NOFILE"
    exec env -u CONFAB_REDIS_URL -u CONFAB_REDIS_CLUSTER_NODES "$@" \
      CONFAB_REDIS_URL="redis://127.0.0.1:$REDIS_PORT" CONFAB_BIND="127.0.0.1:$CONFAB_PORT" \
      CONFAB_JWT_SECRET=attack-slow-bodies-secret-0123456789abcdef RUST_LOG=warn \
      target/release/confab serve
  ) > "$log" 2>&1 &
  CONFAB_PID=$!
  wait_until 10 "confab to answer /readyz on port $CONFAB_PORT" \
    curl -sf --max-time 1 "http://127.0.0.1:$CONFAB_PORT/readyz" ||
    { tail -n 20 "$log" >&2; exit 1; }
}

stop_confab() {
  kill "$CONFAB_PID" 2>/dev/null || true
  wait "$CONFAB_PID" 2>/dev/null || true
  CONFAB_PID=
}

# attack LABEL: runs the attack against the confab at CONFAB_PID.
attack() {
  python3 - "$1" "$CONFAB_PORT" "$CONFAB_PID" "$ATTACK_CONNECTIONS" "$ATTACK_SECONDS" <<'PY'
import asyncio, os, statistics, sys, time
from collections import Counter, defaultdict

label, port, pid, clients, seconds = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5])
HOST = "127.0.0.1"
HEAD = (b"POST /api/v1/auth/register HTTP/1.1\r\nHost: confab\r\n"
        b"Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{")

open_now = 0          # attacker sockets open right now
ended = Counter()     # how slow connections ended: status code, or what happened
lifetimes = defaultdict(list)  # status -> seconds from connect to the server closing
health = []           # (time since start, ok, seconds)
samples = []          # (time since start, confab fds, attacker sockets)
start = time.monotonic()

def fds():
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return -1

async def slow_client(stop_at):
    global open_now
    while time.monotonic() < stop_at:
        began = time.monotonic()
        try:
            reader, writer = await asyncio.open_connection(HOST, port)
        except OSError:
            ended["connect failed"] += 1
            await asyncio.sleep(1)
            continue
        open_now += 1

        async def dribble():
            writer.write(HEAD)
            await writer.drain()
            while True:
                await asyncio.sleep(1)
                writer.write(b" ")
                await writer.drain()

        sender = asyncio.create_task(dribble())
        status = None
        try:
            line = await asyncio.wait_for(reader.readline(), stop_at + 30 - time.monotonic())
            status = int(line.split()[1]) if line else "closed without answer"
            while await asyncio.wait_for(reader.read(4096), stop_at + 30 - time.monotonic()):
                pass
        except asyncio.TimeoutError:
            status = "still open at the end"
        except OSError:
            status = status or "reset without answer"
        finally:
            sender.cancel()
            writer.close()
            open_now -= 1
        ended[status] += 1
        lifetimes[status].append(time.monotonic() - began)
        await asyncio.sleep(1.0 if status == 503 else 0.1)

async def probe(stop_at):
    while time.monotonic() < stop_at + 5:
        began = time.monotonic()
        ok = False
        try:
            async def get():
                reader, writer = await asyncio.open_connection(HOST, port)
                writer.write(b"GET /healthz HTTP/1.1\r\nHost: confab\r\nConnection: close\r\n\r\n")
                await writer.drain()
                answer = await reader.read()
                writer.close()
                return answer.startswith(b"HTTP/1.1 200")
            ok = await asyncio.wait_for(get(), 2)
        except (asyncio.TimeoutError, OSError):
            pass
        health.append((began - start, ok, time.monotonic() - began))
        await asyncio.sleep(0.5)

async def sample(stop_at):
    while time.monotonic() < stop_at + 5:
        samples.append((time.monotonic() - start, fds(), open_now))
        await asyncio.sleep(1)

async def report(stop_at):
    print(f"[{label}] {'t (s)':>5} {'confab fds':>10} {'attack sockets':>14} {'/healthz ok':>11} {'max ms':>7} {'408s':>6} {'503s':>6}")
    last = 0.0
    while time.monotonic() < stop_at + 5:
        await asyncio.sleep(5)
        now = time.monotonic() - start
        window = [h for h in health if last <= h[0] < now]
        last = now
        _, f, o = samples[-1]
        ok = sum(1 for h in window if h[1])
        worst = max((h[2] for h in window), default=0) * 1000
        print(f"[{label}] {now:5.0f} {f:10d} {o:14d} {ok:>5d}/{len(window):<5d} {worst:7.1f} {ended[408]:6d} {ended[503]:6d}", flush=True)

def pct(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(p / 100 * len(values)))] if values else float("nan")

async def main():
    baseline = fds()
    stop_at = time.monotonic() + seconds
    tasks = [asyncio.create_task(slow_client(stop_at)) for _ in range(clients)]
    tasks += [asyncio.create_task(t(stop_at)) for t in (probe, sample, report)]
    await asyncio.gather(*tasks)
    await asyncio.sleep(2)
    after = fds()
    ok = sum(1 for h in health if h[1])
    latency = [h[2] * 1000 for h in health if h[1]]
    print(f"[{label}] summary: {clients} slow clients for {seconds:.0f} s")
    print(f"[{label}]   /healthz: {ok}/{len(health)} answered 200, median {pct(latency, 50):.1f} ms, max {max(latency, default=0):.1f} ms")
    print(f"[{label}]   confab fds: {baseline} before, peak {max(s[1] for s in samples)}, {after} 2 s after the attack; peak attack sockets {max(s[2] for s in samples)}")
    for status, n in sorted(ended.items(), key=lambda kv: str(kv[0])):
        life = lifetimes[status]
        print(f"[{label}]   ended {status}: {n} connections, lived median {pct(life, 50):.2f} s, p95 {pct(life, 95):.2f} s, max {max(life):.2f} s")

asyncio.run(main())
PY
}

echo "confab: open-file limit $CONFAB_NOFILE; attack: $ATTACK_CONNECTIONS slow clients for ${ATTACK_SECONDS}s"

start_confab "$WORK/confab-default.log"
# The start-up warning: the cap lowered to 3/4 of the open-file limit.
sed 's/\x1b\[[0-9;]*m//g' "$WORK/confab-default.log" | grep -h "max_connections" || true
attack "defaults"
stop_confab

start_confab "$WORK/confab-proxy.log" CONFAB_SERVER__MAX_CONNECTIONS_PER_ADDRESS=0
attack "per-address 0"
stop_confab
