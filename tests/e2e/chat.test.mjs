// End-to-end test of the web client in headless Chromium: a real confab
// (the debug binary `cargo build` made) and a real redis-server, both
// started here on free ports, driven through two browser contexts.
//
// Run with `npm test` in this folder (scripts/test.sh does, after building
// confab and installing chromium and playwright-core). Fails loudly when the
// browser cannot start; it never skips.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, mkdirSync, rmSync } from "node:fs";
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
  redis?.kill("SIGKILL");
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

/** A signed-in user in a browser context of their own. */
async function userPage(name) {
  const context = await browser.newContext({ viewport: { width: 1200, height: 760 } });
  const page = await context.newPage();
  page.on("dialog", async (dialog) => {
    await dialog.dismiss();
    throw new Error(`a dialog opened: ${dialog.message()} (script injection?)`);
  });
  await page.goto(`http://127.0.0.1:${confabPort}/`);
  const form = page.locator("#register-form");
  await form.locator("input[name=username]").fill(name);
  await form.locator("input[name=display_name]").fill(name[0].toUpperCase() + name.slice(1));
  await form.locator("input[name=password]").fill(`${name}-password`);
  await form.locator("button[type=submit]").click();
  await page.locator("#conn[data-state=on]").waitFor({ timeout: 10000 });
  return page;
}

async function send(page, text) {
  await page.locator("#body").fill(text);
  await page.locator("#body").press("Enter");
}

/** The message bubbles whose text is exactly `text`. */
function bubbles(page, text) {
  return page.locator(".msg .text", { hasText: text }).filter({ hasText: new RegExp(`^${text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}$`) });
}

test("two users chat in a room, live, across reloads, directly, safely, and through a dropped stream", async () => {
  const alice = await userPage("alice");
  const bob = await userPage("bob");

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

  // A direct message arrives live.
  await bob.locator("#dm-form input[name=username]").fill("alice");
  await bob.locator("#dm-form button").click();
  await bob.locator("#chat-title", { hasText: "@ Alice" }).waitFor();
  await alice.locator("#dm-form input[name=username]").fill("bob");
  await alice.locator("#dm-form button").click();
  await alice.locator("#chat-title", { hasText: "@ Bob" }).waitFor();
  await send(alice, "psst, bob");
  await bubbles(bob, "psst, bob").waitFor({ timeout: 5000 });
  await bob.locator("#conversations li", { hasText: "Alice" }).locator(".handle", { hasText: "@alice" }).waitFor();
  await bob.locator("#chat-title .handle", { hasText: "@alice" }).waitFor();

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

  await bob.screenshot({ path: join(artifacts, "chat.png") });
});
