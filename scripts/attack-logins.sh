#!/usr/bin/env bash
# A login flood against a release confab, and how confab holds up under it:
# - builds confab in release mode;
# - starts a throwaway redis-server and confab on it, with the per-address
#   login limits raised and the per-address connection cap off (the whole
#   flood comes from this machine's one address, standing for many, and is
#   meant to reach the password hashing);
# - registers a real user and signs them in;
# - runs ATTACK_CLIENTS (default 1000) concurrent clients for
#   ATTACK_SECONDS (default 20) seconds, each logging in with a random
#   username again as soon as it has an answer (no Retry-After honoured);
# - meanwhile samples confab's resident memory (VmRSS in /proc/PID/status,
#   and its peak VmHWM), times GET /healthz and GET /api/v1/users/me every
#   0.1 s, and every 4 s times the real user's login, which retries after
#   Retry-After when it gets 503;
# - prints a table of the figures beside their goals.
# Everything runs on this machine. The attacking clients run at a lower
# priority (ATTACK_NICE, default 10), standing for an attacker on other
# machines: they take what CPU confab and Redis leave rather than half of
# it (ATTACK_NICE=0 shares it equally). Only python3's standard library is
# needed.
set -euo pipefail
cd "$(dirname "$0")/.."

CLIENTS=${ATTACK_CLIENTS:-1000}
SECONDS_OF_ATTACK=${ATTACK_SECONDS:-20}
NICE=${ATTACK_NICE:-10}

scripts/ensure-redis-server.sh
cargo build --release -p confab --bin confab

# shellcheck source=scripts/throwaway-redis.sh
. scripts/throwaway-redis.sh
CONFAB_PORT=$(free_port)

# A thousand connections on each side.
ulimit -n "$(ulimit -Hn)" || true

env -u CONFAB_REDIS_URL -u CONFAB_REDIS_CLUSTER_NODES \
  CONFAB_REDIS_URL="redis://127.0.0.1:$REDIS_PORT" CONFAB_BIND="127.0.0.1:$CONFAB_PORT" \
  CONFAB_JWT_SECRET=attack-logins-secret-attack-logins-secret \
  CONFAB_LIMITS__LOGIN_PER_IP_PER_MIN=100000000 CONFAB_LIMITS__LOGIN_PER_IP_BURST=100000000 \
  CONFAB_SERVER__MAX_CONNECTIONS_PER_ADDRESS=0 \
  RUST_LOG=warn \
  target/release/confab serve > "$WORK/confab.log" 2>&1 &
CONFAB_PID=$!
wait_until 10 "confab to answer /readyz on port $CONFAB_PORT" \
  curl -sf --max-time 1 "http://127.0.0.1:$CONFAB_PORT/readyz" ||
  { tail -n 20 "$WORK/confab.log" >&2; exit 1; }

# The attacking clients: one asyncio loop speaking HTTP/1.1 over keep-alive
# connections, so that the attack costs as little CPU as possible. Prints
# the answers it got, by status, as JSON.
cat > "$WORK/flood.py" <<'PY'
import asyncio, json, random, string, sys, time

port, clients, seconds = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
counts = {}

def count(what):
    counts[what] = counts.get(what, 0) + 1

async def client(deadline):
    reader = writer = None
    while time.monotonic() < deadline:
        try:
            if writer is None:
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
            name = "".join(random.choices(string.ascii_lowercase, k=12))
            body = json.dumps({"username": name, "password": "not-the-password"}).encode()
            writer.write(
                b"POST /api/v1/auth/login HTTP/1.1\r\nHost: confab\r\n"
                b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n%s"
                % (len(body), body)
            )
            await writer.drain()
            status = int((await reader.readline()).split()[1])
            length, close = 0, False
            while (line := await reader.readline()) not in (b"\r\n", b""):
                header, _, value = line.decode("latin-1").partition(":")
                if header.lower() == "content-length":
                    length = int(value)
                elif header.lower() == "connection" and "close" in value.lower():
                    close = True
            await reader.readexactly(length)
            count(str(status))
            if close:
                writer.close()
                writer = None
        except (OSError, ValueError, IndexError, asyncio.IncompleteReadError):
            count("error")
            if writer is not None:
                writer.close()
            writer = None
            await asyncio.sleep(0.1)

async def main():
    deadline = time.monotonic() + seconds
    await asyncio.gather(*(client(deadline) for _ in range(clients)))

asyncio.run(main())
print(json.dumps(counts))
PY

# The observer: memory, probes and the real user, in a process of its own so
# that the flood's event loop never delays a measurement.
cat > "$WORK/observe.py" <<'PY'
import http.client, json, statistics, subprocess, sys, threading, time

port, pid, clients, seconds, flood_script, nice = sys.argv[1:7]
seconds = float(seconds)
USER = {"username": "realuser", "password": "the-real-password"}

def request(method, path, body=None, token=None, timeout=30):
    """(status, headers, parsed body, seconds) of one request on a new connection."""
    started = time.monotonic()
    conn = http.client.HTTPConnection("127.0.0.1", int(port), timeout=timeout)
    headers = {"Connection": "close"}
    if body is not None:
        headers["Content-Type"] = "application/json"
    if token:
        headers["Authorization"] = "Bearer " + token
    conn.request(method, path, json.dumps(body) if body is not None else None, headers)
    res = conn.getresponse()
    data = res.read()
    conn.close()
    try:
        parsed = json.loads(data)
    except ValueError:
        parsed = None
    return res.status, dict(res.getheaders()), parsed, time.monotonic() - started

def memory():
    """(VmRSS, VmHWM) of confab, in MB."""
    fields = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            name, _, value = line.partition(":")
            if name in ("VmRSS", "VmHWM"):
                fields[name] = int(value.split()[0]) / 1024
    return fields["VmRSS"], fields["VmHWM"]

def real_login():
    """Seconds until the real user is signed in, retrying after Retry-After on 503, and tries."""
    started, tries = time.monotonic(), 0
    while True:
        tries += 1
        status, headers, body, _ = request("POST", "/api/v1/auth/login", USER)
        if status == 200:
            return time.monotonic() - started, tries
        if status != 503 or tries >= 60:
            raise SystemExit(f"the real user's login got {status}: {body}")
        time.sleep(float(headers.get("Retry-After", headers.get("retry-after", "1"))))

status, _, body, _ = request("POST", "/api/v1/auth/register", USER)
assert status == 201, (status, body)
status, _, body, _ = request("POST", "/api/v1/auth/login", USER)
assert status == 200, (status, body)
token = body["access_token"]
time.sleep(1)
rss_before, _ = memory()

stop = threading.Event()
samples = {"rss": [], "healthz": [], "me": [], "bad": [], "logins": []}

def sample_memory():
    while not stop.is_set():
        samples["rss"].append(memory()[0])
        time.sleep(0.1)

def probe(name, path, token=None):
    while not stop.is_set():
        try:
            status, _, _, took = request("GET", path, token=token, timeout=10)
            samples[name].append(took * 1000)
            if status != 200:
                samples["bad"].append(f"{path}: {status}")
        except OSError as e:
            samples["bad"].append(f"{path}: {e}")
        time.sleep(0.1)

def logins():
    time.sleep(2)
    while not stop.is_set():
        samples["logins"].append(real_login())
        stop.wait(4)

def load():
    with open("/proc/loadavg") as f:
        return f.read().split()[0]

load_before = load()
flood = subprocess.Popen(
    ["nice", "-n", nice, sys.executable, flood_script, port, clients, str(seconds)],
    stdout=subprocess.PIPE,
    text=True,
)
threads = [
    threading.Thread(target=sample_memory),
    threading.Thread(target=probe, args=("healthz", "/healthz")),
    threading.Thread(target=probe, args=("me", "/api/v1/users/me", token)),
    threading.Thread(target=logins),
]
for t in threads:
    t.start()
started = time.monotonic()
answers = json.loads(flood.communicate()[0])
attack_seconds = time.monotonic() - started
load_after = load()
stop.set()
for t in threads:
    t.join()
time.sleep(5)
rss_after, hwm = memory()

def ms(values):
    values = sorted(values)
    p99 = values[min(len(values) - 1, int(len(values) * 0.99))]
    return f"{statistics.median(values):.1f} / {p99:.1f} / {values[-1]:.1f} ms ({len(values)} requests)"

total = sum(answers.values())
by_status = ", ".join(f"{k}: {v}" for k, v in sorted(answers.items()))
waits = [w for w, _ in samples["logins"]]
tries = [t for _, t in samples["logins"]]
rows = [
    ("attack", f"{clients} concurrent clients (nice {nice}), {attack_seconds:.0f} s: {total} logins ({total / attack_seconds:.0f}/s); by status {by_status}", ""),
    ("confab RSS before the attack", f"{rss_before:.0f} MB", ""),
    ("confab RSS during the attack (max of 0.1 s samples)", f"{max(samples['rss']):.0f} MB", "< 300 MB"),
    ("confab peak RSS since start (VmHWM)", f"{hwm:.0f} MB", "< 300 MB"),
    ("confab RSS 5 s after the attack", f"{rss_after:.0f} MB", ""),
    ("GET /healthz during the attack, median / p99 / max", ms(samples["healthz"]), "< 100 ms"),
    ("GET /api/v1/users/me during the attack, median / p99 / max", ms(samples["me"]), "< 100 ms"),
    ("the real user's login, median / max (tries: max)", f"{statistics.median(waits):.2f} / {max(waits):.2f} s ({len(waits)} logins; tries: {max(tries)})", "within seconds"),
    ("probe failures", ", ".join(samples["bad"]) or "none", "none"),
    ("machine load average (1 min) at the start / end of the attack", f"{load_before} / {load_after}", ""),
]
print("| measure | value | goal |")
print("|---|---|---|")
for row in rows:
    print("| " + " | ".join(row) + " |")
PY

echo "Flooding confab (pid $CONFAB_PID) with logins: $CLIENTS clients at nice $NICE for $SECONDS_OF_ATTACK s..." >&2
python3 "$WORK/observe.py" "$CONFAB_PORT" "$CONFAB_PID" "$CLIENTS" "$SECONDS_OF_ATTACK" "$WORK/flood.py" "$NICE"
echo
echo "Machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo); confab, Redis and the clients all on it."
