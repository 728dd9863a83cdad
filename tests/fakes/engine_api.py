"""The engine API (pbx.internal.server) failing on purpose, for tests of how the engine copes
(5xx, refusals, slowness): every POST is answered by `answer(path, body)` -> (HTTP status, JSON
body) and kept, in order. The engine's tests of working calls use the real engine API."""

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from pbx.engine.process import free_port

Answer = Callable[[str, dict[str, Any]], tuple[int, dict[str, Any]]]


@dataclass(frozen=True)
class Received:
    path: str
    status: int  # what it was answered
    body: dict[str, Any]


class FakeEngineApi:
    def __init__(self, answer: Answer) -> None:
        self.received: list[Received] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as the engine's connections are

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])) or b"{}")
                status, reply = answer(self.path, body)
                fake.received.append(Received(self.path, status, body))
                data = json.dumps(reply).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
