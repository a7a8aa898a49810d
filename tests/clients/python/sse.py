"""Reading confab's event stream from Python with httpx.

openapi-python-client generates `api.realtime.open_events`, but it reads a
whole response before parsing it, and an event stream never ends; so the
stream is read with httpx directly (the generated package depends on httpx
already), a ticket from the generated `create_ticket` opening it, and each
event's `data` is parsed into the generated model its `event:` name names.
"""

from collections.abc import Iterator
from dataclasses import dataclass

import httpx


@dataclass
class SseEvent:
    event: str  # the `event:` name: "ready", "message", "direct_message", ...
    data: str  # the `data:` lines joined: JSON
    id: str | None  # the last `id:` received (a resume token), if any


def sse_events(response: httpx.Response) -> Iterator[SseEvent]:
    """The events of a text/event-stream response, as they arrive.

    A tiny parser of the Server-Sent Events format: `: ping` comments and
    `retry:` lines are skipped, an event ends at a blank line.
    """
    event, data, last_id = "message", [], None
    for line in response.iter_lines():
        if not line:
            if data:
                yield SseEvent(event, "\n".join(data), last_id)
            event, data = "message", []
            continue
        if line.startswith(":"):
            continue
        name, _, value = line.partition(":")
        value = value[1:] if value.startswith(" ") else value
        if name == "event":
            event = value
        elif name == "data":
            data.append(value)
        elif name == "id":
            last_id = value
