"""Drives a live confab with the client openapi-python-client generated from
openapi/openapi.json (package `confab_client`, put on PYTHONPATH by
scripts/client-test.sh), using only generated code except for the event
stream (see sse.py). CONFAB_URL is the server's base URL.

Every parsed model is also checked to hold exactly what the document
describes: no `additional_properties` (a field the server sends that the
document lacks), recursively.
"""

import json
import os
import secrets
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http import HTTPStatus
from typing import Any

import attrs
import httpx
import pytest

from confab_client import AuthenticatedClient, Client
from confab_client.api.accounts import login, logout, register
from confab_client.api.messages import (
    delete_direct_message,
    delete_room_message,
    edit_direct_message,
    edit_room_message,
    list_conversations,
    list_direct_messages,
    list_room_messages,
    mark_conversation_read,
    mark_room_read,
    send_direct_message,
    send_direct_typing,
    send_room_message,
    send_room_typing,
)
from confab_client.api.realtime import create_ticket
from confab_client.api.rooms import (
    create_room,
    get_room,
    get_room_stats,
    join_room,
    list_members,
    list_my_rooms,
    list_rooms,
)
from confab_client.api.users import get_me, get_user, list_online_users
from confab_client.models import (
    Conversation,
    ConversationList,
    CreateRoomRequest,
    DirectMessage,
    DirectMessagePage,
    EditMessageRequest,
    LoginRequest,
    LoginResponse,
    MemberEvent,
    MemberList,
    Message,
    MessagePage,
    MyRoom,
    MyRoomList,
    Notification,
    Problem,
    PublicUser,
    PublicUserList,
    ReadEvent,
    ReadRequest,
    Ready,
    RegisterRequest,
    Room,
    RoomList,
    RoomOrder,
    RoomStats,
    SendMessageRequest,
    Ticket,
    TokenType,
    TypingEvent,
    User,
)
from confab_client.types import Response
from sse import sse_events

BASE_URL = os.environ.get("CONFAB_URL", "http://127.0.0.1:8080")
RUN = secrets.token_hex(4)
PASSWORD = "correct horse battery"


def exact(model: Any) -> Any:
    """Asserts that a generated model (and every model inside it) kept no
    field the document does not describe; returns it."""
    if isinstance(model, list):
        for item in model:
            exact(item)
    elif attrs.has(type(model)):
        extra = getattr(model, "additional_properties", {})
        assert extra == {}, f"{type(model).__name__} got undocumented fields {extra}"
        for field in attrs.fields(type(model)):
            if field.name != "additional_properties":
                exact(getattr(model, field.name))
    return model


def ok(response: Response[Any], status: HTTPStatus, model: type) -> Any:
    """The parsed body of a successful response, checked for its status and type."""
    assert response.status_code == status, (response.status_code, response.content)
    assert isinstance(response.parsed, model), type(response.parsed)
    return exact(response.parsed)


def problem(response: Response[Any], status: HTTPStatus, code: str) -> Problem:
    """The typed problem document of an error response."""
    assert response.status_code == status, (response.status_code, response.content)
    assert response.headers["content-type"].startswith("application/problem+json")
    parsed = response.parsed
    assert isinstance(parsed, Problem), type(parsed)
    exact(parsed)
    assert parsed.code == code, parsed
    assert parsed.status == int(status)
    assert parsed.type_ == f"/problems/{code}"
    return parsed


def no_content(response: Response[Any]) -> None:
    """Asserts a 204 answer without a body."""
    assert response.status_code == HTTPStatus.NO_CONTENT, (response.status_code, response.content)
    assert response.content == b"" and response.parsed is None


# The model of each event's data, by its `event:` name (the table in the
# document's StreamEvent description). message_edited and message_deleted
# carry a Message for a room and a DirectMessage for a conversation: nothing
# but the shape tells them apart (a Message has `room_id`).
EVENT_MODELS: dict[str, Callable[[dict[str, Any]], Any]] = {
    "ready": Ready.from_dict,
    "message": Message.from_dict,
    "direct_message": DirectMessage.from_dict,
    "member_joined": MemberEvent.from_dict,
    "member_left": MemberEvent.from_dict,
    "notification": Notification.from_dict,
    "message_edited": lambda d: (Message if "room_id" in d else DirectMessage).from_dict(d),
    "message_deleted": lambda d: (Message if "room_id" in d else DirectMessage).from_dict(d),
    "typing": TypingEvent.from_dict,
    "read": ReadEvent.from_dict,
}


class EventStream:
    """An account's open event stream, read with a deadline (never a sleep)."""

    def __init__(self, events: Iterator[tuple[str, str, str | None]]) -> None:
        self._events = events
        name, data, _ = next(events)
        assert name == "ready"
        self.ready: Ready = exact(Ready.from_dict(json.loads(data)))
        for _ in range(self.ready.offline_count):  # what arrived before this stream
            next(events)

    def expect(
        self, name: str, match: Callable[[Any], bool] = lambda _: True, timeout: float = 10.0
    ) -> tuple[Any, str | None]:
        """Reads until an event `name` whose parsed data `match`es (each event
        on the way is parsed and checked too); returns its data and `id:`."""
        deadline = time.monotonic() + timeout
        skipped: list[str] = []
        while time.monotonic() < deadline:
            try:
                event, data, last_id = next(self._events)
            except httpx.ReadTimeout:  # nothing at all for the stream's read timeout
                break
            assert event in EVENT_MODELS, f"event {event} is not in the document"
            parsed = exact(EVENT_MODELS[event](json.loads(data)))
            if event == name and match(parsed):
                return parsed, last_id
            skipped.append(event)
        raise AssertionError(f"no matching {name} event within {timeout} s (skipped {skipped})")


@contextmanager
def event_stream(account: "Account") -> Iterator[EventStream]:
    """Opens `account`'s event stream with a fresh ticket, past its ready and backlog."""
    ticket = ok(create_ticket.sync_detailed(client=account.client), HTTPStatus.CREATED, Ticket)
    with httpx.stream(
        "GET",
        f"{BASE_URL}/api/v1/events",
        params={"ticket": ticket.ticket},
        timeout=httpx.Timeout(10.0),
    ) as response:
        assert response.status_code == 200
        yield EventStream(sse_events(response))


class Account:
    def __init__(self, name: str, display_name: str) -> None:
        self.username = f"py_{name}_{RUN}"
        public = Client(base_url=BASE_URL)
        user = ok(
            register.sync_detailed(
                client=public,
                body=RegisterRequest(
                    username=self.username, password=PASSWORD, display_name=display_name
                ),
            ),
            HTTPStatus.CREATED,
            User,
        )
        assert user.username == self.username and user.display_name == display_name
        self.user: User = user
        session = ok(
            login.sync_detailed(
                client=public, body=LoginRequest(username=self.username, password=PASSWORD)
            ),
            HTTPStatus.OK,
            LoginResponse,
        )
        assert session.token_type == TokenType.BEARER
        assert session.user.id == user.id and session.expires_in > 0
        self.token: str = session.access_token
        self.client = AuthenticatedClient(base_url=BASE_URL, token=self.token)


@pytest.fixture(scope="module")
def alice() -> Account:
    return Account("alice", "Alice")


@pytest.fixture(scope="module")
def bob() -> Account:
    return Account("bob", "Bob")


@pytest.fixture(scope="module")
def room(alice: Account, bob: Account) -> Room:
    created = ok(
        create_room.sync_detailed(
            client=alice.client,
            body=CreateRoomRequest(name=f"py-room-{RUN}", topic="generated clients"),
        ),
        HTTPStatus.CREATED,
        Room,
    )
    assert created.created_by == alice.user.id
    assert created.member_count == 1 and created.message_count == 0
    assert created.last_activity_at is None and created.topic == "generated clients"
    joined = ok(
        join_room.sync_detailed(created.id, client=bob.client), HTTPStatus.OK, Room
    )
    assert joined.id == created.id and joined.member_count == 2
    return joined


def test_accounts(alice: Account, bob: Account) -> None:
    me = ok(get_me.sync_detailed(client=alice.client), HTTPStatus.OK, User)
    assert me.id == alice.user.id and me.created_at.tzinfo is not None
    other = ok(get_user.sync_detailed(bob.username, client=alice.client), HTTPStatus.OK, PublicUser)
    assert other.id == bob.user.id and other.display_name == "Bob"

    public = Client(base_url=BASE_URL)
    again = register.sync_detailed(
        client=public, body=RegisterRequest(username=alice.username.upper(), password=PASSWORD)
    )
    problem(again, HTTPStatus.CONFLICT, "username_taken")
    short = register.sync_detailed(
        client=public, body=RegisterRequest(username=f"py_short_{RUN}", password="short")
    )
    assert problem(short, HTTPStatus.BAD_REQUEST, "validation_failed").field == "password"
    wrong = login.sync_detailed(
        client=public, body=LoginRequest(username=alice.username, password="not the password")
    )
    problem(wrong, HTTPStatus.UNAUTHORIZED, "invalid_credentials")


def test_rooms_and_members(alice: Account, bob: Account, room: Room) -> None:
    fetched = ok(get_room.sync_detailed(room.id, client=bob.client), HTTPStatus.OK, Room)
    assert fetched.name == room.name
    mine = ok(list_my_rooms.sync_detailed(client=bob.client), HTTPStatus.OK, MyRoomList)
    assert [r.id for r in mine.items] == [room.id] and mine.next_cursor is None
    # A MyRoom is a Room (allOf, flattened by the generator) plus read state.
    assert mine.items[0].name == room.name and mine.items[0].last_read_id is None
    directory = ok(
        list_rooms.sync_detailed(client=bob.client, sort=RoomOrder.RECENT, limit=100),
        HTTPStatus.OK,
        RoomList,
    )
    assert room.id in [r.id for r in directory.items]
    members = ok(list_members.sync_detailed(room.id, client=alice.client), HTTPStatus.OK, MemberList)
    assert {m.user.username for m in members.items} == {alice.username, bob.username}
    # Latest joined first.
    assert members.items[0].user.id == bob.user.id
    assert members.items[0].joined_at >= members.items[1].joined_at

    taken = create_room.sync_detailed(client=bob.client, body=CreateRoomRequest(name=room.name.upper()))
    problem(taken, HTTPStatus.CONFLICT, "room_name_taken")
    empty = create_room.sync_detailed(client=bob.client, body=CreateRoomRequest(name=""))
    assert problem(empty, HTTPStatus.BAD_REQUEST, "validation_failed").field == "name"
    missing = get_room.sync_detailed(f"no-such-room-{RUN}", client=alice.client)
    problem(missing, HTTPStatus.NOT_FOUND, "room_not_found")


def test_send_repeat_and_page_history(alice: Account, bob: Account, room: Room) -> None:
    sent: list[Message] = []
    for i in range(7):
        who = alice if i % 2 == 0 else bob
        sent.append(
            ok(
                send_room_message.sync_detailed(
                    room.id,
                    client=who.client,
                    body=SendMessageRequest(body=f"message {i}", client_id=f"py-{RUN}-{i}"),
                ),
                HTTPStatus.CREATED,
                Message,
            )
        )
    first = sent[0]
    assert first.room_id == room.id and first.sender.id == alice.user.id
    assert first.body == "message 0" and first.client_id == f"py-{RUN}-0"

    # The same client_id again: 200 with the original message, nothing stored.
    repeat = ok(
        send_room_message.sync_detailed(
            room.id,
            client=alice.client,
            body=SendMessageRequest(body="message 0", client_id=f"py-{RUN}-0"),
        ),
        HTTPStatus.OK,
        Message,
    )
    assert repeat.id == first.id and repeat.created_at == first.created_at

    # Page back with `before` until has_more is false.
    seen: list[Message] = []
    page = ok(
        list_room_messages.sync_detailed(room.id, client=bob.client, limit=3),
        HTTPStatus.OK,
        MessagePage,
    )
    pages = 1
    seen = page.messages + seen
    while page.has_more:
        page = ok(
            list_room_messages.sync_detailed(
                room.id, client=bob.client, limit=3, before=page.messages[0].id
            ),
            HTTPStatus.OK,
            MessagePage,
        )
        pages += 1
        seen = page.messages + seen
    assert pages == 3
    assert [m.id for m in seen] == [m.id for m in sent]
    assert [m.body for m in seen] == [f"message {i}" for i in range(7)]

    stats = ok(get_room_stats.sync_detailed(room.id, client=alice.client), HTTPStatus.OK, RoomStats)
    assert stats.message_count == 7
    assert [(t.user.id, t.count) for t in stats.top_senders] == [(alice.user.id, 4), (bob.user.id, 3)]

    blank = send_room_message.sync_detailed(room.id, client=alice.client, body=SendMessageRequest(body=" "))
    assert problem(blank, HTTPStatus.BAD_REQUEST, "validation_failed").field == "body"
    bad_limit = list_room_messages.sync_detailed(room.id, client=alice.client, limit=0)
    assert problem(bad_limit, HTTPStatus.BAD_REQUEST, "validation_failed").field == "limit"
    nowhere = send_room_message.sync_detailed(
        f"no-such-room-{RUN}", client=alice.client, body=SendMessageRequest(body="hello?")
    )
    problem(nowhere, HTTPStatus.NOT_FOUND, "room_not_found")


def test_direct_messages_and_conversations(alice: Account, bob: Account) -> None:
    dm = ok(
        send_direct_message.sync_detailed(
            bob.username,
            client=alice.client,
            body=SendMessageRequest(body="hi bob", client_id=f"py-dm-{RUN}"),
        ),
        HTTPStatus.CREATED,
        DirectMessage,
    )
    assert dm.sender.id == alice.user.id and dm.recipient.id == bob.user.id
    repeat = ok(
        send_direct_message.sync_detailed(
            bob.username,
            client=alice.client,
            body=SendMessageRequest(body="hi bob", client_id=f"py-dm-{RUN}"),
        ),
        HTTPStatus.OK,
        DirectMessage,
    )
    assert repeat.id == dm.id

    history = ok(
        list_direct_messages.sync_detailed(alice.username, client=bob.client),
        HTTPStatus.OK,
        DirectMessagePage,
    )
    assert [m.id for m in history.messages] == [dm.id] and not history.has_more
    conversations = ok(
        list_conversations.sync_detailed(client=bob.client), HTTPStatus.OK, ConversationList
    )
    assert [(c.user.username, c.last_message.id) for c in conversations.items] == [
        (alice.username, dm.id)
    ]
    nobody = send_direct_message.sync_detailed(
        f"py_nobody_{RUN}", client=alice.client, body=SendMessageRequest(body="anyone?")
    )
    problem(nobody, HTTPStatus.NOT_FOUND, "user_not_found")


def test_ticket_stream_and_online_users(alice: Account, bob: Account, room: Room) -> None:
    ticket = ok(create_ticket.sync_detailed(client=alice.client), HTTPStatus.CREATED, Ticket)
    assert ticket.expires_in > 0 and ticket.ticket != alice.token

    # EventSource-style: the ticket is a query parameter; the access token
    # never goes into a URL.
    with httpx.stream(
        "GET",
        f"{BASE_URL}/api/v1/events",
        params={"ticket": ticket.ticket},
        timeout=httpx.Timeout(10.0),
    ) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        assert alice.token not in str(response.request.url)
        events = sse_events(response)

        name, data, _ = next(events)
        assert name == "ready"
        ready = exact(Ready.from_dict(json.loads(data)))
        assert ready.user_id == alice.user.id and room.id in ready.rooms
        assert ready.resumed is False
        for _ in range(ready.offline_count):  # what arrived before this stream
            next(events)

        online = ok(
            list_online_users.sync_detailed(client=bob.client, limit=100),
            HTTPStatus.OK,
            PublicUserList,
        )
        me = [u for u in online.items if u.id == alice.user.id]
        assert len(me) == 1 and me[0].online and me[0].last_seen_at is None

        sent = ok(
            send_room_message.sync_detailed(
                room.id, client=bob.client, body=SendMessageRequest(body="live!")
            ),
            HTTPStatus.CREATED,
            Message,
        )
        name, data, resume_token = next(events)
        assert name == "message"
        message = exact(Message.from_dict(json.loads(data)))
        assert isinstance(message, Message)
        assert message.id == sent.id and message.body == "live!"
        assert message.sender.username == bob.username and message.client_id is None
        assert message.created_at == sent.created_at
        assert resume_token and resume_token != message.id  # `id:` is a resume token

    # `?ticket=` takes tickets only: an access token there is refused too.
    for not_a_ticket in ["not-a-ticket", alice.token]:
        with httpx.stream(
            "GET", f"{BASE_URL}/api/v1/events", params={"ticket": not_a_ticket}
        ) as refused:
            assert refused.status_code == 401
            body = exact(Problem.from_dict(json.loads(refused.read())))
            assert body.code == "invalid_token"


def my_room(account: Account, room_id: str) -> MyRoom:
    mine = ok(list_my_rooms.sync_detailed(client=account.client), HTTPStatus.OK, MyRoomList)
    [found] = [r for r in mine.items if r.id == room_id]
    return found


def conversation_with(account: Account, other: Account) -> Conversation:
    listed = ok(list_conversations.sync_detailed(client=account.client), HTTPStatus.OK, ConversationList)
    [found] = [c for c in listed.items if c.user.username == other.username]
    return found


def test_read_state_typing_edits_and_deletes() -> None:
    """API v1.1 through the generated client, between two fresh users, each
    with an open stream: unread counts and read markers (and the `read`
    event on the reader's stream), typing notices (room and direct) on the
    other user's stream, edits and deletes (their events, history, and the
    problems for someone else's or a missing message)."""
    carol, dave = Account("carol", "Carol"), Account("dave", "Dave")
    room = ok(
        create_room.sync_detailed(client=carol.client, body=CreateRoomRequest(name=f"py-v11-{RUN}")),
        HTTPStatus.CREATED,
        Room,
    )
    ok(join_room.sync_detailed(room.id, client=dave.client), HTTPStatus.OK, Room)

    with event_stream(carol) as carols, event_stream(dave) as daves:
        assert carols.ready.offline_count == 0 and daves.ready.offline_count == 0

        def say(text: str) -> Message:
            sent = ok(
                send_room_message.sync_detailed(
                    room.id, client=carol.client, body=SendMessageRequest(body=text)
                ),
                HTTPStatus.CREATED,
                Message,
            )
            assert sent.edited_at is None and sent.deleted_at is None
            daves.expect("message", lambda m: m.id == sent.id)
            return sent

        last_token: list[str | None] = [None]  # the resume token of the latest direct_message

        def whisper(text: str) -> DirectMessage:
            sent = ok(
                send_direct_message.sync_detailed(
                    dave.username, client=carol.client, body=SendMessageRequest(body=text)
                ),
                HTTPStatus.CREATED,
                DirectMessage,
            )
            _, last_token[0] = daves.expect("direct_message", lambda m: m.id == sent.id)
            return sent

        m1, m2, m3 = say("one"), say("two"), say("three")
        d1, d2 = whisper("psst"), whisper("still there?")

        # Unread counts: messages from others after the marker (none yet).
        mine = my_room(dave, room.id)
        assert (mine.unread_count, mine.last_read_id) == (3, None)
        assert mine.name == room.name and mine.message_count == 3
        assert my_room(carol, room.id).unread_count == 0  # her own messages
        talk = conversation_with(dave, carol)
        assert (talk.unread_count, talk.last_read_id, talk.last_message.id) == (2, None, d2.id)
        assert conversation_with(carol, dave).unread_count == 0

        # Mark read: 204, a `read` event on the reader's own stream, counts drop.
        no_content(
            mark_room_read.sync_detailed(room.id, client=dave.client, body=ReadRequest(message_id=m2.id))
        )
        read, _ = daves.expect("read")
        assert (read.room_id, read.username, read.message_id) == (room.id, None, m2.id)
        mine = my_room(dave, room.id)
        assert (mine.unread_count, mine.last_read_id) == (1, m2.id)
        # Never backwards: an older id is accepted and changes nothing.
        no_content(
            mark_room_read.sync_detailed(room.id, client=dave.client, body=ReadRequest(message_id=m1.id))
        )
        assert my_room(dave, room.id).last_read_id == m2.id
        no_content(
            mark_room_read.sync_detailed(room.id, client=dave.client, body=ReadRequest(message_id=m3.id))
        )
        read, _ = daves.expect("read", lambda r: r.message_id == m3.id)
        assert read.room_id == room.id
        assert my_room(dave, room.id).unread_count == 0

        no_content(
            mark_conversation_read.sync_detailed(
                carol.username, client=dave.client, body=ReadRequest(message_id=d2.id)
            )
        )
        read, _ = daves.expect("read")
        assert (read.room_id, read.username, read.message_id) == (None, carol.username, d2.id)
        talk = conversation_with(dave, carol)
        assert (talk.unread_count, talk.last_read_id) == (0, d2.id)
        # A message of another conversation or room is not a marker: 400.
        elsewhere = mark_room_read.sync_detailed(
            room.id, client=dave.client, body=ReadRequest(message_id=d1.id)
        )
        problem(elsewhere, HTTPStatus.BAD_REQUEST, "validation_failed")

        # Typing: the other user's stream gets it, room and direct.
        no_content(send_room_typing.sync_detailed(room.id, client=carol.client))
        typing, _ = daves.expect("typing")
        assert typing.room_id == room.id
        assert (typing.user.id, typing.user.username, typing.user.display_name) == (
            carol.user.id,
            carol.username,
            "Carol",
        )
        no_content(send_direct_typing.sync_detailed(dave.username, client=carol.client))
        typing, _ = daves.expect("typing", lambda t: t.room_id is None)
        assert typing.user.username == carol.username
        to_myself = send_direct_typing.sync_detailed(carol.username, client=carol.client)
        problem(to_myself, HTTPStatus.BAD_REQUEST, "validation_failed")

        # Edit: 200 with edited_at; the other user's stream and history show it.
        edited = ok(
            edit_room_message.sync_detailed(
                room.id, m3.id, client=carol.client, body=EditMessageRequest(body="three, edited")
            ),
            HTTPStatus.OK,
            Message,
        )
        assert (edited.id, edited.body, edited.created_at) == (m3.id, "three, edited", m3.created_at)
        assert edited.edited_at is not None and edited.deleted_at is None
        seen, token = daves.expect("message_edited")
        assert isinstance(seen, Message) and seen.id == m3.id and seen.body == "three, edited"
        assert seen.edited_at == edited.edited_at
        # Its own `id:`, a resume token (events without one, such as read and
        # typing, leave the last id in place, as EventSource does).
        assert token and token != last_token[0] and token != seen.id
        history = ok(
            list_room_messages.sync_detailed(room.id, client=dave.client), HTTPStatus.OK, MessagePage
        )
        assert [(m.id, m.body) for m in history.messages] == [
            (m1.id, "one"),
            (m2.id, "two"),
            (m3.id, "three, edited"),
        ]
        assert history.messages[2].edited_at == edited.edited_at

        dm_edited = ok(
            edit_direct_message.sync_detailed(
                dave.username, d2.id, client=carol.client, body=EditMessageRequest(body="you there?")
            ),
            HTTPStatus.OK,
            DirectMessage,
        )
        assert dm_edited.edited_at is not None
        seen, _ = daves.expect("message_edited", lambda m: m.id == d2.id)
        assert isinstance(seen, DirectMessage) and seen.body == "you there?"

        # Only the sender edits or deletes; another room's message is not found.
        theirs = edit_room_message.sync_detailed(
            room.id, m2.id, client=dave.client, body=EditMessageRequest(body="mine now")
        )
        problem(theirs, HTTPStatus.FORBIDDEN, "not_your_message")
        problem(
            delete_room_message.sync_detailed(room.id, m2.id, client=dave.client),
            HTTPStatus.FORBIDDEN,
            "not_your_message",
        )
        problem(
            delete_direct_message.sync_detailed(carol.username, d1.id, client=dave.client),
            HTTPStatus.FORBIDDEN,
            "not_your_message",
        )
        missing = edit_room_message.sync_detailed(
            room.id, d1.id, client=carol.client, body=EditMessageRequest(body="where?")
        )
        problem(missing, HTTPStatus.NOT_FOUND, "message_not_found")

        # Delete: 204 (again too); message_deleted; history keeps the place.
        no_content(delete_room_message.sync_detailed(room.id, m1.id, client=carol.client))
        seen, _ = daves.expect("message_deleted")
        assert isinstance(seen, Message) and seen.id == m1.id
        assert seen.body is None and seen.deleted_at is not None
        no_content(delete_room_message.sync_detailed(room.id, m1.id, client=carol.client))
        history = ok(
            list_room_messages.sync_detailed(room.id, client=dave.client), HTTPStatus.OK, MessagePage
        )
        assert [m.id for m in history.messages] == [m1.id, m2.id, m3.id]
        gone = history.messages[0]
        assert gone.body is None and gone.deleted_at == seen.deleted_at
        deleted_edit = edit_room_message.sync_detailed(
            room.id, m1.id, client=carol.client, body=EditMessageRequest(body="back?")
        )
        problem(deleted_edit, HTTPStatus.NOT_FOUND, "message_not_found")

        no_content(delete_direct_message.sync_detailed(dave.username, d1.id, client=carol.client))
        seen, _ = daves.expect("message_deleted", lambda m: m.id == d1.id)
        assert isinstance(seen, DirectMessage) and seen.body is None
        dms = ok(
            list_direct_messages.sync_detailed(carol.username, client=dave.client),
            HTTPStatus.OK,
            DirectMessagePage,
        )
        assert [(m.id, m.body) for m in dms.messages] == [(d1.id, None), (d2.id, "you there?")]
        assert dms.messages[0].deleted_at is not None

        # A deleted message stops counting as unread.
        m4 = say("four")
        assert my_room(dave, room.id).unread_count == 1
        no_content(delete_room_message.sync_detailed(room.id, m4.id, client=carol.client))
        daves.expect("message_deleted", lambda m: m.id == m4.id)
        assert my_room(dave, room.id).unread_count == 0

        # The sender's own stream gets her edits and deletes too.
        carols.expect("message_edited", lambda m: m.id == m3.id)
        carols.expect("message_deleted", lambda m: m.id == m4.id)

    # A typing flood: beyond 30 a minute, 429 rate_limited with Retry-After.
    statuses = []
    for _ in range(40):
        answer = send_room_typing.sync_detailed(room.id, client=dave.client)
        statuses.append(answer.status_code)
        if answer.status_code == HTTPStatus.TOO_MANY_REQUESTS:
            problem(answer, HTTPStatus.TOO_MANY_REQUESTS, "rate_limited")
            assert int(answer.headers["retry-after"]) > 0
            break
    assert statuses[-1] == HTTPStatus.TOO_MANY_REQUESTS, statuses
    assert set(statuses[:-1]) == {HTTPStatus.NO_CONTENT} and len(statuses) > 30


def test_unauthorized_and_logout(alice: Account) -> None:
    anonymous = Client(base_url=BASE_URL)
    problem(get_me.sync_detailed(client=anonymous), HTTPStatus.UNAUTHORIZED, "missing_token")  # type: ignore[arg-type]
    forged = AuthenticatedClient(base_url=BASE_URL, token="not.a.token")
    problem(get_me.sync_detailed(client=forged), HTTPStatus.UNAUTHORIZED, "invalid_token")

    out = logout.sync_detailed(client=alice.client)
    assert out.status_code == HTTPStatus.NO_CONTENT and out.parsed is None
    problem(get_me.sync_detailed(client=alice.client), HTTPStatus.UNAUTHORIZED, "invalid_token")
