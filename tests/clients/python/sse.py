"""Reading confab's event stream from Python with httpx (the README's
worked example uses this same parser).

openapi-python-client generates `api.realtime.open_events`, but it reads the
whole response before parsing it, and an event stream never ends; so the
stream is read with httpx directly (the generated package depends on it
already), a ticket from the generated `create_ticket` opening it, and each
event's `data` is parsed into the generated model its `event:` name names.
"""

from collections.abc import Iterator

import httpx


def sse_events(response: httpx.Response) -> Iterator[tuple[str, str, str | None]]:
    """(event, data, id) for each Server-Sent Event of an httpx streaming response."""
    event, data, last_id = "message", [], None
    for line in response.iter_lines():
        if not line:  # a blank line ends an event
            if data:
                yield event, "\n".join(data), last_id
            event, data = "message", []
        elif not line.startswith(":"):  # ": ping" comments are skipped
            name, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if name == "event":
                event = value
            elif name == "data":
                data.append(value)
            elif name == "id":
                last_id = value
