"""A loopback webhook receiver for the tests: an HTTP server in a thread that records every POST and answers it
with the status `answer(path, earlier)` gives, `earlier` being how many POSTs to that path came before."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    answered: int


def always(status: int) -> Callable[[str, int], int]:
    return lambda path, earlier: status


class WebhookReceiver:
    """`answer` and `delay_s` (how long each answer waits) may be changed while it runs; `started` is set when a
    POST has arrived, before it is answered."""

    def __init__(self, answer: Callable[[str, int], int] = always(200), delay_s: float = 0.0) -> None:
        self.answer = answer
        self.delay_s = delay_s
        self.requests: list[Received] = []
        self.lock = threading.Lock()
        self.started = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with receiver.lock:
                    code = receiver.answer(self.path, sum(1 for r in receiver.requests if r.path == self.path))
                    receiver.requests.append(Received(self.path, dict(self.headers.items()), body, code))
                receiver.started.set()
                time.sleep(receiver.delay_s)
                self.send_response(code)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.address = f"127.0.0.1:{self._server.server_address[1]}"
        self.url = f"http://{self.address}"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def for_path(self, path: str) -> list[Received]:
        with self.lock:
            return [r for r in self.requests if r.path == path]

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> WebhookReceiver:
        return self

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        self.close()
