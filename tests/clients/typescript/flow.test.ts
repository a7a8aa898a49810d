// Drives a live confab (CONFAB_URL) with the fetch client that
// @hey-api/openapi-ts generated from openapi/openapi.json into generated/,
// using nothing but generated code. Compiled with `tsc --strict`, so a
// response used against its generated type fails the build; at run time
// every response and stream event is also checked against the generated
// JSON schemas (conforms.ts), so the types match what the server sends.

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, test } from 'node:test';

import { conforms, optionalSeen, violations, schemaNamed } from './conforms';
import { type Client, createClient, createConfig } from './generated/client';
import {
  createRoom,
  createTicket,
  deleteDirectMessage,
  deleteRoomMessage,
  editDirectMessage,
  editRoomMessage,
  getMe,
  getRoom,
  getRoomStats,
  getUser,
  joinRoom,
  leaveRoom,
  listConversations,
  listDirectMessages,
  listMembers,
  listMyRooms,
  listOnlineUsers,
  listRoomMessages,
  listRooms,
  login,
  logout,
  markConversationRead,
  markRoomRead,
  openEvents,
  register,
  sendDirectMessage,
  sendDirectTyping,
  sendNotification,
  sendRoomMessage,
  sendRoomTyping,
} from './generated/sdk.gen';
import type {
  Conversation,
  DirectMessage,
  MemberEvent,
  Message,
  MyRoom,
  Notification,
  Problem,
  ReadEvent,
  Ready,
  Room,
  StreamEvent,
  TypingEvent,
  User,
} from './generated/types.gen';

const BASE_URL = process.env.CONFAB_URL ?? 'http://127.0.0.1:8080';
const RUN = randomBytes(4).toString('hex');
const PASSWORD = 'correct horse battery';

// ---- Compile-time checks on the generated types --------------------------

// The data of each event name, as the document's StreamEvent description
// lists them. If the generated StreamEvent union stops being exactly these
// types, this file stops compiling.
type EventData = {
  ready: Ready;
  message: Message;
  direct_message: DirectMessage;
  member_joined: MemberEvent;
  member_left: MemberEvent;
  notification: Notification;
  // A room's message or a conversation's, as it is after the change: only
  // the shape tells them apart (`'room_id' in data`).
  message_edited: Message | DirectMessage;
  message_deleted: Message | DirectMessage;
  typing: TypingEvent;
  read: ReadEvent;
};
type Equals<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
const streamEventIsTheUnion: Equals<EventData[keyof EventData], StreamEvent> = true;
void streamEventIsTheUnion;

/** An event with its data typed by its name. */
type TypedEvent = { [K in keyof EventData]: { event: K; id: string | undefined; data: EventData[K] } }[keyof EventData];
type EventOf<K extends keyof EventData> = Extract<TypedEvent, { event: K }>;

// The generated schemas each event name's data must match exactly one of;
// a name missing here (or one EventData lacks) fails the build.
const schemasOf: { [K in keyof EventData]: readonly string[] } = {
  ready: ['Ready'],
  message: ['Message'],
  direct_message: ['DirectMessage'],
  member_joined: ['MemberEvent'],
  member_left: ['MemberEvent'],
  notification: ['Notification'],
  message_edited: ['Message', 'DirectMessage'],
  message_deleted: ['Message', 'DirectMessage'],
  typing: ['TypingEvent'],
  read: ['ReadEvent'],
};

/** Checks an event's data against the schemas of its name: exactly one must match. */
function conformsToOne(data: unknown, names: readonly string[], event: string): void {
  const failures = names.map((name) => violations(data, schemaNamed(name), name, name));
  const matching = failures.filter((problems) => problems.length === 0).length;
  if (matching !== 1) {
    throw new Error(
      `${event} data matches ${matching} of ${names.join(', ')}:\n  ${failures.flat().join('\n  ')}\n${JSON.stringify(data)}`,
    );
  }
}

// ---- Every request goes through this fetch, to check URLs -----------------

type Seen = { url: string; authorization: string | null };
const requests: Seen[] = [];
const recordingFetch: typeof fetch = async (input, init) => {
  const request = new Request(input, init);
  requests.push({ url: request.url, authorization: request.headers.get('Authorization') });
  return fetch(request);
};

function newClient(token?: string): Client {
  return createClient(createConfig({ baseUrl: BASE_URL, fetch: recordingFetch, auth: token }));
}

/** Asserts a typed success, checks it against its schema and returns its data. */
function ok<T>(
  result: { data?: T; error?: unknown; response: Response },
  status: number,
  schema: string,
): T {
  assert.equal(result.response.status, status, JSON.stringify(result.error));
  assert.equal(result.error, undefined);
  assert.ok(result.data !== undefined);
  return conforms(result.data, schema);
}

/** Asserts a typed problem document with this status and code; returns it. */
function problem(result: { error?: Problem; response: Response }, status: number, code: string): Problem {
  assert.equal(result.response.status, status);
  assert.match(result.response.headers.get('Content-Type') ?? '', /^application\/problem\+json/);
  const error = result.error;
  assert.ok(error !== undefined, 'expected an error');
  conforms(error, 'Problem');
  assert.equal(error.code, code);
  assert.equal(error.status, status);
  assert.equal(error.type, `/problems/${code}`);
  return error;
}

type Account = { username: string; user: User; token: string; client: Client };
const accounts: Account[] = [];

async function account(name: string, displayName: string): Promise<Account> {
  const username = `ts_${name}_${RUN}`;
  const anonymous = newClient();
  const user = ok(
    await register({ client: anonymous, body: { username, password: PASSWORD, display_name: displayName } }),
    201,
    'User',
  );
  assert.equal(user.display_name, displayName);
  const session = ok(await login({ client: anonymous, body: { username, password: PASSWORD } }), 200, 'LoginResponse');
  assert.equal(session.token_type, 'Bearer');
  assert.equal(session.user.id, user.id);
  const created = { username, user, token: session.access_token, client: newClient(session.access_token) };
  accounts.push(created);
  return created;
}

/** Asserts a 204 answer: no error, no body. */
function noContent(result: { error?: unknown; response: Response }): void {
  assert.equal(result.response.status, 204, JSON.stringify(result.error));
  assert.equal(result.error, undefined);
}

// ---- The event stream, read through the generated openEvents -------------

type EventStream = {
  /** The stream's `ready` (its backlog already read). */
  ready: Ready;
  /** The next event, typed by its name, its data checked against that name's schemas. */
  next(): Promise<TypedEvent>;
  /** Reads until an event `name` whose data `match`es; returns it. */
  expect<K extends keyof EventData>(name: K, match?: (data: EventData[K]) => boolean): Promise<EventOf<K>>;
  close(): void;
};

/**
 * Opens a stream with the client's bearer token (or, given one, a ticket
 * alone) and reads its `ready` and backlog. A read that takes more than 10 s
 * aborts the stream, which fails the test: nothing here sleeps.
 */
async function openStream(client: Client, ticket?: string): Promise<EventStream> {
  const abort = new AbortController();
  let last: { event: string | undefined; id: string | undefined } = { event: undefined, id: undefined };
  const { stream } = await openEvents({
    client,
    query: ticket === undefined ? undefined : { ticket },
    signal: abort.signal,
    sseMaxRetryAttempts: 1,
    // Called for each event before the stream yields its data: the event's name and id.
    onSseEvent: (event) => {
      if (event.data !== undefined) last = { event: event.event, id: event.id };
    },
  });

  async function read(waitingFor: string): Promise<TypedEvent> {
    const { value, done } = await stream.next();
    assert.ok(!done, `the stream ended (or 10 s passed) waiting for ${waitingFor}`);
    const data: StreamEvent = value;
    const event = last.event;
    assert.ok(event !== undefined && event in schemasOf, `unknown event ${event}`);
    conformsToOne(data, schemasOf[event as keyof EventData], event);
    return { event, id: last.id, data } as TypedEvent;
  }
  async function within10s<T>(work: () => Promise<T>): Promise<T> {
    const timeout = setTimeout(() => abort.abort(), 10_000);
    try {
      return await work();
    } finally {
      clearTimeout(timeout);
    }
  }
  const next = () => within10s(() => read('the next event'));
  const expect = <K extends keyof EventData>(name: K, match: (data: EventData[K]) => boolean = () => true) =>
    within10s(async () => {
      for (;;) {
        const event = await read(name);
        if (event.event === name && match(event.data as EventData[K])) return event as EventOf<K>;
      }
    });

  const first = await next();
  assert.equal(first.event, 'ready');
  const ready = first.data as Ready;
  for (let i = 0; i < ready.offline_count; i++) await next(); // what arrived before this stream
  return { ready, next, expect, close: () => abort.abort() };
}

let alice: Account;
let bob: Account;
let room: Room;

before(async () => {
  alice = await account('alice', 'Alice');
  bob = await account('bob', 'Bob');
});

after(() => {
  // No request ever carried an access token in its URL.
  assert.ok(requests.length > 20);
  for (const { url } of requests) {
    assert.ok(!url.includes(alice.token) && !url.includes(bob.token), `token in a URL: ${url}`);
  }
  for (const { url } of requests) {
    for (const { token } of accounts) assert.ok(!url.includes(token), `token in a URL: ${url}`);
  }
  const always = [...optionalSeen].filter(([, seen]) => seen.absent === 0).map(([name]) => name);
  if (always.length > 0) console.log(`# optional fields that were always present: ${always.join(', ')}`);
});

test('accounts: me, another user, username_taken, validation_failed, invalid_credentials', async () => {
  const me = ok(await getMe({ client: alice.client }), 200, 'User');
  assert.equal(me.id, alice.user.id);
  const other = ok(await getUser({ client: alice.client, path: { username: bob.username } }), 200, 'PublicUser');
  assert.equal(other.id, bob.user.id);
  assert.equal(typeof other.online, 'boolean');

  const anonymous = newClient();
  problem(
    await register({ client: anonymous, body: { username: alice.username.toUpperCase(), password: PASSWORD } }),
    409,
    'username_taken',
  );
  const short = problem(
    await register({ client: anonymous, body: { username: `ts_short_${RUN}`, password: 'short' } }),
    400,
    'validation_failed',
  );
  assert.equal(short.field, 'password');
  problem(
    await login({ client: anonymous, body: { username: alice.username, password: 'not the password' } }),
    401,
    'invalid_credentials',
  );
});

test('rooms: create, join, members, directory, room_not_found, room_name_taken', async () => {
  room = ok(
    await createRoom({ client: alice.client, body: { name: `ts-room-${RUN}`, topic: 'generated clients' } }),
    201,
    'Room',
  );
  assert.equal(room.created_by, alice.user.id);
  assert.equal(room.member_count, 1);
  assert.equal(room.last_activity_at, null);
  const joined = ok(await joinRoom({ client: bob.client, path: { room_id: room.id } }), 200, 'Room');
  assert.equal(joined.member_count, 2);

  const fetched = ok(await getRoom({ client: bob.client, path: { room_id: room.id } }), 200, 'Room');
  assert.equal(fetched.name, room.name);
  const mine = ok(await listMyRooms({ client: bob.client }), 200, 'MyRoomList');
  assert.deepEqual(
    mine.items.map((r) => r.id),
    [room.id],
  );
  // A MyRoom is a Room (allOf) with the caller's read state.
  const [myRoom]: MyRoom[] = mine.items;
  assert.equal(myRoom?.name, room.name);
  assert.equal(myRoom?.last_read_id, null);
  assert.equal(mine.next_cursor, null);
  const directory = ok(await listRooms({ client: bob.client, query: { sort: 'recent', limit: 100 } }), 200, 'RoomList');
  assert.ok(directory.items.some((r) => r.id === room.id));
  const members = ok(await listMembers({ client: alice.client, path: { room_id: room.id } }), 200, 'MemberList');
  assert.deepEqual(members.items.map((m) => m.user.username).sort(), [alice.username, bob.username].sort());

  problem(await createRoom({ client: bob.client, body: { name: room.name.toUpperCase() } }), 409, 'room_name_taken');
  const empty = problem(await createRoom({ client: bob.client, body: { name: '' } }), 400, 'validation_failed');
  assert.equal(empty.field, 'name');
  problem(await getRoom({ client: alice.client, path: { room_id: `no-such-room-${RUN}` } }), 404, 'room_not_found');
});

test('messages: send, repeat a client_id (200, same message), page back with before, stats', async () => {
  const sent: Message[] = [];
  for (let i = 0; i < 7; i++) {
    const who = i % 2 === 0 ? alice : bob;
    const result = await sendRoomMessage({
      client: who.client,
      path: { room_id: room.id },
      body: { body: `message ${i}`, client_id: `ts-${RUN}-${i}` },
    });
    sent.push(ok(result, 201, 'Message'));
  }
  const first = sent[0]!;
  assert.equal(first.room_id, room.id);
  assert.equal(first.sender.id, alice.user.id);
  assert.equal(first.client_id, `ts-${RUN}-0`);

  const repeat = ok(
    await sendRoomMessage({
      client: alice.client,
      path: { room_id: room.id },
      body: { body: 'message 0', client_id: `ts-${RUN}-0` },
    }),
    200,
    'Message',
  );
  assert.deepEqual(repeat, first);

  let page = ok(await listRoomMessages({ client: bob.client, path: { room_id: room.id }, query: { limit: 3 } }), 200, 'MessagePage');
  let seen = page.messages;
  let pages = 1;
  while (page.has_more) {
    const oldest = page.messages[0]!;
    page = ok(
      await listRoomMessages({ client: bob.client, path: { room_id: room.id }, query: { limit: 3, before: oldest.id } }),
      200,
      'MessagePage',
    );
    seen = [...page.messages, ...seen];
    pages++;
  }
  assert.equal(pages, 3);
  assert.deepEqual(seen, sent);

  const stats = ok(await getRoomStats({ client: alice.client, path: { room_id: room.id } }), 200, 'RoomStats');
  assert.equal(stats.message_count, 7);
  assert.deepEqual(
    stats.top_senders.map((t) => [t.user.id, t.count]),
    [
      [alice.user.id, 4],
      [bob.user.id, 3],
    ],
  );

  const blank = problem(
    await sendRoomMessage({ client: alice.client, path: { room_id: room.id }, body: { body: ' ' } }),
    400,
    'validation_failed',
  );
  assert.equal(blank.field, 'body');
  const badLimit = problem(
    await listRoomMessages({ client: alice.client, path: { room_id: room.id }, query: { limit: 0 } }),
    400,
    'validation_failed',
  );
  assert.equal(badLimit.field, 'limit');
  problem(
    await sendRoomMessage({ client: alice.client, path: { room_id: `no-such-room-${RUN}` }, body: { body: 'hello?' } }),
    404,
    'room_not_found',
  );
});

test('direct messages and conversations', async () => {
  const dm = ok(
    await sendDirectMessage({
      client: alice.client,
      path: { username: bob.username },
      body: { body: 'hi bob', client_id: `ts-dm-${RUN}` },
    }),
    201,
    'DirectMessage',
  );
  assert.equal(dm.recipient.id, bob.user.id);
  const repeat = ok(
    await sendDirectMessage({
      client: alice.client,
      path: { username: bob.username },
      body: { body: 'hi bob', client_id: `ts-dm-${RUN}` },
    }),
    200,
    'DirectMessage',
  );
  assert.deepEqual(repeat, dm);
  const history = ok(
    await listDirectMessages({ client: bob.client, path: { username: alice.username } }),
    200,
    'DirectMessagePage',
  );
  assert.deepEqual(history.messages, [dm]);
  assert.equal(history.has_more, false);
  const conversations = ok(await listConversations({ client: bob.client }), 200, 'ConversationList');
  assert.deepEqual(
    conversations.items.map((c) => [c.user.username, c.last_message.id]),
    [[alice.username, dm.id]],
  );
  problem(
    await sendDirectMessage({ client: alice.client, path: { username: `ts_nobody_${RUN}` }, body: { body: 'anyone?' } }),
    404,
    'user_not_found',
  );
});

test('stream: openEvents with the bearer token yields typed ready, message, direct_message, member_left/joined, notification', async () => {
  const events = await openStream(alice.client);
  const next = events.next;
  try {
    const ready: Ready = events.ready;
    assert.equal(ready.user_id, alice.user.id);
    assert.ok(ready.rooms.includes(room.id));
    assert.equal(ready.resumed, false);

    const online = ok(await listOnlineUsers({ client: bob.client, query: { limit: 100 } }), 200, 'PublicUserList');
    const me = online.items.find((u) => u.id === alice.user.id);
    assert.ok(me?.online);
    assert.equal(me.last_seen_at, null);

    const sent = ok(
      await sendRoomMessage({ client: bob.client, path: { room_id: room.id }, body: { body: 'live!' } }),
      201,
      'Message',
    );
    const live = await next();
    assert.equal(live.event, 'message');
    if (live.event !== 'message') return;
    const message: Message = live.data; // typed by the event name, checked against MessageSchema
    assert.deepEqual(message, sent);
    assert.equal(message.client_id, null);
    assert.ok(live.id && live.id !== message.id, 'a message event carries a resume token as its id');

    // The other event types, each typed by its name and checked against its schema.
    const dm = ok(
      await sendDirectMessage({ client: bob.client, path: { username: alice.username }, body: { body: 'psst' } }),
      201,
      'DirectMessage',
    );
    const direct = await next();
    assert.equal(direct.event, 'direct_message');
    if (direct.event !== 'direct_message') return;
    const received: DirectMessage = direct.data;
    assert.deepEqual(received, dm);

    const left = await leaveRoom({ client: bob.client, path: { room_id: room.id } });
    assert.equal(left.response.status, 204);
    const gone = await next();
    assert.equal(gone.event, 'member_left');
    if (gone.event !== 'member_left') return;
    const leaver: MemberEvent = gone.data;
    assert.equal(leaver.room_id, room.id);
    assert.equal(leaver.user.id, bob.user.id);
    ok(await joinRoom({ client: bob.client, path: { room_id: room.id } }), 200, 'Room');
    const back = await next();
    assert.equal(back.event, 'member_joined');
    if (back.event !== 'member_joined') return;
    assert.equal(back.data.user.id, bob.user.id);

    // Operator notifications need the admin key (X-Admin-Key, an apiKey scheme).
    const adminKey = process.env.CONFAB_ADMIN_KEY;
    if (adminKey) {
      const admin = createClient(createConfig({ baseUrl: BASE_URL, fetch: recordingFetch, auth: adminKey }));
      const accepted = ok(
        await sendNotification({ client: admin, body: { text: `hello ${RUN}`, usernames: [alice.username] } }),
        202,
        'NotificationAccepted',
      );
      assert.equal(accepted.recipients, 1);
      const note = await next();
      assert.equal(note.event, 'notification');
      if (note.event !== 'notification') return;
      const notification: Notification = note.data;
      assert.equal(notification.text, `hello ${RUN}`);
      assert.equal(notification.kind, 'announcement');
    } else {
      console.log('# CONFAB_ADMIN_KEY unset: the notification event was not checked');
    }
  } finally {
    events.close();
  }

  // The stream went out with the token in the Authorization header only.
  const streamRequest = requests.find((r) => new URL(r.url).pathname === '/api/v1/events');
  assert.ok(streamRequest);
  assert.equal(streamRequest.authorization, `Bearer ${alice.token}`);
  assert.equal(new URL(streamRequest.url).search, '');
});

test('ticket: createTicket, then openEvents with only ?ticket= (the EventSource way)', async () => {
  const ticket = ok(await createTicket({ client: bob.client }), 201, 'Ticket');
  assert.ok(ticket.expires_in > 0);
  assert.notEqual(ticket.ticket, bob.token);
  const abort = new AbortController();
  const names: (string | undefined)[] = [];
  const { stream } = await openEvents({
    client: newClient(), // no token: the ticket alone opens the stream
    query: { ticket: ticket.ticket },
    signal: abort.signal,
    sseMaxRetryAttempts: 1,
    onSseEvent: (event) => {
      if (event.data !== undefined) names.push(event.event);
    },
  });
  const timeout = setTimeout(() => abort.abort(), 10_000);
  try {
    const { value } = await stream.next();
    assert.deepEqual(names, ['ready']);
    const ready = conforms(value, 'Ready') as Ready;
    assert.equal(ready.user_id, bob.user.id);
  } finally {
    clearTimeout(timeout);
    abort.abort();
  }
});

async function myRoom(who: Account, roomId: string): Promise<MyRoom> {
  const mine = ok(await listMyRooms({ client: who.client }), 200, 'MyRoomList');
  const found = mine.items.filter((r) => r.id === roomId);
  assert.equal(found.length, 1);
  return found[0]!;
}

async function conversationWith(who: Account, other: Account): Promise<Conversation> {
  const listed = ok(await listConversations({ client: who.client }), 200, 'ConversationList');
  const found = listed.items.filter((c) => c.user.username === other.username);
  assert.equal(found.length, 1);
  return found[0]!;
}

test('v1.1: unread counts and read markers, typing, edits and deletes, as two users see them', async () => {
  const carol = await account('carol', 'Carol');
  const dave = await account('dave', 'Dave');
  const v11 = ok(await createRoom({ client: carol.client, body: { name: `ts-v11-${RUN}` } }), 201, 'Room');
  ok(await joinRoom({ client: dave.client, path: { room_id: v11.id } }), 200, 'Room');
  const inRoom = { room_id: v11.id };
  const toDave = { username: dave.username };
  const toCarol = { username: carol.username };

  const carols = await openStream(carol.client);
  const ticket = ok(await createTicket({ client: dave.client }), 201, 'Ticket');
  const daves = await openStream(newClient(), ticket.ticket);
  try {
    assert.equal(carols.ready.offline_count, 0);
    assert.equal(daves.ready.offline_count, 0);

    const say = async (text: string): Promise<Message> => {
      const sent = ok(await sendRoomMessage({ client: carol.client, path: inRoom, body: { body: text } }), 201, 'Message');
      assert.equal(sent.edited_at, null);
      assert.equal(sent.deleted_at, null);
      await daves.expect('message', (m) => m.id === sent.id);
      return sent;
    };
    let lastToken: string | undefined; // the resume token of the latest direct_message
    const whisper = async (text: string): Promise<DirectMessage> => {
      const sent = ok(
        await sendDirectMessage({ client: carol.client, path: toDave, body: { body: text } }),
        201,
        'DirectMessage',
      );
      lastToken = (await daves.expect('direct_message', (m) => m.id === sent.id)).id;
      return sent;
    };
    const m1 = await say('one');
    const m2 = await say('two');
    const m3 = await say('three');
    const d1 = await whisper('psst');
    const d2 = await whisper('still there?');

    // Unread counts: messages from others after the marker (none yet).
    let mine = await myRoom(dave, v11.id);
    assert.deepEqual([mine.unread_count, mine.last_read_id, mine.name, mine.message_count], [3, null, v11.name, 3]);
    assert.equal((await myRoom(carol, v11.id)).unread_count, 0); // her own messages
    let talk = await conversationWith(dave, carol);
    assert.deepEqual([talk.unread_count, talk.last_read_id, talk.last_message.id], [2, null, d2.id]);
    assert.equal((await conversationWith(carol, dave)).unread_count, 0);

    // Mark read: 204, a `read` event on the reader's own stream, counts drop.
    noContent(await markRoomRead({ client: dave.client, path: inRoom, body: { message_id: m2.id } }));
    let read: ReadEvent = (await daves.expect('read')).data;
    assert.deepEqual(read, { room_id: v11.id, username: null, message_id: m2.id });
    mine = await myRoom(dave, v11.id);
    assert.deepEqual([mine.unread_count, mine.last_read_id], [1, m2.id]);
    // Never backwards: an older id is accepted and changes nothing.
    noContent(await markRoomRead({ client: dave.client, path: inRoom, body: { message_id: m1.id } }));
    assert.equal((await myRoom(dave, v11.id)).last_read_id, m2.id);
    noContent(await markRoomRead({ client: dave.client, path: inRoom, body: { message_id: m3.id } }));
    read = (await daves.expect('read', (r) => r.message_id === m3.id)).data;
    assert.equal(read.room_id, v11.id);
    assert.equal((await myRoom(dave, v11.id)).unread_count, 0);

    noContent(await markConversationRead({ client: dave.client, path: toCarol, body: { message_id: d2.id } }));
    read = (await daves.expect('read')).data;
    assert.deepEqual(read, { room_id: null, username: carol.username, message_id: d2.id });
    talk = await conversationWith(dave, carol);
    assert.deepEqual([talk.unread_count, talk.last_read_id], [0, d2.id]);
    // A message of another conversation or room is not a marker: 400.
    problem(
      await markRoomRead({ client: dave.client, path: inRoom, body: { message_id: d1.id } }),
      400,
      'validation_failed',
    );

    // Typing: the other user's stream gets it, room and direct.
    noContent(await sendRoomTyping({ client: carol.client, path: inRoom }));
    let typing: TypingEvent = (await daves.expect('typing')).data;
    assert.deepEqual(typing, {
      room_id: v11.id,
      user: { id: carol.user.id, username: carol.username, display_name: 'Carol' },
    });
    noContent(await sendDirectTyping({ client: carol.client, path: toDave }));
    typing = (await daves.expect('typing', (t) => t.room_id === null)).data;
    assert.equal(typing.user.username, carol.username);
    problem(await sendDirectTyping({ client: carol.client, path: toCarol }), 400, 'validation_failed');

    // Edit: 200 with edited_at; the other user's stream and history show it.
    const edited = ok(
      await editRoomMessage({
        client: carol.client,
        path: { ...inRoom, message_id: m3.id },
        body: { body: 'three, edited' },
      }),
      200,
      'Message',
    );
    assert.deepEqual([edited.id, edited.body, edited.created_at], [m3.id, 'three, edited', m3.created_at]);
    assert.ok(edited.edited_at !== null);
    assert.equal(edited.deleted_at, null);
    const change = await daves.expect('message_edited');
    assert.ok('room_id' in change.data, 'a room message');
    assert.deepEqual(change.data, edited);
    // Its own `id:` (a resume token): events without one (read, typing) leave
    // the last id in place, as EventSource does.
    assert.ok(
      change.id && change.id !== lastToken && change.id !== edited.id,
      'message_edited carries a resume token',
    );
    let history = ok(await listRoomMessages({ client: dave.client, path: inRoom }), 200, 'MessagePage');
    assert.deepEqual(history.messages, [m1, m2, edited]);

    const dmEdited = ok(
      await editDirectMessage({ client: carol.client, path: { ...toDave, message_id: d2.id }, body: { body: 'you there?' } }),
      200,
      'DirectMessage',
    );
    assert.ok(dmEdited.edited_at !== null);
    const dmChange = await daves.expect('message_edited', (m) => m.id === d2.id);
    assert.ok('recipient' in dmChange.data, 'a direct message');
    assert.deepEqual(dmChange.data, dmEdited);

    // Only the sender edits or deletes; another room's message is not found.
    problem(
      await editRoomMessage({ client: dave.client, path: { ...inRoom, message_id: m2.id }, body: { body: 'mine now' } }),
      403,
      'not_your_message',
    );
    problem(await deleteRoomMessage({ client: dave.client, path: { ...inRoom, message_id: m2.id } }), 403, 'not_your_message');
    problem(
      await deleteDirectMessage({ client: dave.client, path: { ...toCarol, message_id: d1.id } }),
      403,
      'not_your_message',
    );
    problem(
      await editRoomMessage({ client: carol.client, path: { ...inRoom, message_id: d1.id }, body: { body: 'where?' } }),
      404,
      'message_not_found',
    );

    // Delete: 204 (again too); message_deleted; history keeps the place.
    noContent(await deleteRoomMessage({ client: carol.client, path: { ...inRoom, message_id: m1.id } }));
    const deletion = await daves.expect('message_deleted');
    const deleted = deletion.data;
    assert.ok('room_id' in deleted);
    assert.equal(deleted.id, m1.id);
    assert.equal(deleted.body, null);
    assert.ok(deleted.deleted_at !== null);
    noContent(await deleteRoomMessage({ client: carol.client, path: { ...inRoom, message_id: m1.id } }));
    history = ok(await listRoomMessages({ client: dave.client, path: inRoom }), 200, 'MessagePage');
    assert.deepEqual(history.messages, [deleted, m2, edited]);
    problem(
      await editRoomMessage({ client: carol.client, path: { ...inRoom, message_id: m1.id }, body: { body: 'back?' } }),
      404,
      'message_not_found',
    );

    noContent(await deleteDirectMessage({ client: carol.client, path: { ...toDave, message_id: d1.id } }));
    const dmDeleted = (await daves.expect('message_deleted', (m) => m.id === d1.id)).data;
    assert.ok('recipient' in dmDeleted);
    assert.equal(dmDeleted.body, null);
    const dms = ok(await listDirectMessages({ client: dave.client, path: toCarol }), 200, 'DirectMessagePage');
    assert.deepEqual(dms.messages, [dmDeleted, dmEdited]);

    // A deleted message stops counting as unread.
    const m4 = await say('four');
    assert.equal((await myRoom(dave, v11.id)).unread_count, 1);
    noContent(await deleteRoomMessage({ client: carol.client, path: { ...inRoom, message_id: m4.id } }));
    await daves.expect('message_deleted', (m) => m.id === m4.id);
    assert.equal((await myRoom(dave, v11.id)).unread_count, 0);

    // The sender's own stream gets her edits and deletes too.
    await carols.expect('message_edited', (m) => m.id === m3.id);
    await carols.expect('message_deleted', (m) => m.id === m4.id);
  } finally {
    carols.close();
    daves.close();
  }

  // A typing flood: beyond 30 a minute, 429 rate_limited with Retry-After.
  const statuses: number[] = [];
  for (let i = 0; i < 40; i++) {
    const result = await sendRoomTyping({ client: dave.client, path: inRoom });
    statuses.push(result.response.status);
    if (result.response.status === 429) {
      problem(result, 429, 'rate_limited');
      assert.ok(Number(result.response.headers.get('Retry-After')) > 0);
      break;
    }
  }
  assert.equal(statuses.at(-1), 429, JSON.stringify(statuses));
  assert.ok(statuses.length > 30 && statuses.slice(0, -1).every((status) => status === 204), JSON.stringify(statuses));
});

test('401: missing_token, invalid_token, and after logout', async () => {
  problem(await getMe({ client: newClient() }), 401, 'missing_token');
  problem(await getMe({ client: newClient('not.a.token') }), 401, 'invalid_token');
  const out = await logout({ client: alice.client });
  assert.equal(out.response.status, 204);
  problem(await getMe({ client: alice.client }), 401, 'invalid_token');
});
