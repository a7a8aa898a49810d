// confab's web client: plain JavaScript over the public API only, the same
// one mobile apps and generated SDKs use. It is also the living example of
// using that API correctly:
// - every user-supplied string is rendered with textContent, never as HTML;
// - display names are not unique, so the @username is shown beside each one
//   wherever people could be mistaken for each other;
// - errors show the problem document's `detail`;
// - the event stream is opened with a short-lived ticket; when it drops, the
//   client gets a fresh ticket and reconnects with `last_event_id`, and
//   messages are de-duplicated by id, so nothing is missed or shown twice;
// - lists follow `next_cursor` instead of stopping at the first page;
// - the side lists are kept up to date from the events themselves (a
//   direct message names both people, a message its room), not by fetching
//   a list again: a list read just after an event may not show it yet;
// - unread counts start from the server's (`unread_count` in the lists) and
//   follow events; what the user sees is marked read on the server, so the
//   counts survive a reload and other devices follow (`read` events);
// - typing notices are sent at most every few seconds while the text
//   changes, never per keystroke;
// - a webhook's secret, which the server shows once, is shown once here
//   too: never stored, and gone when the user is done with it.
"use strict";

const API = "/api/v1";
const $ = (id) => document.getElementById(id);

/** Items asked for per list request: the API's maximum. */
const PAGE = 100;
/** Directory pages one room search reads before it asks to go on. */
const SEARCH_PAGES = 10;
/** A room search stops early once it has this many matches. */
const SEARCH_ENOUGH = 25;
/** At most one typing notice per this many ms (the server takes 30 a minute
 *  and forwards one per 2 s). */
const TYPING_EVERY_MS = 2500;
/** How long "… is typing" stays after a notice. */
const TYPING_SHOWN_MS = 5000;
/** Messages can be edited or deleted for this long after sending. */
const EDIT_WINDOW_MS = 24 * 60 * 60 * 1000;

const state = {
  token: localStorage.getItem("confab.token"),
  user: null,
  view: null,          // {kind: "room", id, name} | {kind: "dm", username, name}
  shown: new Set(),    // message ids rendered in the current view
  oldest: null,        // id of the oldest message shown (for `before`)
  hasMore: false,
  loadingOlder: false,
  lastEventId: null,   // where the stream stopped, for resume
  events: null,        // the EventSource
  retryDelay: 500,
  myRooms: new Set(),  // ids of the rooms the user belongs to
  myRoomsKnown: false, // whether myRooms is complete (the stream's `ready` lists them all)
  readyRooms: null,    // the rooms the last `ready` listed
  rooms: new Map(),    // room id -> the latest Room seen (in a list, an answer or an event)
  backlog: null,       // {left} while the offline backlog after `ready` is arriving
  away: null,          // what the "while you were away" notice tallies, until dismissed
  messages: new Map(), // message id -> the latest version of each message shown
  newest: null,        // id of the newest message shown (for read markers)
  unread: new Map(),   // "room:<id>" | "dm:<username>" -> unread state (see `unreadOf`)
  typing: new Map(),   // the same keys -> Map(user id -> {user, timer}) of who is typing
};

// ---------------------------------------------------------------- the API

class ApiError extends Error {
  constructor(problem, status) {
    super(problem.detail || problem.title || `HTTP ${status}`);
    this.code = problem.code;
    this.field = problem.field;
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

/** A passing notice. Notices sit above the chat, in the page's flow, so
 *  they never cover the composer. */
function toast(text) {
  const node = el("div", "toast", text);
  $("toasts").append(node);
  setTimeout(() => node.remove(), 6000);
}

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function button(className, text, onClick) {
  const node = el("button", className, text);
  node.type = "button";
  node.addEventListener("click", guarded(onClick));
  return node;
}

/** The `@username` shown beside a display name (which anyone may copy). */
function handle(username) {
  return el("span", "handle", `@${username}`);
}

function plural(n, word) {
  return `${n} ${word}${n === 1 ? "" : "s"}`;
}


const sameUser = (a, b) => a.toLowerCase() === b.toLowerCase();

/** The milliseconds of a message id (`<ms>-<seq>`). */
const msOf = (id) => Number(id.split("-")[0]);

/** Whether message id `a` comes after `b` (compared part by part, as numbers). */
function newer(a, b) {
  const [am, as] = a.split("-").map(Number);
  const [bm, bs] = b.split("-").map(Number);
  return am > bm || (am === bm && as > bs);
}

/** Keys of rooms and conversations, for unread counts and typing notices. */
const roomKey = (id) => `room:${id}`;
const dmKey = (username) => `dm:${username.toLowerCase()}`;
const viewKey = (v) => (v.kind === "room" ? roomKey(v.id) : dmKey(v.username));

/** The other person of a direct message. */
const otherOf = (m) => (m.sender.id === state.user.id ? m.recipient : m.sender);

/** The key of the room or conversation a message belongs to. */
const keyOf = (m) => (m.room_id ? roomKey(m.room_id) : dmKey(otherOf(m).username));

// ---------------------------------------------------------- sign in / out

async function signedIn(token) {
  state.token = token;
  localStorage.setItem("confab.token", token);
  state.user = await api("GET", "/users/me");
  $("me").textContent = `${state.user.display_name} (@${state.user.username})`;
  $("me").hidden = $("logout").hidden = false;
  $("auth").hidden = true;
  $("app").hidden = false;
  await Promise.all([directory.reset(), myRoomList.reset(), conversationList.reset()]);
  // Reopen what was open before a reload (or what a link points at).
  await openFromHash().catch(showError);
  connect();
}

/** Back to the sign-in forms. `forget` (an explicit sign-out) also drops the
 *  remembered view, so the next person at this browser does not land in it;
 *  an expired session keeps it, to reopen after signing in again. */
function signedOut(forget = false) {
  state.token = null;
  state.user = null;
  localStorage.removeItem("confab.token");
  if (state.events) state.events.close();
  state.events = null;
  state.lastEventId = null;
  setConn("off");
  if (forget) history.replaceState(null, "", location.pathname + location.search);
  closeView();
  state.myRooms = new Set();
  state.myRoomsKnown = false;
  state.readyRooms = null;
  state.rooms = new Map();
  state.backlog = state.away = null;
  state.unread = new Map();
  for (const who of state.typing.values()) for (const { timer } of who.values()) clearTimeout(timer);
  state.typing = new Map();
  typingSent.at = 0;
  for (const list of [directory, myRoomList, conversationList, onlineList, memberList]) list.clear();
  $("room-search").value = "";
  startSearch("");
  $("dm-lookup").hidden = true;
  $("away").hidden = true;
  $("toasts").replaceChildren();
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
  try { await api("POST", "/auth/logout"); } finally { signedOut(true); }
}));

// ------------------------------------------------------------ side lists

/**
 * A side list fed by a list endpoint, a page at a time: `reset()` shows the
 * first page, the "more" button appends the next (following `next_cursor`)
 * until there is none. `render(item)` makes a row, or updates the row already
 * there (an event may have put it in first) and returns null. With `clear`
 * false, `reset()` keeps the rows already shown.
 */
function pager({ path, list, more, render, clear = true }) {
  const p = { cursor: null, generation: 0 };
  const add = (page) => {
    for (const item of page.items) {
      const li = render(item);
      if (li) list.append(li);
    }
    p.cursor = page.next_cursor;
    more.hidden = !p.cursor;
  };
  p.reset = async () => {
    const generation = ++p.generation;
    const page = await api("GET", path(null));
    if (generation !== p.generation) return;
    if (clear) list.replaceChildren();
    add(page);
  };
  /** Empties the list and forgets pages on their way. */
  p.clear = () => {
    p.generation += 1;
    p.cursor = null;
    list.replaceChildren();
    more.hidden = true;
  };
  p.more = async () => {
    const generation = p.generation;
    if (!p.cursor) return;
    const page = await api("GET", path(p.cursor));
    if (generation === p.generation) add(page);
  };
  /** Whether every item is in the list. */
  p.complete = () => !p.cursor;
  more.addEventListener("click", guarded(p.more));
  return p;
}

const withCursor = (path, cursor) => (cursor ? `${path}&cursor=${encodeURIComponent(cursor)}` : path);

// ---------------------------------------------------------- unread counts

/**
 * A room's or conversation's unread state. The server's count (`base`, from
 * a list read) covers the messages up to `baseMs` (the room's
 * `last_activity_at`, or the conversation's last message); `live` holds the
 * ids of messages from others counted since, from events; `through` is the
 * newest message seen live (so a repeat, or the offline backlog the list
 * already counted, is not counted again); `lastRead` is the read marker.
 */
function unreadOf(key) {
  let u = state.unread.get(key);
  if (!u) {
    u = { base: 0, baseMs: null, live: [], through: null, lastRead: null };
    state.unread.set(key, u);
  }
  return u;
}

/** What a badge says: the server counts exactly up to 100 ("99+"). */
function unreadCount(key) {
  const u = state.unread.get(key);
  return u ? Math.min(100, u.base + u.live.length) : 0;
}

/** Takes the server's count from a list read (`last_read_id`,
 *  `unread_count`), unless this page has already seen newer messages than
 *  that read did (a list answer can lag the events). */
function serverUnread(key, count, lastRead, baseMs) {
  if (typeof count !== "number") return;
  const old = state.unread.get(key);
  if (old && old.baseMs !== null && (baseMs === null || old.baseMs > baseMs)) {
    if (lastRead) moveMarker(key, lastRead);
    return;
  }
  const u = { base: count, baseMs, live: [], through: null, lastRead: lastRead || null };
  if (old) {
    // Messages counted live after what the server counted stay counted,
    // and a marker this page moved stays where it is.
    u.live = old.live.filter((id) => baseMs === null || msOf(id) > baseMs);
    u.through = old.through;
  }
  state.unread.set(key, u);
  if (old?.lastRead) moveMarker(key, old.lastRead);
  showUnread(key);
}

/** A message arrived live: count it if it is from someone else, after the
 *  marker, and not already counted. */
function countMessage(key, m) {
  const u = unreadOf(key);
  if (u.baseMs !== null && msOf(m.id) <= u.baseMs) return; // in the server's count
  if (u.through && !newer(m.id, u.through)) return;        // seen already
  u.through = m.id;
  if (m.sender.id === state.user.id || m.deleted_at) return;
  if (u.lastRead && !newer(m.id, u.lastRead)) return;
  u.live.push(m.id);
  showUnread(key);
}

/** A message counted live was deleted: it is no longer unread. */
function uncountMessage(key, id) {
  const u = state.unread.get(key);
  if (!u || !u.live.includes(id)) return;
  u.live = u.live.filter((x) => x !== id);
  showUnread(key);
}

/** Moves the read marker forward (never back); returns whether it moved. */
function moveMarker(key, id) {
  const u = unreadOf(key);
  if (u.lastRead && !newer(id, u.lastRead)) return false;
  u.lastRead = id;
  if (u.baseMs === null || msOf(id) >= u.baseMs) u.base = 0;
  u.live = u.live.filter((x) => newer(x, id));
  showUnread(key);
  return true;
}

/** Shows a key's count on every row of its room or conversation. */
function showUnread(key) {
  const n = unreadCount(key);
  if (key.startsWith("room:")) {
    for (const li of roomRows(key.slice(5))) paintBadge(li, n);
  } else {
    const li = conversationRow(key.slice(3));
    if (li) paintBadge(li, n);
  }
}

function paintBadge(li, n) {
  const item = li.querySelector(".item");
  let badge = item.querySelector(".badge");
  if (!badge) {
    badge = el("span", "badge");
    badge.append(el("span", "n"), el("span", "sr-only", " unread"));
    item.append(badge);
  }
  badge.querySelector(".n").textContent = n >= 100 ? "99+" : String(n);
  badge.title = n >= 100 ? "99 or more unread messages" : plural(n, "unread message");
  badge.hidden = n === 0;
  li.classList.toggle("unread", n > 0);
}

/** Read-marker requests, one at a time per room or conversation: a newer
 *  id asked for meanwhile goes next (the server keeps the furthest). */
const markers = new Map();
async function sendMarker(path, id) {
  let m = markers.get(path);
  if (!m) markers.set(path, (m = { busy: false, next: null }));
  m.next = id;
  if (m.busy) return;
  m.busy = true;
  try {
    while (m.next) {
      const message_id = m.next;
      m.next = null;
      // A marker that does not reach the server is set again the next time
      // the view is read; there is nothing for the user to do about it.
      await api("PUT", path, { message_id }).catch(() => {});
    }
  } finally {
    m.busy = false;
  }
}

/** Whether the open view is on screen: the tab is visible, the chat is
 *  laid out (on a narrow screen the list can hide it), and it shows its
 *  newest message. */
function viewSeen() {
  const box = $("messages");
  return document.visibilityState === "visible" && box.getClientRects().length > 0 && atBottom(box);
}

/** Marks the open view read up to the newest message shown, when the user
 *  can see it and the server does not know it yet. */
function markViewRead() {
  const v = state.view;
  if (!v || !state.newest || !viewSeen()) return;
  const key = viewKey(v);
  if (!moveMarker(key, state.newest)) return;
  const path = v.kind === "room"
    ? `/rooms/${encodeURIComponent(v.id)}/read`
    : `/users/${encodeURIComponent(v.username)}/read`;
  sendMarker(path, state.newest);
}

document.addEventListener("visibilitychange", markViewRead);

/** Every row showing this room, in any list. */
function roomRows(id) {
  return document.querySelectorAll(`li[data-room="${CSS.escape(id)}"]`);
}

/** Remembers the latest copy of a room and shows it in every row and the header. */
function noteRoom(room) {
  state.rooms.set(room.id, room);
  for (const li of roomRows(room.id)) fillRoomRow(li, room);
  if (state.view?.kind === "room" && state.view.id === room.id) showRoomStats(room);
  return room;
}

/** A room's row in a side list: a button that opens it. */
function roomRow(room) {
  const li = el("li");
  li.dataset.room = room.id;
  const open = button("item", undefined, () => openRoom(state.rooms.get(room.id) || room));
  open.append(el("span", "name", `# ${room.name}`), el("span", "sub"));
  li.append(open);
  fillRoomRow(li, room);
  return li;
}

function fillRoomRow(li, room) {
  li.querySelector(".sub").textContent = String(room.member_count);
  li.querySelector(".item").title =
    `${plural(room.member_count, "member")}, ${plural(room.message_count, "message")}`;
  li.classList.toggle("active", state.view?.kind === "room" && state.view.id === room.id);
  paintBadge(li, unreadCount(roomKey(room.id)));
}

/** A row for `room` in `list`, made if missing (the existing one is updated). */
function renderRoomIn(list) {
  return (room) => {
    noteRoom(room);
    return list.querySelector(`li[data-room="${CSS.escape(room.id)}"]`) ? null : roomRow(room);
  };
}

/** The room directory, by activity (latest message first). */
const directory = pager({
  path: (cursor) => withCursor(`/rooms?sort=active&limit=${PAGE}`, cursor),
  list: $("rooms"),
  more: $("rooms-more"),
  render: renderRoomIn($("rooms")),
});

/** The rooms the user belongs to, latest joined first. */
const myRoomList = pager({
  path: (cursor) => withCursor(`/users/me/rooms?limit=${PAGE}`, cursor),
  list: $("my-rooms"),
  more: $("my-rooms-more"),
  render: (room) => {
    state.myRooms.add(room.id);
    // The count covers the messages up to the room's latest one.
    const through = room.last_activity_at ? Date.parse(room.last_activity_at) : null;
    serverUnread(roomKey(room.id), room.unread_count, room.last_read_id, through);
    return renderRoomIn($("my-rooms"))(room);
  },
});

/** Puts a room the user just joined (or made) at the top of their rooms. */
function addToMyRooms(room) {
  state.myRooms.add(room.id);
  const list = $("my-rooms");
  const li = list.querySelector(`li[data-room="${CSS.escape(room.id)}"]`) || roomRow(room);
  list.prepend(li);
}

function removeFromMyRooms(id) {
  state.myRooms.delete(id);
  $("my-rooms").querySelector(`li[data-room="${CSS.escape(id)}"]`)?.remove();
  state.unread.delete(roomKey(id));
  showUnread(roomKey(id));
}

/** A message just went to this room: it is now the most active one. */
function moveUpInDirectory(room) {
  const list = $("rooms");
  list.prepend(list.querySelector(`li[data-room="${CSS.escape(room.id)}"]`) || roomRow(room));
}

/** Puts a new room (no messages yet) where the directory's order puts it:
 *  before the first room without messages, or last once all are loaded. */
function addNewToDirectory(room) {
  const list = $("rooms");
  if (list.querySelector(`li[data-room="${CSS.escape(room.id)}"]`)) return;
  const firstQuiet = [...list.children].find((li) => !state.rooms.get(li.dataset.room)?.last_activity_at);
  if (firstQuiet) list.insertBefore(roomRow(room), firstQuiet);
  else if (directory.complete()) list.append(roomRow(room));
}

/** Fetches a room again (after an event changed it), at most one request
 *  per room at a time: events arriving meanwhile ask for one more, after. */
const refreshing = new Map();
function refreshRoom(id) {
  const running = refreshing.get(id);
  if (running) {
    running.again = true;
    return running.done;
  }
  const entry = { again: false };
  entry.done = (async () => {
    try {
      let room;
      do {
        entry.again = false;
        room = noteRoom(await api("GET", `/rooms/${encodeURIComponent(id)}`));
      } while (entry.again);
      return room;
    } catch (err) {
      return null; // gone, or a network blip: the next event or reload heals it
    } finally {
      refreshing.delete(id);
    }
  })();
  refreshing.set(id, entry);
  return entry.done;
}

/** A message of `m.room_id` arrived live: count it, and move the room up
 *  the directory (the list by activity; the user's own rooms stay in the
 *  order they joined them). */
function roomActivity(m) {
  state.myRooms.add(m.room_id); // only members receive a room's messages
  const room = state.rooms.get(m.room_id);
  if (!room) {
    // A room this page has not seen yet (further down the lists): fetch it.
    refreshRoom(m.room_id).then((r) => { if (r) moveUpInDirectory(r); });
    return;
  }
  // A room's record counts its messages up to its `last_activity_at`: one
  // sent later is new to it (count it once, and move the room up); an older
  // one (the backlog after a fresh read, a repeat) is already counted and
  // placed. Two messages of the same millisecond may count as one here,
  // until the room is read again.
  const last = room.last_activity_at ? Date.parse(room.last_activity_at) : -Infinity;
  if (Date.parse(m.created_at) > last) {
    noteRoom({ ...room, message_count: room.message_count + 1, last_activity_at: m.created_at });
    moveUpInDirectory(room);
  }
}

$("room-form").addEventListener("submit", guarded(async (e) => {
  e.preventDefault();
  const room = noteRoom(await api("POST", "/rooms", { name: new FormData(e.target).get("name") }));
  e.target.reset();
  addToMyRooms(room);
  addNewToDirectory(room);
  await openRoom(room);
}));

// ------------------------------------------------------------ room search

// The API has no search parameter, so finding a room by name means reading
// the directory. A search pages through `GET /rooms?sort=recent` (newest
// first: a room made a moment ago is on the first page, and creation order
// does not shift under the cursor while rooms get messages), PAGE rooms a
// request, and keeps the rooms whose name contains the text, ignoring case.
// It stops when it has SEARCH_ENOUGH matches, reaches the end, or has read
// SEARCH_PAGES pages; then a button offers to go on from where it stopped.
// Each change of the text (after a short pause in typing) starts a new
// search and abandons the one running, so requests stay bounded by what the
// user asks for.
const search = { text: "", cursor: null, scanned: 0, found: 0, generation: 0, timer: null };

$("room-search").addEventListener("input", () => {
  clearTimeout(search.timer);
  search.timer = setTimeout(() => startSearch($("room-search").value.trim()).catch(showError), 250);
});
$("room-search").addEventListener("keydown", (e) => {
  if (e.key === "Enter") {
    e.preventDefault();
    clearTimeout(search.timer);
    startSearch($("room-search").value.trim()).catch(showError);
  }
});
$("search-more").addEventListener("click", guarded(() => searchPages(search.generation)));

async function startSearch(text) {
  const generation = ++search.generation;
  Object.assign(search, { text, cursor: null, scanned: 0, found: 0 });
  const searching = text !== "";
  $("rooms").hidden = searching;
  $("rooms-more").hidden = searching || directory.complete();
  $("room-results").hidden = !searching;
  $("room-results").replaceChildren();
  $("search-more").hidden = true;
  $("search-status").textContent = "";
  if (searching) await searchPages(generation);
}

/** Reads up to SEARCH_PAGES more directory pages for the current search. */
async function searchPages(generation) {
  const needle = search.text.toLowerCase();
  const foundBefore = search.found;
  $("search-more").hidden = true;
  $("search-status").textContent = "Searching…";
  for (let pages = 0; pages < SEARCH_PAGES; pages++) {
    const path = withCursor(`/rooms?sort=recent&limit=${PAGE}`, search.cursor);
    const page = await api("GET", path);
    if (generation !== search.generation) return;
    search.scanned += page.items.length;
    for (const room of page.items) {
      if (!room.name.toLowerCase().includes(needle)) continue;
      search.found += 1;
      const li = renderRoomIn($("room-results"))(room);
      if (li) $("room-results").append(li);
    }
    search.cursor = page.next_cursor;
    if (!search.cursor || search.found - foundBefore >= SEARCH_ENOUGH) break;
  }
  const found = search.found ? `${plural(search.found, "room")} found` : `No room matches “${search.text}”`;
  $("search-status").textContent = search.cursor
    ? `${found} in the ${search.scanned} newest rooms.`
    : `${found} (all ${search.scanned} rooms searched).`;
  $("search-more").hidden = !search.cursor;
}

// -------------------------------------------------------- direct messages

/** Rows of the conversation list, by lower-cased username. */
function conversationRow(username) {
  return $("conversations").querySelector(`li[data-user="${CSS.escape(username.toLowerCase())}"]`);
}

/** A person's row: a button that opens the conversation with them. */
function personRow(user, dataset) {
  const li = el("li");
  Object.assign(li.dataset, dataset);
  const open = button("item", undefined, () => openDm(user.username, user.display_name));
  open.title = `Message ${user.display_name} (@${user.username})`;
  open.append(
    el("span", `dot${user.online ? " online" : ""}`),
    el("span", "name", user.display_name),
    handle(user.username),
  );
  li.append(open);
  return li;
}

/**
 * Shows the conversation with `user` in the list (made if missing), at the
 * top when `latest` (a message just went either way). Fed by the
 * conversation list and by `direct_message` events, which name both people;
 * a new row learns the person's presence from their profile.
 */
function upsertConversation(user, { latest = false } = {}) {
  let li = conversationRow(user.username);
  if (!li) {
    li = personRow(user, { user: user.username.toLowerCase() });
    $("conversations").append(li);
    if (user.online === undefined) {
      api("GET", `/users/${encodeURIComponent(user.username)}`)
        .then((u) => li.querySelector(".dot").classList.toggle("online", u.online))
        .catch(() => {});
    }
  } else if (user.online !== undefined) {
    li.querySelector(".dot").classList.toggle("online", user.online);
  }
  if (latest) $("conversations").prepend(li);
  li.classList.toggle("active", state.view?.kind === "dm" && sameUser(state.view.username, user.username));
  paintBadge(li, unreadCount(dmKey(user.username)));
  return li;
}

/** The user's conversations, most recent first. Rows are only ever added or
 *  updated here (a conversation never ends), so a list read that lags an
 *  event cannot take away a conversation the event showed. */
const conversationList = pager({
  path: (cursor) => withCursor(`/conversations?limit=${PAGE}`, cursor),
  list: $("conversations"),
  more: $("conversations-more"),
  clear: false,
  render: (c) => {
    serverUnread(dmKey(c.user.username), c.unread_count, c.last_read_id, msOf(c.last_message.id));
    upsertConversation(c.user);
    return null;
  },
});

/** People online now, to start a conversation with. */
const onlineList = pager({
  path: (cursor) => withCursor(`/users/online?limit=${PAGE}`, cursor),
  list: $("online"),
  more: $("online-more"),
  render: (user) => (user.id === state.user?.id ? null : personRow(user, { user: user.username.toLowerCase() })),
});
$("online-refresh").addEventListener("click", guarded(() => onlineList.reset()));
// Presence has no event; a visible page looks again now and then.
setInterval(() => {
  if (state.user && !document.hidden) onlineList.reset().catch(() => {});
}, 30000);

/** Looks a person up by username and shows who they are before opening. */
$("dm-form").addEventListener("submit", guarded(async (e) => {
  e.preventDefault();
  const username = new FormData(e.target).get("username").trim();
  const box = $("dm-lookup");
  box.replaceChildren();
  box.hidden = false;
  let user;
  try {
    user = await api("GET", `/users/${encodeURIComponent(username)}`);
  } catch (err) {
    if (err.code !== "user_not_found" && err.code !== "validation_failed") throw err;
    box.append(el("span", "note", `No user is called @${username}.`));
    return;
  }
  const who = el("span", "who");
  who.append(el("span", `dot${user.online ? " online" : ""}`), el("span", "name", user.display_name), handle(user.username));
  const seen = user.online
    ? "online"
    : user.last_seen_at ? `last seen ${new Date(user.last_seen_at).toLocaleString()}` : "offline";
  box.append(who, el("span", "sub", seen));
  if (user.id === state.user.id) {
    box.append(el("span", "note", "That is you."));
  } else {
    box.append(button("", "Message", async () => {
      box.hidden = true;
      e.target.reset();
      await openDm(user.username, user.display_name);
    }));
  }
}));

// ------------------------------------------------------------- chat view

function historyPath() {
  const v = state.view;
  return v.kind === "room"
    ? `/rooms/${encodeURIComponent(v.id)}/messages`
    : `/users/${encodeURIComponent(v.username)}/messages`;
}

function resetView(view, title) {
  state.view = view;
  state.messages = new Map();
  state.newest = null;
  state.oldest = null;
  state.hasMore = false;
  pinned = true;
  $("messages").replaceChildren();
  $("chat-title").textContent = title;
  $("room-stats").textContent = "";
  memberList.clear();
  leaveWebhooks(view);
  $("app").classList.add("in-chat");
  for (const li of document.querySelectorAll(".list li")) li.classList.remove("active");
  typingSent.text = "";
  showTyping();
  // Remember the view in the address, so a reload (or a shared link) reopens it.
  const hash = view.kind === "room" ? `#room/${encodeURIComponent(view.id)}` : `#dm/${encodeURIComponent(view.username)}`;
  if (location.hash !== hash) history.pushState(null, "", hash);
}

function closeView() {
  state.view = null;
  state.messages = new Map();
  state.newest = null;
  $("messages").replaceChildren();
  showTyping();
  $("chat-title").textContent = "Pick a room or a person";
  $("room-stats").textContent = "";
  $("join").hidden = $("leave").hidden = $("members-toggle").hidden = true;
  $("members").hidden = $("composer").hidden = true;
  $("webhooks-toggle").hidden = true;
  closeWebhooks();
  clearWebhookForm(true);
}

function showRoomStats(room) {
  $("room-stats").textContent = `${plural(room.member_count, "member")} · ${plural(room.message_count, "message")}`;
}

async function openRoom(room) {
  noteRoom(room);
  resetView({ kind: "room", id: room.id, name: room.name }, `# ${room.name}`);
  showRoomStats(room);
  for (const li of roomRows(room.id)) li.classList.add("active");
  $("members-toggle").hidden = false;
  $("join").hidden = $("leave").hidden = $("composer").hidden = true; // until membership is known
  $("webhooks-toggle").hidden = true; // (members only)
  const view = state.view;
  // Until the stream's `ready` has listed every room of the user, a room
  // not seen among them may still be theirs: the history answers 403 if not.
  let member = state.myRooms.has(room.id) || !state.myRoomsKnown;
  if (member) {
    try {
      await loadPage();
    } catch (err) {
      if (err.code !== "not_a_member") throw err;
      member = false;
    }
  }
  if (view !== state.view) return;
  $("join").hidden = member;
  $("leave").hidden = !member;
  $("composer").hidden = !member;
  if (!member) $("messages").append(el("p", "note", "Join this room to read and send messages."));
  else markViewRead();
  $("webhooks-toggle").hidden = !member;
  if (!member) closeWebhooks();
  else if (!$("webhooks").hidden) loadWebhooks(); // (shows its own errors)
  if (!$("members").hidden) await loadMembers();
}

async function openDm(username, displayName) {
  resetView({ kind: "dm", username, name: displayName }, `@ ${displayName}`);
  $("chat-title").append(handle(username));
  const li = conversationRow(username);
  if (li) li.classList.add("active");
  $("join").hidden = $("leave").hidden = $("members-toggle").hidden = true;
  $("members").hidden = true;
  $("webhooks-toggle").hidden = true;
  closeWebhooks();
  $("composer").hidden = false;
  const view = state.view;
  await loadPage();
  if (view !== state.view) return;
  markViewRead();
  $("body").focus();
}

/** Opens the view the address names (`#room/<id>` or `#dm/<username>`). */
async function openFromHash() {
  const match = /^#(room|dm)\/(.+)$/.exec(location.hash);
  if (!match) return;
  const [, kind, raw] = match;
  const key = decodeURIComponent(raw);
  const v = state.view;
  if (v && (kind === "room" ? v.kind === "room" && v.id === key : v.kind === "dm" && sameUser(v.username, key))) return;
  try {
    if (kind === "room") {
      await openRoom(await api("GET", `/rooms/${encodeURIComponent(key)}`));
    } else {
      const user = await api("GET", `/users/${encodeURIComponent(key)}`);
      await openDm(user.username, user.display_name);
    }
  } catch (err) {
    if (err.status !== 404 && err.code !== "validation_failed") throw err;
    history.replaceState(null, "", location.pathname + location.search);
    throw new Error(kind === "room" ? "That room no longer exists." : `No user is called @${key}.`);
  }
}

// Back and forward move between the views opened (and an edited address
// opens what it names).
window.addEventListener("hashchange", () => { if (state.user) openFromHash().catch(showError); });

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
    const last = page.messages.at(-1);
    if (last && (!state.newest || newer(last.id, state.newest))) state.newest = last.id;
  }
  if (page.messages.length) state.oldest = page.messages[0].id;
}

/** Whether the reader is at the newest message (within a few lines). */
function atBottom(box) {
  return box.scrollHeight - box.scrollTop - box.clientHeight < 80;
}

// A reader at the newest message stays there when the list gets shorter
// (a notice opened above it) or taller (the window grew).
let pinned = true;
new ResizeObserver(() => {
  if (pinned) $("messages").scrollTop = $("messages").scrollHeight;
}).observe($("messages"));

// (Not `guarded`: scrolling, which a notice appearing can cause, must not
// take away an error the user has not read yet.)
$("messages").addEventListener("scroll", async () => {
  const box = $("messages");
  pinned = atBottom(box);
  if (pinned) markViewRead(); // scrolled down to what arrived meanwhile
  if (box.scrollTop < 60 && state.hasMore && !state.loadingOlder && state.oldest) {
    state.loadingOlder = true;
    try {
      await loadPage(true);
    } catch (err) {
      showError(err);
    } finally {
      state.loadingOlder = false;
    }
  }
});

/** A message element, or null when this id is already shown (then the
 *  one shown is brought up to date, if `m` is a later version of it). */
function renderMessage(m) {
  if (state.messages.has(m.id)) {
    updateMessage(m);
    return null;
  }
  state.messages.set(m.id, m);
  const node = el("div", `msg${m.sender.id === state.user?.id ? " mine" : ""}`);
  node.dataset.id = m.id;
  fillMessage(node, m);
  return node;
}

/** (Re)builds a message's element from the message. */
function fillMessage(node, m) {
  node.classList.remove("editing");
  node.classList.toggle("deleted", !!m.deleted_at);
  const head = el("div", "head");
  head.append(el("span", "who", m.sender.display_name), handle(m.sender.username));
  const time = el("time", "", new Date(m.created_at).toLocaleTimeString());
  time.dateTime = m.created_at;
  head.append(time);
  if (m.edited_at && !m.deleted_at) {
    const edited = el("span", "edited", "(edited)");
    edited.title = `edited ${new Date(m.edited_at).toLocaleString()}`;
    head.append(edited);
  }
  if (canChange(m)) head.append(messageActions(node));
  const text = m.deleted_at ? el("div", "text deleted", "message deleted") : el("div", "text", m.body);
  node.replaceChildren(head, text);
}

/** Whether the user may still edit or delete `m`: their own, not deleted,
 *  within the edit window. */
function canChange(m) {
  return m.sender.id === state.user?.id && !m.deleted_at && Date.now() - msOf(m.id) < EDIT_WINDOW_MS;
}

/** How recent a version of a message is: a delete is final; else the
 *  latest edit wins. */
function version(m) {
  return m.deleted_at ? Infinity : m.edited_at ? Date.parse(m.edited_at) : 0;
}

/** Shows a later version of a message already shown (an edit or delete
 *  from an event, an answer, or a history page); others are ignored. */
function updateMessage(m) {
  const shown = state.messages.get(m.id);
  if (!shown || version(m) <= version(shown)) return;
  state.messages.set(m.id, m);
  const node = $("messages").querySelector(`.msg[data-id="${CSS.escape(m.id)}"]`);
  if (!node) return;
  // An editor open on this message stays open for an edit made elsewhere
  // (saving it makes a later version); a delete closes it.
  if (node.classList.contains("editing") && !m.deleted_at) return;
  const hadFocus = node.contains(document.activeElement);
  fillMessage(node, m);
  if (hadFocus) focusMessage(node);
}

/** Keeps keyboard users in place after the controls they used are rebuilt. */
function focusMessage(node) {
  const target = node.querySelector(".actions button") || node;
  if (target === node) node.tabIndex = -1;
  target.focus();
}

/** Whether an edit or delete of `m` belongs to the open view. */
function inView(m) {
  const v = state.view;
  if (!v) return false;
  return m.room_id ? v.kind === "room" && v.id === m.room_id : v.kind === "dm" && sameUser(v.username, otherOf(m).username);
}

/** The path of one of the user's messages, for PATCH and DELETE. */
function messagePath(m) {
  const id = encodeURIComponent(m.id);
  return m.room_id
    ? `/rooms/${encodeURIComponent(m.room_id)}/messages/${id}`
    : `/users/${encodeURIComponent(m.recipient.username)}/messages/${id}`;
}

/** The Edit and Delete buttons of one of the user's messages. */
function messageActions(node) {
  const box = el("span", "actions");
  const current = () => state.messages.get(node.dataset.id);
  const edit = button("link", "Edit", () => startEdit(node));
  edit.setAttribute("aria-label", "Edit message");
  const del = button("link", "Delete", () => confirmDelete(node, box));
  del.setAttribute("aria-label", "Delete message");
  box.append(edit, del);
  box.addEventListener("focusin", () => {
    // Past the edit window since it was drawn: the controls go.
    if (!canChange(current())) box.remove();
  });
  return box;
}

/** Replaces the buttons with "Delete this message? Delete / Cancel". */
function confirmDelete(node, box) {
  const m = state.messages.get(node.dataset.id);
  askToDelete({
    actions: box,
    marked: box,
    question: "Delete this message?",
    label: "Yes, delete the message",
    refocus: 1,
    onYes: async () => {
      await api("DELETE", messagePath(m));
      const deleted = { ...state.messages.get(m.id), body: null, deleted_at: new Date().toISOString() };
      updateMessage(deleted);
    },
  });
}

/** Asks in place of the buttons in `actions`: `question`, then "Delete"
 * (labelled `label`), which runs `onYes(cancel)`, and "Cancel". `marked`
 * carries the `confirming` class meanwhile; Cancel or Escape puts the
 * buttons back and focuses the one at `refocus`. */
function askToDelete({ actions, marked, question, label, refocus, onYes }) {
  const keep = [...actions.childNodes];
  const cancel = () => {
    actions.replaceChildren(...keep);
    marked.classList.remove("confirming");
    keep[refocus].focus();
  };
  const yes = button("danger", "Delete", () => onYes(cancel));
  yes.setAttribute("aria-label", label);
  const no = button("ghost", "Cancel", cancel);
  for (const b of [yes, no]) {
    b.addEventListener("keydown", (e) => { if (e.key === "Escape") cancel(); });
  }
  marked.classList.add("confirming");
  actions.replaceChildren(el("span", "ask", question), yes, no);
  no.focus();
}

/** Opens an editor in place of the message's text: Enter saves, Shift+Enter
 *  is a new line, Escape cancels. */
function startEdit(node) {
  const m = state.messages.get(node.dataset.id);
  if (!m || !canChange(m) || node.classList.contains("editing")) return;
  node.classList.add("editing");
  const form = el("form", "editor");
  const input = el("textarea");
  input.value = m.body;
  input.rows = Math.min(6, m.body.split("\n").length);
  input.setAttribute("aria-label", "Edit message");
  const save = el("button", "", "Save");
  save.type = "submit";
  const finish = () => {
    fillMessage(node, state.messages.get(m.id));
    focusMessage(node);
  };
  const cancel = button("ghost", "Cancel", finish);
  form.append(input, save, cancel, el("span", "hint", "Enter to save, Esc to cancel"));
  node.querySelector(".actions")?.remove();
  node.querySelector(".text").replaceWith(form);
  form.addEventListener("submit", guarded(async (e) => {
    e.preventDefault();
    const body = input.value;
    if (body === state.messages.get(m.id).body) return finish();
    updateMessage(await api("PATCH", messagePath(m), { body }));
    // (an open editor keeps its text through updates: close it now)
    if (node.classList.contains("editing")) finish();
  }));
  input.addEventListener("keydown", (e) => {
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      form.requestSubmit();
    } else if (e.key === "Escape") {
      e.preventDefault();
      finish();
    }
  });
  input.focus();
  input.setSelectionRange(input.value.length, input.value.length);
  node.scrollIntoView({ block: "nearest" }); // its buttons too, on the last message
}

// The edit window closes while messages are on screen: their controls go.
setInterval(() => {
  for (const box of $("messages").querySelectorAll(".msg.mine .actions")) {
    const m = state.messages.get(box.closest(".msg").dataset.id);
    if (m && !canChange(m) && !box.contains(document.activeElement)) box.remove();
  }
}, 60000);

/** Adds a message that arrived while the view is open; marks it read when
 *  the user sees it. */
function appendLive(m) {
  const box = $("messages");
  const wasAtBottom = atBottom(box);
  const node = renderMessage(m);
  if (!node) return;
  box.append(node);
  if (!state.newest || newer(m.id, state.newest)) state.newest = m.id;
  if (wasAtBottom || m.sender.id === state.user.id) box.scrollTop = box.scrollHeight;
  if (m.sender.id !== state.user.id) markViewRead();
}

$("composer").addEventListener("submit", guarded(async (e) => {
  e.preventDefault();
  const input = $("body");
  const body = input.value;
  if (!body.trim()) return;
  // Emptied at once, so what the user types while the send is on its way
  // is not wiped when the answer comes; given back if the send fails.
  input.value = "";
  const view = state.view;
  // A client id makes a retried send idempotent.
  const client_id = crypto.randomUUID();
  let m;
  try {
    m = await api("POST", historyPath(), { body, client_id });
  } catch (err) {
    if (state.view === view && !input.value) input.value = body;
    throw err;
  }
  // The message ends the notice others see; typing the next one starts a new one.
  typingSent.at = 0;
  typingSent.text = "";
  if (m.recipient) upsertConversation(m.recipient, { latest: true });
  if (state.view === view) appendLive(m); // (else the stream brings it there)
}));

$("body").addEventListener("keydown", (e) => {
  if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
    e.preventDefault();
    $("composer").requestSubmit();
  }
});

// ------------------------------------------------------------- typing

/** When the last typing notice went, and the text it was for. */
const typingSent = { at: 0, text: "" };

/** While the user types, tells the others, at most every TYPING_EVERY_MS
 *  and only when there is text and it changed. A refusal (429 beyond the
 *  server's rate, or anything else) is of no interest to the user. */
$("body").addEventListener("input", () => {
  const v = state.view;
  const text = $("body").value;
  if (!v || !text.trim() || text === typingSent.text) return;
  typingSent.text = text;
  const now = Date.now();
  if (now - typingSent.at < TYPING_EVERY_MS) return;
  typingSent.at = now;
  const path = v.kind === "room"
    ? `/rooms/${encodeURIComponent(v.id)}/typing`
    : `/users/${encodeURIComponent(v.username)}/typing`;
  api("POST", path).catch(() => {});
});

/** A `typing` event: show its user as typing where they type, for
 *  TYPING_SHOWN_MS after the latest notice. */
function someoneTyping(ev) {
  if (ev.user.id === state.user.id) return;
  const key = ev.room_id ? roomKey(ev.room_id) : dmKey(ev.user.username);
  let who = state.typing.get(key);
  if (!who) state.typing.set(key, (who = new Map()));
  clearTimeout(who.get(ev.user.id)?.timer);
  const timer = setTimeout(() => stoppedTyping(key, ev.user.id), TYPING_SHOWN_MS);
  who.set(ev.user.id, { user: ev.user, timer });
  showTyping();
}

/** `userId` is no longer typing in `key` (their notice ran out, or their
 *  message arrived). */
function stoppedTyping(key, userId) {
  const who = state.typing.get(key);
  if (!who?.has(userId)) return;
  clearTimeout(who.get(userId).timer);
  who.delete(userId);
  if (!who.size) state.typing.delete(key);
  showTyping();
}

/** "@alice is typing…", "@alice and @bob are typing…", under the open view's messages. */
function showTyping() {
  const who = state.view ? state.typing.get(viewKey(state.view)) : null;
  const names = who ? [...who.values()].map(({ user }) => `@${user.username}`) : [];
  let text = "";
  if (names.length === 1) text = `${names[0]} is typing…`;
  else if (names.length === 2) text = `${names[0]} and ${names[1]} are typing…`;
  else if (names.length === 3) text = `${names[0]}, ${names[1]} and ${names[2]} are typing…`;
  else if (names.length > 3) text = `${names[0]}, ${names[1]} and ${names.length - 2} others are typing…`;
  $("typing").textContent = text;
}

$("join").addEventListener("click", guarded(async () => {
  const room = noteRoom(await api("PUT", `/rooms/${encodeURIComponent(state.view.id)}/members/me`));
  addToMyRooms(room);
  await openRoom(room);
}));

$("leave").addEventListener("click", guarded(async () => {
  const id = state.view.id;
  await api("DELETE", `/rooms/${encodeURIComponent(id)}/members/me`);
  removeFromMyRooms(id);
  const room = await refreshRoom(id);
  if (room) await openRoom(room);
}));

$("members-toggle").addEventListener("click", guarded(async () => {
  const show = $("members").hidden;
  // The member and webhook panels take turns beside the chat.
  if (show) closeWebhooks();
  $("members").hidden = !show;
  $("members-toggle").setAttribute("aria-expanded", String(show));
  if (show) await loadMembers();
}));

$("back").addEventListener("click", () => $("app").classList.remove("in-chat"));

/** The open room's members, latest joined first; each one (but you) is a
 *  button that opens a conversation with them. */
const memberList = pager({
  path: (cursor) => withCursor(`/rooms/${encodeURIComponent(state.view.id)}/members?limit=${PAGE}`, cursor),
  list: $("member-list"),
  more: $("members-more"),
  render: ({ user }) => {
    let li;
    if (user.id === state.user.id) {
      li = el("li", "me-row");
      li.append(el("span", `dot${user.online ? " online" : ""}`), el("span", "name", user.display_name), handle(user.username), el("span", "sub", "you"));
    } else {
      li = personRow(user, {});
    }
    li.title = user.online ? "online" : "offline";
    return li;
  },
});

async function loadMembers() {
  if (state.view?.kind !== "room") return;
  await memberList.reset();
}

// ---------------------------------------------------------------- webhooks

/**
 * The open room's webhooks, for its members: a list (URL, description,
 * delivery counts, the last error and delivery), a form to add one and a
 * Delete button with an in-place confirmation on each. The server announces
 * no change to webhooks, so the list is read when the panel opens, after
 * the user adds or deletes one, and on Refresh; counts move as deliveries
 * happen, and another member may add or delete one meanwhile.
 *
 * A new webhook's `secret` is in the creation answer only. It is shown once,
 * in a box of its own (never in the list), kept nowhere else (not in
 * localStorage, not in the list's data), and dropped when the user says they
 * copied it, closes the panel, opens another room or reloads.
 */
const hooks = {
  generation: 0,    // bumped to drop list reads on their way
  secretRoom: null, // the room whose new webhook's secret is on screen
};

const webhooksPath = (roomId) => `/rooms/${encodeURIComponent(roomId)}/webhooks`;
const urlInput = () => $("webhook-form").elements.url;

/** Shows a problem in the panel (`box`), or clears it with null. */
function hookProblem(box, err) {
  box.textContent = err ? (err instanceof Error ? err.message : String(err)) : "";
  box.hidden = !err;
}

$("webhooks-toggle").addEventListener("click", () => {
  if (!$("webhooks").hidden) return closeWebhooks();
  $("members").hidden = true;
  $("members-toggle").setAttribute("aria-expanded", "false");
  $("webhooks").hidden = false;
  $("webhooks-toggle").setAttribute("aria-expanded", "true");
  loadWebhooks();
});

$("webhooks-refresh").addEventListener("click", () => loadWebhooks());

/** Hides the panel; a secret still shown goes with it. */
function closeWebhooks() {
  $("webhooks").hidden = true;
  $("webhooks-toggle").setAttribute("aria-expanded", "false");
  clearWebhookList();
  forgetSecret();
  clearWebhookForm(false);
}

/** Another view opens: the panel forgets the room it showed (a secret stays
 *  only while its own room is the one reopened). */
function leaveWebhooks(view) {
  clearWebhookList();
  if (view.kind !== "room" || view.id !== hooks.secretRoom) {
    forgetSecret();
    clearWebhookForm(true);
  }
}

/** Empties the list and drops a read of it on its way. */
function clearWebhookList() {
  hooks.generation += 1;
  $("webhook-list").replaceChildren();
  $("webhook-list").setAttribute("aria-busy", "false");
  $("webhooks-empty").hidden = true;
  $("webhooks-status").textContent = "";
  hookProblem($("webhooks-error"), null);
}

/** Takes the form's error away, and with `reset` what was typed too. */
function clearWebhookForm(reset) {
  if (reset) $("webhook-form").reset();
  hookProblem($("webhook-form-error"), null);
  urlInput().removeAttribute("aria-invalid");
}

/** Reads the open room's webhooks (every page: a room has a handful) and
 *  shows them. Errors are shown in the panel. */
async function loadWebhooks() {
  const view = state.view;
  if (view?.kind !== "room" || $("webhooks").hidden) return;
  const generation = ++hooks.generation;
  const list = $("webhook-list");
  list.setAttribute("aria-busy", "true");
  $("webhooks-status").textContent = "Loading…";
  hookProblem($("webhooks-error"), null);
  const items = [];
  try {
    let cursor = null;
    do {
      const page = await api("GET", withCursor(`${webhooksPath(view.id)}?limit=${PAGE}`, cursor));
      if (generation !== hooks.generation) return;
      items.push(...page.items);
      cursor = page.next_cursor;
    } while (cursor);
  } catch (err) {
    if (generation !== hooks.generation) return;
    list.setAttribute("aria-busy", "false");
    $("webhooks-status").textContent = "";
    hookProblem($("webhooks-error"), err);
    return;
  }
  list.replaceChildren(...items.map(webhookRow));
  list.setAttribute("aria-busy", "false");
  $("webhooks-empty").hidden = items.length > 0;
  $("webhooks-status").textContent = `Updated ${new Date().toLocaleTimeString()}.`;
}

/** One webhook in the list (it never carries the secret). */
function webhookRow(hook) {
  const li = el("li", "hook");
  li.dataset.webhook = hook.id;
  li.append(el("div", "url", hook.url));
  if (hook.description) li.append(el("div", "desc", hook.description));
  const counts = el("div", "counts");
  counts.append(
    el("span", "delivered", `${hook.delivered} delivered`), " · ",
    el("span", "pending", `${hook.pending} pending`), " · ",
    el("span", `failed${hook.failed ? " some" : ""}`, `${hook.failed} failed`),
  );
  counts.title = "Delivered: acknowledged with a 2xx. Pending: waiting or being retried. Failed: given up after 24 hours of retries.";
  li.append(counts);
  if (hook.last_delivered_at) li.append(when("last-delivered", "Last delivered ", hook.last_delivered_at));
  if (hook.last_error) {
    const error = el("div", "last-error");
    error.append(el("span", "label", "Last error: "), el("span", "", hook.last_error));
    li.append(error);
  }
  const added = when("added", "Added ", hook.created_at);
  if (hook.created_by === state.user?.id) added.append(" by you");
  li.append(added);
  const actions = el("div", "hook-actions");
  const del = button("ghost", "Delete", () => confirmHookDelete(li, hook, actions));
  del.setAttribute("aria-label", `Delete webhook ${hook.url}`);
  actions.append(del);
  li.append(actions);
  return li;
}

/** "<label><time>" in a line of class `className`. */
function when(className, label, at) {
  const line = el("div", className, label);
  const time = el("time", "", new Date(at).toLocaleString());
  time.dateTime = at;
  line.append(time);
  return line;
}

/** Replaces a webhook's Delete button with "Delete this webhook? Delete / Cancel". */
function confirmHookDelete(li, hook, actions) {
  askToDelete({
    actions,
    marked: li,
    question: "Delete this webhook? Nothing more will be delivered to it.",
    label: "Yes, delete the webhook",
    refocus: 0,
    onYes: async (cancel) => {
      const view = state.view;
      hookProblem($("webhooks-error"), null);
      try {
        await api("DELETE", `${webhooksPath(hook.room_id)}/${encodeURIComponent(hook.id)}`);
      } catch (err) {
        if (err.code !== "webhook_not_found") {
          cancel();
          hookProblem($("webhooks-error"), err);
          return;
        }
        // Another member deleted it first: the outcome is the same.
      }
      if (state.view !== view) return;
      const next = li.nextElementSibling || li.previousElementSibling;
      li.remove();
      $("webhooks-empty").hidden = $("webhook-list").children.length > 0;
      $("webhooks-status").textContent = "Webhook deleted: nothing more is delivered to it.";
      (next?.querySelector(".hook-actions button") || $("webhooks-refresh")).focus();
    },
  });
}

$("webhook-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const view = state.view;
  if (view?.kind !== "room") return;
  const form = e.target;
  const submit = form.querySelector("button[type=submit]");
  const body = { url: urlInput().value.trim() };
  const description = form.elements.description.value.trim();
  if (description) body.description = description;
  hookProblem($("webhook-form-error"), null);
  urlInput().removeAttribute("aria-invalid");
  submit.disabled = true;
  let created;
  try {
    created = await api("POST", webhooksPath(view.id), body);
  } catch (err) {
    // The server says what is wrong (a URL that is not http(s), a private
    // address, too many webhooks, too many tries): shown by the form.
    hookProblem($("webhook-form-error"), err);
    if (err.field === "url") urlInput().setAttribute("aria-invalid", "true");
    urlInput().focus();
    return;
  } finally {
    submit.disabled = false;
  }
  form.reset();
  const { secret, ...hook } = created;
  showSecret(secret, hook, view);
  if (state.view === view && !$("webhooks").hidden) {
    const list = $("webhook-list");
    list.querySelector(`li[data-webhook="${CSS.escape(hook.id)}"]`)?.remove();
    list.prepend(webhookRow(hook)); // the list is newest first
    $("webhooks-empty").hidden = true;
    $("webhooks-status").textContent = "Webhook added.";
  }
});

/** Shows a new webhook's secret, once. Should the user have moved on while
 *  the webhook was being added, the panel opens again to show it: this is
 *  the only time it can be seen. */
function showSecret(secret, hook, view) {
  hooks.secretRoom = view.id;
  $("webhook-secret-for").textContent = `For ${hook.url} in # ${view.name}`;
  $("webhook-secret-value").value = secret;
  $("webhook-secret-copied").textContent = "";
  $("webhook-secret").hidden = false;
  $("webhooks").hidden = false;
  $("webhooks-toggle").setAttribute("aria-expanded", "true");
  $("webhook-secret-value").focus();
  $("webhook-secret-value").select();
  $("webhook-secret").scrollIntoView({ block: "nearest" });
}

/** Drops the secret on screen, if any. */
function forgetSecret() {
  hooks.secretRoom = null;
  $("webhook-secret-value").value = "";
  $("webhook-secret-for").textContent = "";
  $("webhook-secret-copied").textContent = "";
  $("webhook-secret").hidden = true;
}

$("webhook-secret-copy").addEventListener("click", async () => {
  const input = $("webhook-secret-value");
  let copied = false;
  try {
    await navigator.clipboard.writeText(input.value);
    copied = true;
  } catch {
    // No clipboard API here (or no permission): the selection way.
    input.focus();
    input.select();
    try { copied = document.execCommand("copy"); } catch { copied = false; }
  }
  $("webhook-secret-copied").textContent = copied
    ? "Copied to the clipboard."
    : "Could not copy: it is selected, copy it with your keyboard.";
  if (!copied) input.select();
});

$("webhook-secret-done").addEventListener("click", () => {
  forgetSecret();
  urlInput().focus();
});

// ------------------------------------------------- while you were away

/**
 * The notice for what arrived while the user had no stream. `ready` says how
 * many events of the offline backlog follow it; those are tallied by room and
 * by person as they arrive, and the notice says where they went ("3 new in
 * #general, 1 from @bob"), each part a button that opens it. It sits above
 * the chat in the page's flow, never over the composer, until dismissed.
 */
function startBacklog(count) {
  state.backlog = count > 0 ? { left: count } : null;
}

/** Counts one event of the backlog, if one is arriving (edits and deletes
 *  are part of it, but not news to tell). */
function tally(kind, data) {
  if (!state.backlog) return;
  if (--state.backlog.left <= 0) state.backlog = null;
  if (kind === "message_edited" || kind === "message_deleted") return;
  const away = state.away || (state.away = { rooms: new Map(), people: new Map(), notes: 0 });
  if (kind === "notification") away.notes += 1;
  else if (data.sender.id === state.user.id) return; // the user's own, from another device
  else if (kind === "message") away.rooms.set(data.room_id, (away.rooms.get(data.room_id) || 0) + 1);
  else {
    const key = data.sender.username.toLowerCase();
    const seen = away.people.get(key);
    away.people.set(key, { user: data.sender, count: (seen?.count || 0) + 1 });
  }
  showAway();
}

function showAway() {
  const away = state.away;
  const box = $("away-parts");
  box.replaceChildren();
  const parts = [];
  for (const [id, count] of away.rooms) {
    const room = state.rooms.get(id);
    if (!room) refreshRoom(id).then((r) => { if (r && state.away === away) showAway(); });
    parts.push(button("link", `${count} new in #${room ? room.name : "…"}`, async () => {
      await openRoom(state.rooms.get(id) || await api("GET", `/rooms/${encodeURIComponent(id)}`));
    }));
  }
  for (const { user, count } of away.people.values()) {
    parts.push(button("link", `${count} from @${user.username}`, () => openDm(user.username, user.display_name)));
  }
  if (away.notes) parts.push(el("span", "", plural(away.notes, "notification")));
  parts.forEach((part, i) => box.append(...(i ? [", ", part] : [part])));
  $("away").hidden = parts.length === 0;
}

$("away-dismiss").addEventListener("click", () => {
  $("away").hidden = true;
  state.away = null;
});

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
    // `ready.rooms` is every room the user belongs to. When it changed
    // since the last stream, rooms were joined or left elsewhere meanwhile.
    const before = state.readyRooms;
    state.myRooms = new Set(ready.rooms);
    state.readyRooms = new Set(ready.rooms);
    state.myRoomsKnown = true;
    if (before && (ready.rooms.some((id) => !before.has(id)) || [...before].some((id) => !state.myRooms.has(id)))) {
      myRoomList.reset().catch(() => {});
    }
    onlineList.reset().catch(() => {});
    startBacklog(ready.offline_count);
    if (state.lastEventId && !ready.resumed && state.view) {
      // The gap could not be replayed: reload the view from history.
      resetAndReload().catch(showError);
    }
  });
  es.addEventListener("message", (e) => {
    const m = JSON.parse(e.data);
    state.lastEventId = e.lastEventId || state.lastEventId;
    tally("message", m);
    roomActivity(m);
    stoppedTyping(roomKey(m.room_id), m.sender.id);
    countMessage(roomKey(m.room_id), m); // (appendLive marks it read if seen)
    if (state.view?.kind === "room" && state.view.id === m.room_id) appendLive(m);
  });
  es.addEventListener("direct_message", (e) => {
    const m = JSON.parse(e.data);
    state.lastEventId = e.lastEventId || state.lastEventId;
    tally("direct_message", m);
    // The event names both people: show the conversation from it.
    const other = otherOf(m);
    stoppedTyping(dmKey(other.username), m.sender.id);
    countMessage(dmKey(other.username), m);
    upsertConversation(other, { latest: true });
    if (state.view?.kind === "dm" && sameUser(state.view.username, other.username)) appendLive(m);
  });
  // An edit or delete, by the sender on any device: shown where the message
  // is (a message not loaded here is left alone; history has the new version).
  for (const kind of ["message_edited", "message_deleted"]) {
    es.addEventListener(kind, (e) => {
      const m = JSON.parse(e.data);
      state.lastEventId = e.lastEventId || state.lastEventId;
      tally(kind, m);
      if (m.deleted_at) uncountMessage(keyOf(m), m.id);
      if (inView(m)) updateMessage(m);
    });
  }
  es.addEventListener("typing", (e) => someoneTyping(JSON.parse(e.data)));
  // The user read something on another device (or this one): follow it.
  es.addEventListener("read", (e) => {
    const r = JSON.parse(e.data);
    if (r.room_id) moveMarker(roomKey(r.room_id), r.message_id);
    else if (r.username) moveMarker(dmKey(r.username), r.message_id);
  });
  for (const kind of ["member_joined", "member_left"]) {
    es.addEventListener(kind, (e) => {
      const ev = JSON.parse(e.data);
      // The event has no count; the room's own record, written before the
      // event was sent, has it.
      refreshRoom(ev.room_id).then((room) => {
        if (!room || ev.user.id !== state.user.id) return;
        if (kind === "member_joined") addToMyRooms(room); // joined on another device
        else removeFromMyRooms(room.id);
      });
      if (state.view?.kind === "room" && state.view.id === ev.room_id && !$("members").hidden) {
        loadMembers().catch(() => {});
      }
    });
  }
  es.addEventListener("notification", (e) => {
    tally("notification", null);
    toast(JSON.parse(e.data).text);
  });
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
  state.backlog = null;
  const delay = state.retryDelay;
  state.retryDelay = Math.min(state.retryDelay * 2, 10000);
  setTimeout(() => { if (state.token && !state.events) connect(); }, delay);
}

async function resetAndReload() {
  const v = state.view;
  if (v.kind === "room") await openRoom(await api("GET", `/rooms/${encodeURIComponent(v.id)}`));
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
