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
from http import HTTPStatus
from typing import Any

import attrs
import httpx
import pytest

from confab_client import AuthenticatedClient, Client
from confab_client.api.accounts import login, logout, register
from confab_client.api.messages import (
    list_conversations,
    list_direct_messages,
    list_room_messages,
    send_direct_message,
    send_room_message,
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
    ConversationList,
    CreateRoomRequest,
    DirectMessage,
    DirectMessagePage,
    LoginRequest,
    LoginResponse,
    MemberList,
    Message,
    MessagePage,
    Problem,
    PublicUser,
    PublicUserList,
    Ready,
    RegisterRequest,
    Room,
    RoomList,
    RoomOrder,
    RoomStats,
    SendMessageRequest,
    Ticket,
    TokenType,
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
    mine = ok(list_my_rooms.sync_detailed(client=bob.client), HTTPStatus.OK, RoomList)
    assert [r.id for r in mine.items] == [room.id] and mine.next_cursor is None
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


def test_unauthorized_and_logout(alice: Account) -> None:
    anonymous = Client(base_url=BASE_URL)
    problem(get_me.sync_detailed(client=anonymous), HTTPStatus.UNAUTHORIZED, "missing_token")  # type: ignore[arg-type]
    forged = AuthenticatedClient(base_url=BASE_URL, token="not.a.token")
    problem(get_me.sync_detailed(client=forged), HTTPStatus.UNAUTHORIZED, "invalid_token")

    out = logout.sync_detailed(client=alice.client)
    assert out.status_code == HTTPStatus.NO_CONTENT and out.parsed is None
    problem(get_me.sync_detailed(client=alice.client), HTTPStatus.UNAUTHORIZED, "invalid_token")
