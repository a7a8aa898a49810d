// End-to-end test of the web client in headless Chromium: a real confab
// (the debug binary `cargo build` made) and a real redis-server, both
// started here on free ports, driven through two browser contexts (Alice and
// Bob), with a few more users acting through the API from here, and an
// HTTP receiver here for the rooms' webhooks. The tests
// run in order and share the two pages, each picking up where the last left
// off. They wait for what a user would see (Playwright's auto-waiting
// locators, or polling a condition), never for a fixed time.
//
// Run with `npm test` in this folder (scripts/test.sh does, after building
// confab and installing chromium and playwright-core). Fails loudly when the
// browser cannot start; it never skips.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createHmac, timingSafeEqual } from "node:crypto";
import { mkdtempSync, mkdirSync, readFileSync, rmSync } from "node:fs";
import { createServer as createHttpServer } from "node:http";
import { createServer, connect } from "node:net";
import { tmpdir } from "node:os";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, "..", "..");
const artifacts = join(here, "artifacts");
const binary = process.env.CONFAB_BIN || join(root, "target", "debug", "confab");
const chromiumPath = process.env.CHROMIUM_PATH || "/usr/bin/chromium";

let redis, confab, browser, dataDir, redisPort, confabPort;
let alice, bob; // the two users' pages, shared by the tests in order
let receiver;   // the webhook receiver, once started
const adminKey = "e2e-admin-key-e2e-admin-key";

const base = () => `http://127.0.0.1:${confabPort}`;

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.on("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

/** Resolves once something accepts TCP connections on `port`. */
async function waitForPort(port, what, timeoutMs = 20000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise((resolve) => {
      const sock = connect(port, "127.0.0.1");
      sock.once("connect", () => { sock.destroy(); resolve(true); });
      sock.once("error", () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`${what} did not start on port ${port}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function startConfab() {
  const child = spawn(binary, ["serve"], {
    cwd: root,
    env: {
      ...process.env,
      CONFAB_BIND: `127.0.0.1:${confabPort}`,
      CONFAB_REDIS_URL: `redis://127.0.0.1:${redisPort}`,
      CONFAB_JWT_SECRET: "e2e-secret-e2e-secret-e2e-secret-e2e",
      CONFAB_KEY_PREFIX: "e2e:",
      CONFAB_ADMIN_KEY: adminKey,
      // The webhook receiver is on 127.0.0.1, which confab refuses by default.
      CONFAB_WEBHOOKS__ALLOW_PRIVATE_ADDRESSES: "true",
      // A failed delivery is retried within about a second.
      CONFAB_WEBHOOKS__MAX_BACKOFF_SECS: "1",
      RUST_LOG: "warn",
    },
    stdio: ["ignore", "inherit", "inherit"],
  });
  return child;
}

async function stopConfab() {
  if (!confab || confab.exitCode !== null) return;
  const exited = new Promise((resolve) => confab.once("exit", resolve));
  confab.kill("SIGTERM");
  await exited;
}

before(async () => {
  mkdirSync(artifacts, { recursive: true });
  dataDir = mkdtempSync(join(tmpdir(), "confab-e2e-"));
  redisPort = await freePort();
  confabPort = await freePort();
  redis = spawn("redis-server", ["--port", String(redisPort), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dataDir], { stdio: "ignore" });
  await waitForPort(redisPort, "redis-server");
  confab = startConfab();
  await waitForPort(confabPort, "confab");
  // The client is embedded in the binary: make sure it is the one on disk.
  for (const file of ["app.js", "index.html", "style.css"]) {
    const served = await (await fetch(`${base()}/${file === "index.html" ? "" : file}`)).text();
    assert.equal(served, readFileSync(join(root, "web", file), "utf8"),
      `${binary} serves an older web/${file}; run \`cargo build --bin confab\` first`);
  }
  browser = await chromium.launch({
    executablePath: chromiumPath,
    headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
});

after(async () => {
  await browser?.close();
  await stopConfab();
  await receiver?.close();
  redis?.kill("SIGKILL");
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

/** A page of the client in `context`, at `hash` (a remembered view). */
async function openPage(context, hash = "") {
  const page = await context.newPage();
  page.on("dialog", async (dialog) => {
    await dialog.dismiss();
    throw new Error(`a dialog opened: ${dialog.message()} (script injection?)`);
  });
  await page.goto(`${base()}/${hash}`);
  return page;
}

/** A signed-in user in a browser context of their own. */
async function userPage(name) {
  const context = await browser.newContext({ viewport: { width: 1200, height: 760 } });
  const page = await openPage(context);
  const form = page.locator("#register-form");
  await form.locator("input[name=username]").fill(name);
  await form.locator("input[name=display_name]").fill(name[0].toUpperCase() + name.slice(1));
  await form.locator("input[name=password]").fill(`${name}-password`);
  await form.locator("button[type=submit]").click();
  await page.locator("#conn[data-state=on]").waitFor({ timeout: 10000 });
  return page;
}

/** Calls the API from here (not from a page) as the user holding `token`. */
async function call(token, method, path, body) {
  const headers = {};
  if (token) headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const res = await fetch(`${base()}/api/v1${path}`, {
    method, headers, body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${text}`);
  return text ? JSON.parse(text) : null;
}

/** A user who acts only through the API: their token and themselves. */
async function apiUser(name) {
  const password = `${name}-password`;
  const display_name = name[0].toUpperCase() + name.slice(1);
  await call(null, "POST", "/auth/register", { username: name, password, display_name });
  const { access_token, user } = await call(null, "POST", "/auth/login", { username: name, password });
  return { token: access_token, user };
}

/** The access token a signed-in page holds. */
function tokenOf(page) {
  return page.evaluate(() => localStorage.getItem("confab.token"));
}

/** The room id in a page's address (`#room/<id>`). */
function roomIdOf(page) {
  const match = /^#room\/(.+)$/.exec(new URL(page.url()).hash);
  assert.ok(match, `${page.url()} names a room`);
  return decodeURIComponent(match[1]);
}

/** Polls `check` until it returns something truthy. */
async function until(what, check, timeoutMs = 10000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Runs `fn` over `items`, `width` at a time. */
async function inParallel(items, width, fn) {
  const queue = [...items];
  await Promise.all(Array.from({ length: width }, async () => {
    while (queue.length) await fn(queue.shift());
  }));
}

async function showMembers(page) {
  if (await page.locator("#members").isHidden()) await page.locator("#members-toggle").click();
  await page.locator("#members").waitFor();
}

/** The side-list row of a room, with its member count (`.sub`) being `n`. */
function roomWithCount(list, name, n) {
  return list.locator("li", { hasText: name }).locator(".sub", { hasText: new RegExp(`^${n}$`) });
}

/** The Send button is on screen, and a click at its centre reaches it (nothing covers it). */
async function assertSendClickable(page) {
  const seen = await page.evaluate(() => {
    const button = document.querySelector("#composer button[type=submit]");
    const r = button.getBoundingClientRect();
    const x = r.left + r.width / 2;
    const y = r.top + r.height / 2;
    const hit = document.elementFromPoint(x, y);
    const overlaps = (n) => !(n.bottom <= r.top || n.top >= r.bottom || n.right <= r.left || n.left >= r.right);
    return {
      onScreen: r.width > 0 && x > 0 && x < innerWidth && y > 0 && y < innerHeight,
      reachesSend: hit === button || button.contains(hit),
      noticesOverlapping: [...document.querySelectorAll("#away, .toast")]
        .filter((n) => overlaps(n.getBoundingClientRect())).map((n) => n.id || n.className),
    };
  });
  assert.deepEqual(seen, { onScreen: true, reachesSend: true, noticesOverlapping: [] });
  // Playwright's own check that the button would receive a click.
  await page.locator("#composer button[type=submit]").click({ trial: true, timeout: 2000 });
}

async function send(page, text) {
  await page.locator("#body").fill(text);
  await page.locator("#body").press("Enter");
}

/** The message bubbles whose text is exactly `text`. */
function bubbles(page, text) {
  return page.locator(".msg .text", { hasText: text }).filter({ hasText: new RegExp(`^${text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}$`) });
}

/** The message (`.msg`) whose text is exactly `text`. */
function message(page, text) {
  const exact = new RegExp(`^${text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}$`);
  return page.locator(".msg").filter({ has: page.locator(".text", { hasText: exact }) });
}

/** A side-list row's unread badge showing `n` (a string: "2", "99+"). */
function unreadBadge(list, name, n) {
  const exact = new RegExp(`^${n.replace(/[+]/g, "\\+")}$`);
  return list.locator("li", { hasText: name }).locator(".badge:not([hidden]) .n", { hasText: exact });
}

/** How many unread badges a side-list row shows (0 or 1). */
function shownBadges(list, name) {
  return list.locator("li", { hasText: name }).locator(".badge:not([hidden])").count();
}

/** The caller's entry for a room in `GET /users/me/rooms`, or their
 *  conversation with `username` in `GET /conversations`. */
async function myRoom(token, id) {
  return (await call(token, "GET", "/users/me/rooms?limit=100")).items.find((r) => r.id === id);
}
async function myConversation(token, username) {
  return (await call(token, "GET", "/conversations?limit=100")).items.find((c) => c.user.username === username);
}

async function openRoomIn(page, name) {
  await page.locator("#my-rooms li", { hasText: name }).click();
  await page.locator("#chat-title", { hasText: `# ${name}` }).waitFor();
}

test("two users chat in a room, live, across reloads, safely, and through a dropped stream", async () => {
  alice = await userPage("alice");
  bob = await userPage("bob");

  // Alice creates a room; Bob sees it in the list and joins.
  await alice.locator("#room-form input[name=name]").fill("lobby");
  await alice.locator("#room-form button").click();
  await alice.locator("#chat-title", { hasText: "# lobby" }).waitFor();
  await bob.reload();
  await bob.locator("#conn[data-state=on]").waitFor();
  await bob.locator("#rooms li", { hasText: "lobby" }).click();
  await bob.locator("#join").click();
  await bob.locator("#composer").waitFor();

  // Both ways, live.
  await send(alice, "hello from alice");
  await bubbles(bob, "hello from alice").waitFor({ timeout: 5000 });
  await send(bob, "hi alice");
  await bubbles(alice, "hi alice").waitFor({ timeout: 5000 });

  // A reload keeps the history.
  await bob.reload();
  await bob.locator("#conn[data-state=on]").waitFor();
  await bob.locator("#rooms li", { hasText: "lobby" }).click();
  await bubbles(bob, "hello from alice").waitFor();
  await bubbles(bob, "hi alice").waitFor();

  // A body that looks like HTML is shown as text, and runs nothing.
  const xss = "<img src=x onerror=alert(1)>";
  await send(alice, xss);
  await bubbles(bob, xss).waitFor({ timeout: 5000 });
  assert.equal(await bob.locator(".messages img").count(), 0);

  // Members show who is online.
  await bob.locator("#members-toggle").click();
  await bob.locator("#member-list li", { hasText: "Alice" }).locator(".dot.online").waitFor();

  // Display names are not unique: the @username stands beside each one.
  await bob.locator("#member-list li", { hasText: "Alice" }).locator(".handle", { hasText: "@alice" }).waitFor();
  await bob.locator(".msg", { hasText: "hello from alice" }).locator(".handle", { hasText: "@alice" }).waitFor();

  // Back in the room, the server goes away and comes back: Bob's client
  // reconnects with a fresh ticket and resumes; nothing is lost or doubled.
  await bob.locator("#rooms li", { hasText: "lobby" }).click();
  await alice.locator("#rooms li", { hasText: "lobby" }).click();
  await bubbles(bob, "hi alice").waitFor();
  await stopConfab();
  await bob.locator("#conn:not([data-state=on])").waitFor({ timeout: 5000 });
  confab = startConfab();
  await waitForPort(confabPort, "confab (restarted)");
  for (const text of ["while you were gone 1", "while you were gone 2"]) {
    const res = await alice.evaluate(async ({ text }) => {
      const token = localStorage.getItem("confab.token");
      const rooms = await (await fetch("/api/v1/users/me/rooms", { headers: { Authorization: `Bearer ${token}` } })).json();
      const r = await fetch(`/api/v1/rooms/${rooms.items[0].id}/messages`, {
        method: "POST",
        headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" },
        body: JSON.stringify({ body: text }),
      });
      return r.status;
    }, { text });
    assert.equal(res, 201);
  }
  await bob.locator("#conn[data-state=on]").waitFor({ timeout: 15000 });
  await send(alice, "after the restart");
  await bubbles(bob, "after the restart").waitFor({ timeout: 10000 });
  for (const text of ["while you were gone 1", "while you were gone 2", "after the restart", "hi alice"]) {
    assert.equal(await bubbles(bob, text).count(), 1, `"${text}" shown exactly once`);
  }
  await alice.locator("#conn[data-state=on]").waitFor({ timeout: 15000 });
});


test("a first direct message shows up for its recipient from the event, even when the conversation list lags", async () => {
  // Every read of Bob's conversation list answers [] in this step, as when
  // the server's conversation index is written after the event went out:
  // Bob's list must show the conversation from the event itself.
  await bob.route("**/api/v1/conversations*", (route) =>
    route.fulfill({ json: { items: [], next_cursor: null } }));
  assert.equal(await bob.locator("#conversations li").count(), 0);

  // Alice looks Bob up by username, sees who he is, and writes.
  await alice.locator("#dm-form input[name=username]").fill("bob");
  await alice.locator("#dm-form button").click();
  const found = alice.locator("#dm-lookup");
  await found.locator(".handle", { hasText: "@bob" }).waitFor();
  await found.locator(".dot.online").waitFor();
  await found.getByRole("button", { name: "Message" }).click();
  await alice.locator("#chat-title", { hasText: "@ Bob" }).waitFor();
  await send(alice, "psst, bob");
  await alice.locator("#conversations li", { hasText: "Bob" }).waitFor();

  // Bob, in the lobby, sees the conversation appear, marked unread.
  const row = bob.locator("#conversations li", { hasText: "Alice" });
  await row.and(bob.locator("li.unread")).waitFor({ timeout: 5000 });
  await row.locator(".handle", { hasText: "@alice" }).waitFor();
  await row.click();
  await bob.locator("#chat-title .handle", { hasText: "@alice" }).waitFor();
  await bubbles(bob, "psst, bob").waitFor();
  await send(bob, "hi, alice");
  await bubbles(alice, "hi, alice").waitFor({ timeout: 5000 });
  assert.equal(await row.count(), 1, "the conversation is still listed, once");
  assert.equal(await bob.locator("#conversations li.unread").count(), 0);
  await bob.unroute("**/api/v1/conversations*");
});

test("a person to message is picked from a room's members, from who is online, or by a lookup", async () => {
  // A member's name in the room's member list opens a conversation with them.
  await alice.locator("#my-rooms li", { hasText: "lobby" }).click();
  await showMembers(alice);
  await alice.locator("#member-list li.me-row", { hasText: "@alice" }).waitFor();
  assert.equal(await alice.locator("#member-list li.me-row button").count(), 0, "no button to message yourself");
  await alice.locator("#member-list li", { hasText: "Bob" }).getByRole("button").click();
  await alice.locator("#chat-title", { hasText: "@ Bob" }).waitFor();
  await send(alice, "found you in the member list");
  await bubbles(bob, "found you in the member list").waitFor({ timeout: 5000 });

  // Bob picks Alice among the people online (himself not among them).
  await bob.locator("#my-rooms li", { hasText: "lobby" }).click();
  await bob.locator("#chat-title", { hasText: "# lobby" }).waitFor();
  await bob.locator("#online-refresh").click();
  const aliceOnline = bob.locator("#online li", { hasText: "@alice" });
  await aliceOnline.locator(".dot.online").waitFor();
  assert.equal(await bob.locator("#online li", { hasText: "@bob" }).count(), 0);
  await aliceOnline.getByRole("button").click();
  await bob.locator("#chat-title", { hasText: "@ Alice" }).waitFor();
  await bubbles(bob, "found you in the member list").waitFor();

  // A username nobody has is said so, and opens nothing.
  await bob.locator("#dm-form input[name=username]").fill("nobody-here");
  await bob.locator("#dm-form button").click();
  await bob.locator("#dm-lookup", { hasText: "No user is called @nobody-here" }).waitFor();
  assert.equal(await bob.locator("#dm-lookup button").count(), 0);
  await bob.locator("#chat-title", { hasText: "@ Alice" }).waitFor();
});

test("a reload reopens the room or conversation that was open, and Back returns to the one before", async () => {
  await bob.locator("#my-rooms li", { hasText: "lobby" }).click();
  await bob.locator("#chat-title", { hasText: "# lobby" }).waitFor();
  await bob.reload();
  await bob.locator("#chat-title", { hasText: "# lobby" }).waitFor();
  await bubbles(bob, "hello from alice").waitFor();
  await bob.locator("#composer").waitFor();
  await bob.locator("#my-rooms li.active", { hasText: "lobby" }).waitFor();

  // Alice is in her conversation with Bob.
  assert.equal(new URL(alice.url()).hash, "#dm/bob");
  await alice.reload();
  await alice.locator("#chat-title", { hasText: "@ Bob" }).waitFor();
  await bubbles(alice, "hi, alice").waitFor();
  await alice.locator("#conversations li.active", { hasText: "Bob" }).waitFor();

  // Back goes to the view before.
  await bob.locator("#conversations li", { hasText: "Alice" }).click();
  await bob.locator("#chat-title", { hasText: "@ Alice" }).waitFor();
  await bob.goBack();
  await bob.locator("#chat-title", { hasText: "# lobby" }).waitFor();
  await bob.locator("#conn[data-state=on]").waitFor();
  await alice.locator("#conn[data-state=on]").waitFor();
});

test("room lists and counts follow joins, leaves and messages live; a room made or joined is listed at once", async () => {
  // Alice makes a room: it tops her rooms and joins the directory at once.
  await alice.locator("#room-form input[name=name]").fill("side");
  await alice.locator("#room-form button").click();
  await alice.locator("#chat-title", { hasText: "# side" }).waitFor();
  await alice.locator("#my-rooms li:first-child.active", { hasText: "side" }).waitFor();
  await alice.locator("#rooms li", { hasText: "side" }).waitFor();
  await alice.locator("#room-stats", { hasText: /^1 member · 0 messages$/ }).waitFor();

  // Bob finds it by name and joins: at once in his rooms, and Alice sees
  // two members in her list and in the room's header.
  await bob.locator("#room-search").fill("side");
  await bob.locator("#room-results li", { hasText: "side" }).click();
  await bob.locator("#chat-title", { hasText: "# side" }).waitFor();
  await bob.locator("#join").click();
  await bob.locator("#my-rooms li:first-child", { hasText: "side" }).waitFor();
  await roomWithCount(bob.locator("#my-rooms"), "side", 2).waitFor();
  await roomWithCount(alice.locator("#my-rooms"), "side", 2).waitFor();
  await alice.locator("#room-stats", { hasText: /^2 members/ }).waitFor();
  await bob.locator("#room-search").fill("");
  await bob.locator("#rooms").waitFor();

  // A message moves its room to the top of the directory (rooms by
  // activity), marked unread where the reader is elsewhere, and counts.
  await bob.locator("#my-rooms li", { hasText: "lobby" }).click();
  await bob.locator("#chat-title", { hasText: "# lobby" }).waitFor();
  await bob.locator("#rooms li:first-child", { hasText: "lobby" }).waitFor();
  await send(alice, "over here");
  await bob.locator("#rooms li:first-child.unread", { hasText: "side" }).waitFor({ timeout: 5000 });
  await alice.locator("#room-stats", { hasText: /· 1 message$/ }).waitFor();
  const messagesIn = async (page) => Number(/(\d+) messages?$/.exec(await page.locator("#room-stats").textContent())[1]);
  const before = await messagesIn(bob);
  await alice.locator("#my-rooms li", { hasText: "lobby" }).click();
  await alice.locator("#chat-title", { hasText: "# lobby" }).waitFor();
  await send(alice, "and back here");
  await bubbles(bob, "and back here").waitFor({ timeout: 5000 });
  await bob.locator("#rooms li:first-child", { hasText: "lobby" }).waitFor();
  await bob.locator("#room-stats", { hasText: new RegExp(`· ${before + 1} messages$`) }).waitFor();

  // Someone joins and leaves the lobby (through the API): the counts and
  // the member panel follow, for both.
  await showMembers(bob);
  const dana = await apiUser("dana");
  const lobbyId = roomIdOf(bob);
  await call(dana.token, "PUT", `/rooms/${lobbyId}/members/me`);
  await bob.locator("#member-list li", { hasText: "@dana" }).waitFor({ timeout: 5000 });
  await bob.locator("#room-stats", { hasText: /^3 members/ }).waitFor();
  await roomWithCount(bob.locator("#my-rooms"), "lobby", 3).waitFor();
  await roomWithCount(bob.locator("#rooms"), "lobby", 3).waitFor();
  await roomWithCount(alice.locator("#my-rooms"), "lobby", 3).waitFor();
  await call(dana.token, "DELETE", `/rooms/${lobbyId}/members/me`);
  await bob.locator("#member-list li", { hasText: "@dana" }).waitFor({ state: "detached", timeout: 5000 });
  await bob.locator("#room-stats", { hasText: /^2 members/ }).waitFor();
  await roomWithCount(alice.locator("#rooms"), "lobby", 2).waitFor();

  // Bob leaves the side room: gone from his rooms at once; Alice sees one member.
  await bob.locator("#rooms li", { hasText: "side" }).click();
  await bob.locator("#leave").click();
  await bob.locator("#join").waitFor();
  assert.equal(await bob.locator("#my-rooms li", { hasText: "side" }).count(), 0);
  await roomWithCount(alice.locator("#my-rooms"), "side", 1).waitFor();
  await roomWithCount(bob.locator("#rooms"), "side", 1).waitFor();
});

test("the notice of what came while away says where, opens it, and never covers Send", async () => {
  const aliceToken = await tokenOf(alice);
  await bob.locator("#my-rooms li", { hasText: "lobby" }).click();
  await bob.locator("#chat-title", { hasText: "# lobby" }).waitFor();
  const lobbyId = roomIdOf(bob);

  // Bob closes his tab; while he is away, three messages in the lobby, one
  // from Alice directly, and a notice from the operators.
  const context = bob.context();
  const hash = new URL(bob.url()).hash;
  await bob.close();
  await until("Bob to be offline", async () => !(await call(aliceToken, "GET", "/users/bob")).online);
  for (const body of ["away 1", "away 2", "away 3"]) {
    await call(aliceToken, "POST", `/rooms/${lobbyId}/messages`, { body });
  }
  await call(aliceToken, "POST", "/users/bob/messages", { body: "are you there?" });
  const notified = await fetch(`${base()}/api/v1/admin/notifications`, {
    method: "POST",
    headers: { "X-Admin-Key": adminKey, "Content-Type": "application/json" },
    body: JSON.stringify({ text: "Maintenance at 22:00", usernames: ["bob"] }),
  });
  assert.equal(notified.status, 202);

  bob = await openPage(context, hash);
  await bob.locator("#chat-title", { hasText: "# lobby" }).waitFor();
  const away = bob.locator("#away");
  await away.filter({ hasText: "3 new in #lobby" }).waitFor({ timeout: 5000 });
  await away.filter({ hasText: "1 from @alice" }).waitFor();
  await away.filter({ hasText: "1 notification" }).waitFor();
  assert.match(await away.textContent(), /While you were away:\s*3 new in #lobby, 1 from @alice, 1 notification/);
  await bob.locator(".toast", { hasText: "Maintenance at 22:00" }).waitFor();
  // The room's count is the server's (the backlog is not counted twice).
  const { message_count } = await call(aliceToken, "GET", `/rooms/${lobbyId}`);
  await bob.locator("#room-stats", { hasText: new RegExp(`· ${message_count} messages$`) }).waitFor();
  // The notices pushed the chat down; it still shows the newest message.
  await bob.waitForFunction(() => {
    const box = document.getElementById("messages").getBoundingClientRect();
    const last = [...document.querySelectorAll("#messages .msg")].at(-1);
    return last?.textContent.includes("away 3") && last.getBoundingClientRect().bottom <= box.bottom + 1;
  }, null, { timeout: 5000 });

  // The notices leave the composer free, on a wide screen and a narrow one.
  await bob.screenshot({ path: join(artifacts, "away.png") });
  await assertSendClickable(bob);
  await bob.setViewportSize({ width: 380, height: 640 });
  await assertSendClickable(bob);
  await bob.setViewportSize({ width: 1200, height: 760 });
  await send(bob, "back now");
  await bubbles(alice, "back now").waitFor({ timeout: 5000 });

  // Its parts open what they name; Dismiss removes it.
  await away.getByRole("button", { name: "1 from @alice" }).click();
  await bob.locator("#chat-title", { hasText: "@ Alice" }).waitFor();
  await bubbles(bob, "are you there?").waitFor();
  await away.getByRole("button", { name: "3 new in #lobby" }).click();
  await bob.locator("#chat-title", { hasText: "# lobby" }).waitFor();
  await bubbles(bob, "away 3").waitFor();
  await bob.locator("#away-dismiss").click();
  await away.waitFor({ state: "hidden" });
  await bob.locator("#conn[data-state=on]").waitFor();
});

let gardenId, erin; // a room of Alice's that Bob joins, and a third user there (API only)
/** How long something sent may take to show on the other screen. */
const LIVE = 10000;

test("unread badges come from the server, count live, clear when read (here or on another device), and survive reloads", async () => {
  const bobToken = await tokenOf(bob);
  await openRoomIn(bob, "lobby");

  // Alice makes a room; Bob joins it from another device (the API) and
  // stays in the lobby.
  await alice.locator("#room-form input[name=name]").fill("garden");
  await alice.locator("#room-form button").click();
  await alice.locator("#chat-title", { hasText: "# garden" }).waitFor();
  gardenId = roomIdOf(alice);
  await call(bobToken, "PUT", `/rooms/${gardenId}/members/me`);
  const myRooms = bob.locator("#my-rooms");
  const conversations = bob.locator("#conversations");
  await myRooms.locator("li", { hasText: "garden" }).waitFor({ timeout: LIVE });
  assert.equal(await shownBadges(myRooms, "garden"), 0);

  // Alice writes in the garden: Bob's badge counts each message live.
  await send(alice, "first in the garden");
  await unreadBadge(myRooms, "garden", "1").waitFor({ timeout: LIVE });
  await send(alice, "second in the garden");
  await unreadBadge(myRooms, "garden", "2").waitFor({ timeout: LIVE });
  assert.equal(await shownBadges(myRooms, "lobby"), 0, "the open room gets no badge");

  // A hundred more (from Erin): the badge stops at "99+".
  erin = await apiUser("erin");
  await call(erin.token, "PUT", `/rooms/${gardenId}/members/me`);
  await inParallel(Array.from({ length: 100 }, (_, i) => i), 8, (i) =>
    call(erin.token, "POST", `/rooms/${gardenId}/messages`, { body: `busy ${i}` }));
  await unreadBadge(myRooms, "garden", "99+").waitFor({ timeout: 10000 });

  // Alice writes to Bob directly: his conversation with her counts too.
  await alice.locator("#conversations li", { hasText: "Bob" }).click();
  await alice.locator("#chat-title", { hasText: "@ Bob" }).waitFor();
  await send(alice, "dm one");
  await unreadBadge(conversations, "Alice", "1").waitFor({ timeout: LIVE });
  await send(alice, "dm two");
  await unreadBadge(conversations, "Alice", "2").waitFor({ timeout: LIVE });

  // The counts are the server's: a reload shows them again.
  await bob.reload();
  await bob.locator("#chat-title", { hasText: "# lobby" }).waitFor();
  await unreadBadge(myRooms, "garden", "99+").waitFor();
  await unreadBadge(conversations, "Alice", "2").waitFor();
  assert.equal((await myRoom(bobToken, gardenId)).unread_count, 100);

  // Opening the room and the conversation clears their badges, and the
  // server learns it (the marker is at the newest message shown).
  await openRoomIn(bob, "garden");
  await bubbles(bob, "busy 99").waitFor();
  await myRooms.locator("li", { hasText: "garden" }).locator(".badge:not([hidden])").waitFor({ state: "detached" });
  const newestInGarden = await bob.locator(".msg").last().getAttribute("data-id");
  await until("Bob's marker in the garden on the server", async () => {
    const room = await myRoom(bobToken, gardenId);
    return room.unread_count === 0 && room.last_read_id === newestInGarden;
  });
  await conversations.locator("li", { hasText: "Alice" }).click();
  await bob.locator("#chat-title", { hasText: "@ Alice" }).waitFor();
  await bubbles(bob, "dm two").waitFor();
  await conversations.locator("li", { hasText: "Alice" }).locator(".badge:not([hidden])").waitFor({ state: "detached" });
  await until("Bob's marker in the conversation on the server", async () =>
    (await myConversation(bobToken, "alice")).unread_count === 0);

  // While a view is open and seen, what arrives in it is read at once.
  await send(alice, "dm three");
  await bubbles(bob, "dm three").waitFor({ timeout: LIVE });
  const dmThree = await message(bob, "dm three").getAttribute("data-id");
  await until("the marker to follow the live message", async () =>
    (await myConversation(bobToken, "alice")).last_read_id === dmThree);
  assert.equal(await shownBadges(conversations, "Alice"), 0);

  // Elsewhere, then a reload: both stay read (the server says so).
  await openRoomIn(bob, "lobby");
  await bob.reload();
  await bob.locator("#chat-title", { hasText: "# lobby" }).waitFor();
  await myRooms.locator("li", { hasText: "garden" }).waitFor();
  await conversations.locator("li", { hasText: "Alice" }).waitFor();
  await bob.locator("#conn[data-state=on]").waitFor();
  assert.equal(await shownBadges(myRooms, "garden"), 0);
  assert.equal(await shownBadges(conversations, "Alice"), 0);

  // Read on another device (here the API): the badge clears here too.
  await call(erin.token, "POST", `/rooms/${gardenId}/messages`, { body: "one more" });
  await unreadBadge(myRooms, "garden", "1").waitFor({ timeout: LIVE });
  const history = await call(bobToken, "GET", `/rooms/${gardenId}/messages?limit=1`);
  await call(bobToken, "PUT", `/rooms/${gardenId}/read`, { message_id: history.messages[0].id });
  await myRooms.locator("li", { hasText: "garden" }).locator(".badge:not([hidden])").waitFor({ state: "detached", timeout: LIVE });
});

test("typing shows under the messages for the others, sent once per burst of keys, gone when the message arrives", async () => {
  await openRoomIn(alice, "garden");
  await openRoomIn(bob, "garden");
  await bubbles(bob, "one more").waitFor();
  const typing = bob.locator("#typing");
  assert.equal(await typing.textContent(), "");

  // Alice types a line key by key: one notice goes, Bob sees it.
  const notices = [];
  const onRequest = (req) => { if (req.url().endsWith("/typing")) notices.push(req.method()); };
  alice.on("request", onRequest);
  await alice.locator("#body").pressSequentially("hello garden", { delay: 10 });
  await typing.filter({ hasText: /^@alice is typing…$/ }).waitFor({ timeout: LIVE });
  alice.off("request", onRequest);
  assert.deepEqual(notices, ["POST"], "one typing notice for a burst of keystrokes");
  assert.equal(await alice.locator("#typing").textContent(), "", "nobody is shown their own typing");

  // Erin starts typing too: both are named.
  await call(erin.token, "POST", `/rooms/${gardenId}/typing`);
  await typing.filter({ hasText: /^@(alice and @erin|erin and @alice) are typing…$/ }).waitFor({ timeout: LIVE });

  // Alice's message ends her notice as it arrives; Erin's runs out by itself.
  await alice.locator("#body").press("Enter");
  await bubbles(bob, "hello garden").waitFor({ timeout: LIVE });
  assert.equal(await typing.textContent(), "@erin is typing…");
  await typing.filter({ hasText: /^$/ }).waitFor({ timeout: 8000 });

  // In a conversation too.
  await alice.locator("#conversations li", { hasText: "Bob" }).click();
  await alice.locator("#chat-title", { hasText: "@ Bob" }).waitFor();
  await bob.locator("#conversations li", { hasText: "Alice" }).click();
  await bob.locator("#chat-title", { hasText: "@ Alice" }).waitFor();
  await alice.locator("#body").fill("are you typing too?");
  await typing.filter({ hasText: /^@alice is typing…$/ }).waitFor({ timeout: LIVE });
  await alice.locator("#body").press("Enter");
  await bubbles(bob, "are you typing too?").waitFor({ timeout: LIVE });
  assert.equal(await typing.textContent(), "");
});

test("the sender edits and deletes their messages in place; everyone sees it live; nobody else gets the controls", async () => {
  await openRoomIn(alice, "garden");
  await openRoomIn(bob, "garden");
  await send(alice, "a mesage with a typo");
  await bubbles(bob, "a mesage with a typo").waitFor({ timeout: LIVE });
  const id = await message(bob, "a mesage with a typo").getAttribute("data-id");
  const bobs = bob.locator(`.msg[data-id="${id}"]`);
  const alices = alice.locator(`.msg[data-id="${id}"]`);

  // Only the sender has Edit and Delete.
  await alices.getByRole("button", { name: "Edit message" }).waitFor();
  await alices.getByRole("button", { name: "Delete message" }).waitFor();
  assert.equal(await bob.locator(".msg", { has: bob.locator(".handle", { hasText: "@alice" }) }).getByRole("button").count(), 0,
    "Bob has no controls on Alice's messages");
  assert.equal(await bob.locator(".msg:not(.mine) .actions").count(), 0);

  // Alice fixes it from the keyboard (the controls are buttons; Enter saves).
  await alices.getByRole("button", { name: "Edit message" }).focus();
  await alice.keyboard.press("Enter");
  const editor = alices.locator("textarea");
  await editor.fill("a message without a typo");
  await editor.press("Enter");
  await alices.locator(".edited", { hasText: "(edited)" }).waitFor();

  // Bob sees the new text in its place, marked edited, without reloading.
  await bobs.locator(".text", { hasText: /^a message without a typo$/ }).waitFor({ timeout: LIVE });
  await bobs.locator(".edited", { hasText: "(edited)" }).waitFor();
  assert.equal(await bubbles(bob, "a mesage with a typo").count(), 0);

  // Escape cancels an edit; a blank one is refused with the server's reason.
  await alices.getByRole("button", { name: "Edit message" }).click();
  await editor.fill("never mind");
  await editor.press("Escape");
  await alices.locator(".text", { hasText: /^a message without a typo$/ }).waitFor();
  await alices.getByRole("button", { name: "Edit message" }).click();
  await editor.fill("   ");
  await editor.press("Enter");
  await alice.locator("#error", { hasText: "must not be only whitespace" }).waitFor();
  await editor.press("Escape");
  await bobs.locator(".text", { hasText: /^a message without a typo$/ }).waitFor();

  // Alice deletes one, after confirming: Bob sees "message deleted" in its place.
  await send(alice, "delete me");
  await bubbles(bob, "delete me").waitFor({ timeout: LIVE });
  const goneId = await message(bob, "delete me").getAttribute("data-id");
  const gone = alice.locator(`.msg[data-id="${goneId}"]`);
  await gone.getByRole("button", { name: "Delete message" }).click();
  await gone.getByRole("button", { name: "Yes, delete the message" }).click();
  await bob.locator(`.msg[data-id="${goneId}"] .text.deleted`, { hasText: /^message deleted$/ }).waitFor({ timeout: LIVE });
  assert.equal(await bubbles(bob, "delete me").count(), 0);
  await gone.locator(".text.deleted").waitFor();
  assert.equal(await gone.getByRole("button").count(), 0, "a deleted message has no controls");
  await send(alice, "still here");
  await bubbles(bob, "still here").waitFor({ timeout: LIVE });

  // The picture for the README: Bob in the room, with an edit, a delete,
  // his own message's controls, someone typing and unread messages elsewhere.
  const lobbyId = await bob.locator("#my-rooms li", { hasText: "lobby" }).getAttribute("data-room");
  await call(await tokenOf(alice), "POST", `/rooms/${lobbyId}/messages`, { body: "lunch?" });
  await call(erin.token, "POST", "/users/bob/messages", { body: "got a minute?" });
  await unreadBadge(bob.locator("#my-rooms"), "lobby", "1").waitFor({ timeout: LIVE });
  await unreadBadge(bob.locator("#conversations"), "Erin", "1").waitFor({ timeout: LIVE });
  await send(bob, "lovely, thanks");
  await message(bob, "lovely, thanks").hover();
  await message(bob, "lovely, thanks").getByRole("button", { name: "Edit message" }).waitFor();
  await call(erin.token, "POST", `/rooms/${gardenId}/typing`);
  await bob.locator("#typing", { hasText: "@erin is typing…" }).waitFor({ timeout: LIVE });
  await bob.screenshot({ path: join(artifacts, "chat.png") });

  // History says the same after a reload.
  await bob.reload();
  await bob.locator(`.msg[data-id="${id}"] .edited`).waitFor();
  await bob.locator(`.msg[data-id="${goneId}"] .text.deleted`).waitFor();

  // In a conversation too: Alice edits a direct message Bob has open.
  await bob.locator("#conversations li", { hasText: "Alice" }).click();
  await bob.locator("#chat-title", { hasText: "@ Alice" }).waitFor();
  await alice.locator("#conversations li", { hasText: "Bob" }).click();
  await alice.locator("#chat-title", { hasText: "@ Bob" }).waitFor();
  const dmTwo = alice.locator(`.msg[data-id="${await message(alice, "dm two").getAttribute("data-id")}"]`);
  await dmTwo.getByRole("button", { name: "Edit message" }).click();
  await dmTwo.locator("textarea").fill("dm two, edited");
  await alice.keyboard.press("Enter");
  await message(bob, "dm two, edited").locator(".edited").waitFor({ timeout: LIVE });
  await bob.locator("#conn[data-state=on]").waitFor();
});

test("rooms beyond the first page are found by search and by paging, and your rooms page too", async () => {
  // Carol makes an empty room, then 101 rooms with a message each: the empty
  // one is then on neither list's first page (100 rooms), whether by
  // activity (rooms with messages come first) or by creation.
  const carol = await apiUser("carol");
  const needle = await call(carol.token, "POST", "/rooms", { name: "needle-in-the-haystack" });
  const names = Array.from({ length: 101 }, (_, i) => `hay-${String(i).padStart(3, "0")}`);
  await inParallel(names, 8, async (name) => {
    const room = await call(carol.token, "POST", "/rooms", { name });
    await call(carol.token, "POST", `/rooms/${room.id}/messages`, { body: `straw in ${name}` });
  });

  // Search finds it (paging through the directory behind the scenes).
  await bob.locator("#room-search").fill("NEEDLE");
  const result = bob.locator("#room-results li", { hasText: "needle-in-the-haystack" });
  await result.waitFor();
  await bob.locator("#search-status", { hasText: /^1 room found \(all 1\d\d rooms searched\)\.$/ }).waitFor();
  assert.equal(await bob.locator("#room-results li").count(), 1);
  await result.click();
  await bob.locator("#chat-title", { hasText: "# needle-in-the-haystack" }).waitFor();
  await bob.locator("#join").waitFor();
  await bob.locator("#room-search").fill("");
  await bob.locator("#room-results").waitFor({ state: "hidden" });

  // The directory shows 100 rooms, then the next page on demand.
  await bob.reload();
  await bob.locator("#chat-title", { hasText: "# needle-in-the-haystack" }).waitFor();
  await until("the directory's first page", async () => (await bob.locator("#rooms li").count()) === 100);
  assert.equal(await bob.locator("#rooms li", { hasText: "needle" }).count(), 0);
  await bob.locator("#rooms-more").click();
  await bob.locator("#rooms li.active", { hasText: "needle-in-the-haystack" }).waitFor();
  await bob.locator("#rooms-more").waitFor({ state: "hidden" });
  await bob.locator("#join").click();
  await bob.locator("#my-rooms li:first-child", { hasText: "needle-in-the-haystack" }).waitFor();

  // Carol, signing in from a link to the room, lands in it; her own rooms
  // (102) show 100, then the rest, oldest joined (the needle) last.
  const context = await browser.newContext({ viewport: { width: 1200, height: 760 } });
  const page = await openPage(context, `#room/${needle.id}`);
  await page.locator("#login-form input[name=username]").fill("carol");
  await page.locator("#login-form input[name=password]").fill("carol-password");
  await page.locator("#login-form button[type=submit]").click();
  await page.locator("#chat-title", { hasText: "# needle-in-the-haystack" }).waitFor();
  await page.locator("#composer").waitFor();
  await until("Carol's first page of rooms", async () => (await page.locator("#my-rooms li").count()) === 100);
  assert.equal(await page.locator("#my-rooms li", { hasText: "needle" }).count(), 0);
  await page.locator("#my-rooms-more").click();
  await page.locator("#my-rooms li:last-child.active", { hasText: "needle-in-the-haystack" }).waitFor();
  assert.equal(await page.locator("#my-rooms li").count(), 102);
  await context.close();

  await bob.screenshot({ path: join(artifacts, "rooms.png") });
});

/**
 * An HTTP receiver for webhooks on a free port of 127.0.0.1. It records
 * every request (path, headers, raw body) and answers 204, or 503 to the
 * first request to a path given to `failOnce`.
 */
function startReceiver() {
  const requests = [];
  const failing = new Set();
  const server = createHttpServer((req, res) => {
    const chunks = [];
    req.on("data", (chunk) => chunks.push(chunk));
    req.on("end", () => {
      const body = Buffer.concat(chunks);
      requests.push({ path: req.url, headers: req.headers, body, text: body.toString("utf8") });
      if (failing.delete(req.url)) {
        res.writeHead(503, { "Content-Type": "text/plain" });
        res.end("not ready yet");
      } else {
        res.writeHead(204);
        res.end();
      }
    });
  });
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve({
      url: (path) => `http://127.0.0.1:${server.address().port}${path}`,
      /** The requests that came to `path`, in order. */
      to: (path) => requests.filter((r) => r.path === path),
      failOnce: (path) => failing.add(path),
      close: () => new Promise((done) => {
        server.closeAllConnections(); // confab keeps its connections open
        server.close(done);
      }),
    }));
  });
}

/** Whether `header` (`Confab-Signature: t=<t>,v1=<hex>`) signs `body` (the
 *  raw bytes) with `secret`: HMAC-SHA256 of "<t>.<body>", with a recent `t`. */
function signedWith(secret, header, body) {
  const fields = Object.fromEntries(String(header).split(",").map((part) => part.split("=", 2)));
  if (!/^\d+$/.test(fields.t ?? "") || !/^[0-9a-f]{64}$/.test(fields.v1 ?? "")) return false;
  if (Math.abs(Date.now() / 1000 - Number(fields.t)) > 300) return false;
  const expected = createHmac("sha256", secret).update(`${fields.t}.`).update(body).digest();
  return timingSafeEqual(expected, Buffer.from(fields.v1, "hex"));
}

/** Whether `text` is anywhere in the page: shown, in the markup, in a
 *  field's value, or in the page's storage. */
function pageHolds(page, text) {
  return page.evaluate((text) => document.body.innerText.includes(text)
    || document.documentElement.outerHTML.includes(text)
    || [...document.querySelectorAll("input, textarea")].some((field) => field.value.includes(text))
    || JSON.stringify({ ...localStorage }).includes(text)
    || JSON.stringify({ ...sessionStorage }).includes(text), text);
}

/** Clicks the webhook panel's Refresh and waits for the list to be read. */
async function refreshWebhooks(page) {
  await page.getByRole("button", { name: "Refresh the webhooks" }).click();
  await page.locator("#webhook-list[aria-busy=false]").waitFor({ state: "attached" });
}

const webhooksButton = (page) => page.getByRole("button", { name: "Webhooks", exact: true });

test("a room's members list, add and delete its webhooks; messages reach the receiver, signed with the secret shown once", async () => {
  receiver = await startReceiver();
  const aliceUrl = receiver.url("/alice-hook");
  const bobUrl = receiver.url("/bob-hook");

  // Alice makes a room for bots; Bob joins it (from another device: the API).
  await alice.locator("#room-form input[name=name]").fill("bots");
  await alice.locator("#room-form button").click();
  await alice.locator("#chat-title", { hasText: "# bots" }).waitFor();
  const botsId = roomIdOf(alice);
  await call(await tokenOf(bob), "PUT", `/rooms/${botsId}/members/me`);

  // Her webhook panel opens beside the chat: none yet.
  const panel = alice.locator("#webhooks");
  await webhooksButton(alice).click();
  await panel.locator("#webhooks-empty", { hasText: "No webhooks in this room." }).waitFor();
  assert.equal(await webhooksButton(alice).getAttribute("aria-expanded"), "true");
  const form = panel.locator("#webhook-form");
  const urlField = form.getByLabel("URL", { exact: true });
  const secretBox = panel.locator("#webhook-secret");

  // A URL that is not http(s) is refused, with the server's reason.
  await urlField.fill("ftp://example.com");
  await form.getByRole("button", { name: "Add webhook" }).click();
  await form.getByRole("alert").filter({ hasText: "must be an http or https URL" }).waitFor();
  assert.equal(await urlField.getAttribute("aria-invalid"), "true");
  assert.equal(await panel.locator("#webhook-list li").count(), 0);
  assert.equal(await secretBox.isHidden(), true);

  // Alice adds one for the receiver (which turns the first delivery away,
  // to show a failed attempt): the secret is shown once, with Copy.
  receiver.failOnce("/alice-hook");
  await urlField.fill(aliceUrl);
  await form.getByLabel("Description").fill("deploy bot");
  await form.getByRole("button", { name: "Add webhook" }).click();
  await secretBox.filter({ hasText: "It will not be shown again" }).waitFor();
  await secretBox.filter({ hasText: `For ${aliceUrl} in # bots` }).waitFor();
  const secret = await secretBox.getByLabel("Signing secret").inputValue();
  assert.match(secret, /^whsec_[0-9a-f]{64}$/);
  assert.equal(await form.getByRole("alert").isHidden(), true, "the earlier error is gone");
  await alice.context().grantPermissions(["clipboard-read", "clipboard-write"], { origin: base() });
  await secretBox.getByRole("button", { name: "Copy" }).click();
  await secretBox.getByRole("status").filter({ hasText: "Copied" }).waitFor();
  assert.equal(await alice.evaluate(() => navigator.clipboard.readText()), secret);

  // The list shows the webhook, not its secret.
  const aliceRow = panel.locator("#webhook-list li", { hasText: aliceUrl });
  await aliceRow.locator(".desc", { hasText: /^deploy bot$/ }).waitFor();
  await aliceRow.locator(".counts", { hasText: /^0 delivered · 0 pending · 0 failed$/ }).waitFor();
  await aliceRow.locator(".added", { hasText: /by you$/ }).waitFor();
  assert.equal(await panel.locator("#webhook-list li").count(), 1);
  assert.equal((await aliceRow.textContent()).includes(secret), false);
  const hookId = await aliceRow.getAttribute("data-webhook");

  // Once she has copied it, it is gone from the page; a reload does not bring it back.
  await secretBox.getByRole("button", { name: "I have copied it" }).click();
  await secretBox.waitFor({ state: "hidden" });
  assert.equal(await pageHolds(alice, secret), false, "the secret is gone once copied");
  await alice.reload();
  await alice.locator("#chat-title", { hasText: "# bots" }).waitFor();
  await webhooksButton(alice).click();
  await aliceRow.waitFor();
  assert.equal(await secretBox.isHidden(), true);
  assert.equal(await pageHolds(alice, secret), false, "no secret after a reload");

  // A message in the room reaches the receiver: the first attempt is turned
  // away and retried with the same delivery id, each signed with the secret
  // Alice was shown.
  await alice.locator("#conn[data-state=on]").waitFor();
  await send(alice, "ship it");
  const attempts = await until("the delivery and its retry", () => {
    const got = receiver.to("/alice-hook");
    return got.length >= 2 && got;
  }, 15000);
  for (const r of attempts) {
    const body = JSON.parse(r.text);
    assert.equal(body.type, "message");
    assert.equal(body.webhook_id, hookId);
    assert.equal(body.message.body, "ship it");
    assert.equal(body.message.room_id, botsId);
    assert.equal(body.message.sender.username, "alice");
    assert.equal(r.headers["content-type"], "application/json");
    assert.equal(r.headers["confab-webhook-id"], hookId);
    assert.ok(signedWith(secret, r.headers["confab-signature"], r.body), `${r.headers["confab-signature"]} verifies with the secret`);
  }
  assert.equal(attempts[0].headers["confab-delivery-id"], attempts[1].headers["confab-delivery-id"], "a retry keeps its delivery id");
  assert.equal(signedWith(`whsec_${"0".repeat(64)}`, attempts[0].headers["confab-signature"], attempts[0].body), false,
    "another secret does not verify");

  // Refreshed, her panel counts the delivery, with its time and the
  // turned-away attempt's error.
  await until("the delivery counted in Alice's panel", async () => {
    await refreshWebhooks(alice);
    return /^[1-9]\d* delivered · 0 pending · 0 failed$/.test(await aliceRow.locator(".counts").textContent());
  });
  await aliceRow.locator(".last-delivered time").waitFor();
  await aliceRow.locator(".last-error", { hasText: "HTTP 503: not ready yet" }).waitFor();
  await alice.screenshot({ path: join(artifacts, "webhooks.png") });

  // Bob, the other member, sees it in his panel, without the secret.
  await openRoomIn(bob, "bots");
  const bobPanel = bob.locator("#webhooks");
  await webhooksButton(bob).click();
  await bobPanel.waitFor();
  assert.equal(await bob.locator("#members").isHidden(), true, "the panels take turns");
  const bobsView = bobPanel.locator("#webhook-list li", { hasText: aliceUrl });
  await bobsView.locator(".desc", { hasText: /^deploy bot$/ }).waitFor();
  await bobsView.locator(".delivered", { hasText: /^[1-9]\d* delivered$/ }).waitFor();
  assert.equal(await bobsView.locator(".added", { hasText: "by you" }).count(), 0);
  assert.equal(await bobPanel.locator("#webhook-secret").isHidden(), true);
  assert.equal(await pageHolds(bob, secret), false);

  // He adds one of his own (to show that deleting a webhook stops only its
  // deliveries). Closing the panel takes its secret away.
  await bobPanel.getByLabel("URL", { exact: true }).fill(bobUrl);
  await bobPanel.getByRole("button", { name: "Add webhook" }).click();
  const bobSecretBox = bobPanel.locator("#webhook-secret");
  await bobSecretBox.filter({ hasText: "It will not be shown again" }).waitFor();
  const bobSecret = await bobSecretBox.getByLabel("Signing secret").inputValue();
  assert.match(bobSecret, /^whsec_[0-9a-f]{64}$/);
  assert.notEqual(bobSecret, secret);
  await bob.screenshot({ path: join(artifacts, "webhook-secret.png") });
  await bobPanel.locator("#webhook-list li:first-child", { hasText: bobUrl }).waitFor(); // newest first
  await webhooksButton(bob).click();
  await bobPanel.waitFor({ state: "hidden" });
  await webhooksButton(bob).click();
  await bobPanel.locator("#webhook-list li", { hasText: bobUrl }).waitFor();
  assert.equal(await bobSecretBox.isHidden(), true, "the secret's box is gone after closing the panel");
  assert.equal(await pageHolds(bob, bobSecret), false, "closing the panel drops the secret");

  // Bob deletes Alice's webhook, confirming in place (Cancel keeps it).
  const deleteAlices = bobsView.getByRole("button", { name: `Delete webhook ${aliceUrl}` });
  await deleteAlices.click();
  await bobsView.getByText("Delete this webhook?").waitFor();
  await bobsView.getByRole("button", { name: "Cancel" }).click();
  await deleteAlices.click();
  await bobsView.getByRole("button", { name: "Yes, delete the webhook" }).click();
  await bobsView.waitFor({ state: "detached" });
  await bobPanel.locator("#webhook-list li", { hasText: bobUrl }).waitFor();

  // The next message reaches Bob's webhook, and not the deleted one.
  const toAlicesHook = receiver.to("/alice-hook").length;
  await send(alice, "after the delete");
  const [bobs] = await until("Bob's webhook to receive the message", () => {
    const got = receiver.to("/bob-hook");
    return got.length > 0 && got;
  });
  assert.equal(JSON.parse(bobs.text).message.body, "after the delete");
  assert.ok(signedWith(bobSecret, bobs.headers["confab-signature"], bobs.body));
  assert.equal(receiver.to("/alice-hook").length, toAlicesHook, "nothing more reaches the deleted webhook");

  // Alice's panel, refreshed, has only Bob's; she deletes it. Both lists
  // are then empty.
  await refreshWebhooks(alice);
  await aliceRow.waitFor({ state: "detached" });
  const bobsHook = panel.locator("#webhook-list li", { hasText: bobUrl });
  await bobsHook.getByRole("button", { name: /^Delete webhook/ }).click();
  await bobsHook.getByRole("button", { name: "Yes, delete the webhook" }).click();
  await panel.locator("#webhooks-empty").waitFor();
  for (const page of [alice, bob]) {
    await refreshWebhooks(page);
    await page.locator("#webhooks-empty", { hasText: "No webhooks in this room." }).waitFor();
    assert.equal(await page.locator("#webhook-list li").count(), 0);
  }
  assert.deepEqual((await call(await tokenOf(alice), "GET", `/rooms/${botsId}/webhooks`)).items, []);
});
