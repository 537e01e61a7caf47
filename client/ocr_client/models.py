"""What the API returns, as small typed records (the full JSON stays in `raw`)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

FINISHED = ("succeeded", "failed", "cancelled")


@dataclass(frozen=True)
class Job:
    id: str
    status: str
    pages_total: int | None
    pages_done: int
    formats: list[str]
    filename: str | None
    error: dict[str, Any] | None
    raw: dict[str, Any] = field(repr=False, compare=False)

    @classmethod
    def from_json(cls, body: dict[str, Any]) -> Job:
        return cls(
            id=body["id"],
            status=body["status"],
            pages_total=body.get("pages_total"),
            pages_done=body.get("pages_done") or 0,
            formats=list(body.get("formats") or []),
            filename=body.get("filename"),
            error=body.get("error"),
            raw=body,
        )

    @property
    def finished(self) -> bool:
        return self.status in FINISHED


@dataclass(frozen=True)
class JobPage:
    """One page of GET /v1/jobs, newest first; `next_cursor` asks for the next, older page (None: the last)."""

    jobs: list[Job]
    next_cursor: str | None

    @classmethod
    def from_json(cls, body: dict[str, Any]) -> JobPage:
        return cls([Job.from_json(j) for j in body.get("jobs") or []], body.get("next_cursor"))


@dataclass(frozen=True)
class Event:
    """One Server-Sent Event of /v1/jobs/{id}/events: `status` or `page`, with its JSON data."""

    id: int | None
    type: str
    data: dict[str, Any]

    @property
    def terminal(self) -> bool:
        return self.type == "status" and self.data.get("status") in FINISHED


class SseParser:
    """Turns the lines of an event stream into events (https://html.spec.whatwg.org/#event-stream-interpretation,
    the parts this API uses: id, event, data; comments and retry are skipped)."""

    def __init__(self) -> None:
        self._id: int | None = None
        self._type = "message"
        self._data: list[str] = []

    def feed(self, line: str) -> Event | None:
        if not line:
            if not self._data:
                self._type = "message"
                return None
            raw, self._data = "\n".join(self._data), []
            event_type, self._type = self._type, "message"
            try:
                data = json.loads(raw)
            except ValueError:
                data = {"text": raw}
            return Event(self._id, event_type, data if isinstance(data, dict) else {"value": data})
        if line.startswith(":"):
            return None
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if name == "data":
            self._data.append(value)
        elif name == "event":
            self._type = value
        elif name == "id" and value.isdigit():
            self._id = int(value)
        return None

    def feed_all(self, lines: Iterator[str]) -> Iterator[Event]:
        for line in lines:
            event = self.feed(line)
            if event is not None:
                yield event
