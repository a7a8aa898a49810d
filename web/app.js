// confab's web client: plain JavaScript over the public API only, the same
// one mobile apps and generated SDKs use. It is also the living example of
// using that API correctly:
// - every user-supplied string is rendered with textContent, never as HTML;
// - display names are not unique, so the @username is shown beside each one
//   wherever people could be mistaken for each other;
// - errors show the problem document's `detail`;
// - the event stream is opened with a short-lived ticket; when it drops, the
//   client gets a fresh ticket and reconnects with `last_event_id`, and
//   messages are de-duplicated by id, so nothing is missed or shown twice.
"use strict";

const API = "/api/v1";
const $ = (id) => document.getElementById(id);

const state = {
  token: localStorage.getItem("confab.token"),
  user: null,
  view: null,          // {kind: "room", id, name, member} | {kind: "dm", username, name}
  shown: new Set(),    // message ids rendered in the current view
  oldest: null,        // id of the oldest message shown (for `before`)
  hasMore: false,
  loadingOlder: false,
  lastEventId: null,   // where the stream stopped, for resume
  events: null,        // the EventSource
  retryDelay: 500,
  myRooms: new Set(),
};

// ---------------------------------------------------------------- the API

class ApiError extends Error {
  constructor(problem, status) {
    super(problem.detail || problem.title || `HTTP ${status}`);
    this.code = problem.code;
    this.status = status;
  }
}

async function api(method, path, body) {
  const headers = {};
  if (state.token) headers.Authorization = `Bearer ${state.token}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const res = await fetch(API + path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (res.status === 204) return null;
  const data = await res.json().catch(() => ({}));
  if (!res.ok) {
    if (res.status === 401 && state.token && path !== "/auth/login") signedOut();
    throw new ApiError(data, res.status);
  }
  return data;
}

function showError(err) {
  const box = $("error");
  box.textContent = err instanceof Error ? err.message : String(err);
  box.hidden = false;
  clearTimeout(showError.timer);
  showError.timer = setTimeout(() => (box.hidden = true), 6000);
}

/** Runs an action, showing its error (the problem `detail`) in place. */
function guarded(fn) {
  return async (...args) => {
    try {
      $("error").hidden = true;
      await fn(...args);
    } catch (err) {
      showError(err);
    }
  };
}

function toast(text) {
  const el = document.createElement("div");
  el.className = "toast";
  el.textContent = text;
  $("toasts").append(el);
  setTimeout(() => el.remove(), 6000);
}

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

/** The `@username` shown beside a display name (which anyone may copy). */
function handle(username) {
  return el("span", "handle", `@${username}`);
}

// ---------------------------------------------------------- sign in / out

async function signedIn(token) {
  state.token = token;
  localStorage.setItem("confab.token", token);
  state.user = await api("GET", "/users/me");
  $("me").textContent = `${state.user.display_name} (@${state.user.username})`;
  $("me").hidden = $("logout").hidden = false;
  $("auth").hidden = true;
  $("app").hidden = false;
  await Promise.all([loadRooms(), loadConversations()]);
  connect();
}

function signedOut() {
  state.token = null;
  state.user = null;
  localStorage.removeItem("confab.token");
  if (state.events) state.events.close();
  state.events = null;
  setConn("off");
  $("app").hidden = true;
  $("me").hidden = $("logout").hidden = true;
  $("auth").hidden = false;
}

$("login-form").addEventListener("submit", guarded(async (e) => {
  e.preventDefault();
  const f = new FormData(e.target);
  const res = await api("POST", "/auth/login", { username: f.get("username"), password: f.get("password") });
  e.target.reset();
  await signedIn(res.access_token);
}));

$("register-form").addEventListener("submit", guarded(async (e) => {
  e.preventDefault();
  const f = new FormData(e.target);
  const body = { username: f.get("username"), password: f.get("password") };
  if (f.get("display_name")) body.display_name = f.get("display_name");
  await api("POST", "/auth/register", body);
  const res = await api("POST", "/auth/login", { username: body.username, password: body.password });
  e.target.reset();
  await signedIn(res.access_token);
}));

$("logout").addEventListener("click", guarded(async () => {
  try { await api("POST", "/auth/logout"); } finally { signedOut(); }
}));

// ------------------------------------------------------------ side lists

async function loadRooms() {
  const [all, mine] = await Promise.all([
    api("GET", "/rooms?sort=active&limit=100"),
    api("GET", "/users/me/rooms?limit=100"),
  ]);
  state.myRooms = new Set(mine.items.map((r) => r.id));
  const list = $("rooms");
  list.replaceChildren();
  for (const room of all.items) {
    const li = el("li");
    li.dataset.room = room.id;
    li.append(el("span", "name", `# ${room.name}`), el("span", "sub", String(room.member_count)));
    if (state.view?.kind === "room" && state.view.id === room.id) li.classList.add("active");
    li.addEventListener("click", guarded(() => openRoom(room)));
    list.append(li);
  }
}

async function loadConversations() {
  const page = await api("GET", "/conversations?limit=100");
  const list = $("conversations");
  list.replaceChildren();
  for (const c of page.items) {
    const li = el("li");
    li.dataset.user = c.user.username;
    li.append(
      el("span", `dot${c.user.online ? " online" : ""}`),
      el("span", "name", c.user.display_name),
      handle(c.user.username),
    );
    if (state.view?.kind === "dm" && state.view.username === c.user.username) li.classList.add("active");
    li.addEventListener("click", guarded(() => openDm(c.user.username, c.user.display_name)));
    list.append(li);
  }
}

function markUnread(selector) {
  const li = document.querySelector(selector);
  if (li && !li.classList.contains("active")) li.classList.add("unread");
}

$("room-form").addEventListener("submit", guarded(async (e) => {
  e.preventDefault();
  const room = await api("POST", "/rooms", { name: new FormData(e.target).get("name") });
  e.target.reset();
  state.myRooms.add(room.id);
  await loadRooms();
  await openRoom(room);
}));

$("dm-form").addEventListener("submit", guarded(async (e) => {
  e.preventDefault();
  const username = new FormData(e.target).get("username").trim();
  const user = await api("GET", `/users/${encodeURIComponent(username)}`);
  e.target.reset();
  await openDm(user.username, user.display_name);
}));

// ------------------------------------------------------------- chat view

function historyPath() {
  const v = state.view;
  return v.kind === "room"
    ? `/rooms/${v.id}/messages`
    : `/users/${encodeURIComponent(v.username)}/messages`;
}

function resetView(view, title) {
  state.view = view;
  state.shown = new Set();
  state.oldest = null;
  state.hasMore = false;
  $("messages").replaceChildren();
  $("chat-title").textContent = title;
  $("app").classList.add("in-chat");
  for (const li of document.querySelectorAll(".list li")) li.classList.remove("active");
}

async function openRoom(room) {
  resetView({ kind: "room", id: room.id, name: room.name }, `# ${room.name}`);
  const li = document.querySelector(`#rooms li[data-room="${room.id}"]`);
  if (li) li.classList.add("active"), li.classList.remove("unread");
  const member = state.myRooms.has(room.id);
  $("join").hidden = member;
  $("leave").hidden = !member;
  $("members-toggle").hidden = false;
  $("composer").hidden = !member;
  if (member) await loadPage();
  else $("messages").append(el("p", "note", "Join this room to read and send messages."));
  if (!$("members").hidden) await loadMembers();
}

async function openDm(username, displayName) {
  resetView({ kind: "dm", username, name: displayName }, `@ ${displayName}`);
  $("chat-title").append(handle(username));
  const li = document.querySelector(`#conversations li[data-user="${CSS.escape(username)}"]`);
  if (li) li.classList.add("active"), li.classList.remove("unread");
  $("join").hidden = $("leave").hidden = $("members-toggle").hidden = true;
  $("members").hidden = true;
  $("composer").hidden = false;
  await loadPage();
  $("body").focus();
}

/** Loads the newest page, or with `older` the page before the oldest shown. */
async function loadPage(older = false) {
  const view = state.view;
  const query = older ? `?limit=50&before=${state.oldest}` : "?limit=50";
  const page = await api("GET", historyPath() + query);
  if (view !== state.view) return;
  state.hasMore = page.has_more;
  const box = $("messages");
  if (older) {
    const before = box.scrollHeight;
    const anchor = box.firstChild;
    for (const m of page.messages) {
      const node = renderMessage(m);
      if (node) box.insertBefore(node, anchor);
    }
    box.scrollTop += box.scrollHeight - before;
  } else {
    for (const m of page.messages) {
      const node = renderMessage(m);
      if (node) box.append(node);
    }
    box.scrollTop = box.scrollHeight;
  }
  if (page.messages.length) state.oldest = page.messages[0].id;
}

$("messages").addEventListener("scroll", guarded(async () => {
  const box = $("messages");
  if (box.scrollTop < 60 && state.hasMore && !state.loadingOlder && state.oldest) {
    state.loadingOlder = true;
    try { await loadPage(true); } finally { state.loadingOlder = false; }
  }
}));

/** A message element, or null when this id is already shown. */
function renderMessage(m) {
  if (state.shown.has(m.id)) return null;
  state.shown.add(m.id);
  const node = el("div", `msg${m.sender.id === state.user?.id ? " mine" : ""}`);
  node.dataset.id = m.id;
  const head = el("div");
  head.append(el("span", "who", m.sender.display_name), handle(m.sender.username));
  const time = el("time", "", new Date(m.created_at).toLocaleTimeString());
  time.dateTime = m.created_at;
  head.append(time);
  node.append(head, el("div", "text", m.body));
  return node;
}

function appendLive(m) {
  const box = $("messages");
  const atBottom = box.scrollHeight - box.scrollTop - box.clientHeight < 80;
  const node = renderMessage(m);
  if (!node) return;
  box.append(node);
  if (atBottom || m.sender.id === state.user.id) box.scrollTop = box.scrollHeight;
}

$("composer").addEventListener("submit", guarded(async (e) => {
  e.preventDefault();
  const input = $("body");
  const body = input.value;
  if (!body.trim()) return;
  // A client id makes a retried send idempotent.
  const client_id = crypto.randomUUID();
  const m = await api("POST", historyPath(), { body, client_id });
  input.value = "";
  appendLive(m);
  if (state.view.kind === "dm") loadConversations().catch(() => {});
}));

$("body").addEventListener("keydown", (e) => {
  if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
    e.preventDefault();
    $("composer").requestSubmit();
  }
});

$("join").addEventListener("click", guarded(async () => {
  const room = await api("PUT", `/rooms/${state.view.id}/members/me`);
  state.myRooms.add(room.id);
  await openRoom(room);
  await loadRooms();
}));

$("leave").addEventListener("click", guarded(async () => {
  await api("DELETE", `/rooms/${state.view.id}/members/me`);
  state.myRooms.delete(state.view.id);
  const room = await api("GET", `/rooms/${state.view.id}`);
  await openRoom(room);
  await loadRooms();
}));

$("members-toggle").addEventListener("click", guarded(async () => {
  $("members").hidden = !$("members").hidden;
  if (!$("members").hidden) await loadMembers();
}));

$("back").addEventListener("click", () => $("app").classList.remove("in-chat"));

async function loadMembers() {
  if (state.view?.kind !== "room") return;
  const page = await api("GET", `/rooms/${state.view.id}/members?limit=100`);
  const list = $("member-list");
  list.replaceChildren();
  for (const { user } of page.items) {
    const li = el("li");
    li.append(
      el("span", `dot${user.online ? " online" : ""}`),
      el("span", "name", user.display_name),
      handle(user.username),
    );
    li.title = user.online ? "online" : "offline";
    list.append(li);
  }
}

// ------------------------------------------------------------ the stream

function setConn(mode) {
  const c = $("conn");
  c.className = `conn ${mode}`;
  c.dataset.state = mode;
  $("conn-text").textContent = { on: "live", connecting: "connecting", off: "offline" }[mode];
}

/** Opens the event stream with a fresh ticket, resuming where it stopped. */
async function connect() {
  if (!state.token) return;
  setConn("connecting");
  let ticket;
  try {
    ticket = (await api("POST", "/events/tickets")).ticket;
  } catch (err) {
    return reconnectLater();
  }
  let url = `${API}/events?ticket=${encodeURIComponent(ticket)}`;
  if (state.lastEventId) url += `&last_event_id=${encodeURIComponent(state.lastEventId)}`;
  const es = new EventSource(url);
  state.events = es;

  es.addEventListener("ready", (e) => {
    const ready = JSON.parse(e.data);
    state.retryDelay = 500;
    setConn("on");
    if (ready.offline_count > 0) toast(`${ready.offline_count} new while you were away`);
    if (state.lastEventId && !ready.resumed && state.view) {
      // The gap could not be replayed: reload the view from history.
      resetAndReload().catch(showError);
    }
  });
  es.addEventListener("message", (e) => {
    const m = JSON.parse(e.data);
    state.lastEventId = e.lastEventId || state.lastEventId;
    if (state.view?.kind === "room" && state.view.id === m.room_id) appendLive(m);
    else markUnread(`#rooms li[data-room="${m.room_id}"]`);
  });
  es.addEventListener("direct_message", (e) => {
    const m = JSON.parse(e.data);
    state.lastEventId = e.lastEventId || state.lastEventId;
    const other = m.sender.id === state.user.id ? m.recipient : m.sender;
    if (state.view?.kind === "dm" && state.view.username === other.username) appendLive(m);
    loadConversations()
      .then(() => markUnread(`#conversations li[data-user="${CSS.escape(other.username)}"]`))
      .catch(() => {});
  });
  for (const kind of ["member_joined", "member_left"]) {
    es.addEventListener(kind, (e) => {
      const ev = JSON.parse(e.data);
      if (state.view?.kind === "room" && state.view.id === ev.room_id && !$("members").hidden) {
        loadMembers().catch(() => {});
      }
    });
  }
  es.addEventListener("notification", (e) => toast(JSON.parse(e.data).text));
  es.onerror = () => {
    // Take over from EventSource's own retry: a fresh ticket, and an
    // explicit resume point.
    if (state.events !== es) return;
    es.close();
    reconnectLater();
  };
}

function reconnectLater() {
  setConn("off");
  state.events = null;
  const delay = state.retryDelay;
  state.retryDelay = Math.min(state.retryDelay * 2, 10000);
  setTimeout(() => { if (state.token && !state.events) connect(); }, delay);
}

async function resetAndReload() {
  const v = state.view;
  if (v.kind === "room") await openRoom(await api("GET", `/rooms/${v.id}`));
  else await openDm(v.username, v.name);
}

// ------------------------------------------------------------------ start

(async () => {
  if (state.token) {
    try {
      await signedIn(state.token);
      return;
    } catch (err) {
      signedOut();
    }
  } else {
    signedOut();
  }
})();
