"""The engine's API (a route decision per call, event batches), served by processes of its
own instead of the web tier.

Under the ASGI server every engine request went through uvicorn, Django's middleware and
asgiref's hop into the one thread that runs sync views, one at a time per web process: that
thread, not the CPU, capped calls per second (see make bench). Here each request is handed
straight to the same views (`pbx.internal.engine`, with their guard: token, size, JSON),
without middleware or URL resolution, by a pre-forked pool of processes, each serving every
engine connection (kept alive) on a thread of its own.

    python -m pbx.internal.server --port 8001 --processes 2

The engine is pointed at it as its Django URL (`start_engine(django_url=...)`); nothing else
is served here (404). Never public, like /internal/ on the web tier.
"""

import argparse
import contextlib
import io
import logging
import os
import signal
import socket
import sys
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "pbx.settings")

import django

django.setup()

from django.core.handlers.wsgi import WSGIRequest  # noqa: E402
from django.db import close_old_connections  # noqa: E402
from django.http.response import HttpResponseBase  # noqa: E402

from pbx.internal import engine  # noqa: E402

logger = logging.getLogger(__name__)

View = Callable[..., HttpResponseBase]
ROUTES: dict[str, tuple[View, int]] = {
    "/internal/engine/route-decisions": (engine.route_decision_view, engine.ROUTE_REQUEST_MAX_BODY),
    "/internal/engine/events": (engine.engine_events_view, engine.EVENT_BATCH_MAX_BODY),
}


class EngineApiHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: the engine's http_client reuses connections
    server_version = "pbx-engine-api"

    def do_POST(self) -> None:
        self._serve()

    def do_GET(self) -> None:
        self._serve()

    def _serve(self) -> None:
        path, _, query = self.path.partition("?")
        route = ROUTES.get(path)
        declared = self.headers.get("Content-Length", "0")
        length = int(declared) if declared.isascii() and declared.isdigit() else -1
        if route is None:
            self._reply(404, b'{"code": "not_found", "detail": "Not an engine endpoint."}')
            return
        view, max_body = route
        if length < 0 or length > max_body:
            # never read what the guard would refuse; the body left unread ends the connection
            self.close_connection = True
            self._reply(413, b'{"code": "too_large", "detail": "The request body is too large."}')
            return
        body = self.rfile.read(length)
        environ: dict[str, Any] = {
            "REQUEST_METHOD": self.command,
            "PATH_INFO": path,
            "QUERY_STRING": query,
            "CONTENT_TYPE": self.headers.get("Content-Type", ""),
            "CONTENT_LENGTH": str(length),
            "SERVER_NAME": "engine-api",
            "SERVER_PORT": "0",
            "REMOTE_ADDR": self.client_address[0],
            "wsgi.input": io.BytesIO(body),
            "wsgi.url_scheme": "http",
        }
        for name, value in self.headers.items():
            if name.lower() not in ("content-type", "content-length"):
                environ["HTTP_" + name.upper().replace("-", "_")] = value
        close_old_connections()
        try:
            response = view(WSGIRequest(environ))
        except Exception:
            # as Django's own handler would: logged, 500, and the engine goes on (degraded)
            logger.exception("engine API: %s failed", path)
            self._reply(500, b'{"code": "server_error", "detail": "The request failed."}')
            return
        finally:
            close_old_connections()
        self._reply(response.status_code, getattr(response, "content", b""))

    def _reply(self, status: int, content: bytes) -> None:
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(content)))
            self.end_headers()
            self.wfile.write(content)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the engine gave up (its timeout): nothing to tell

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base's name
        return  # one line per call would cost more than the call


class EngineApiServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128


def serve(host: str, port: int, processes: int) -> None:
    """Bind once, then fork `processes` servers that accept on the same socket; the parent
    waits, and stops them all on SIGTERM or SIGINT."""
    listener = socket.create_server((host, port), backlog=128, reuse_port=False)
    children: list[int] = []
    for _ in range(processes):
        pid = os.fork()
        if pid == 0:
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            server = EngineApiServer((host, port), EngineApiHandler, bind_and_activate=False)
            server.socket.close()
            server.socket = listener
            try:
                server.serve_forever(poll_interval=0.5)
            finally:
                os._exit(0)
        children.append(pid)

    def stop(signum: int, frame: object) -> None:
        for child in children:
            with contextlib.suppress(ProcessLookupError):
                os.kill(child, signal.SIGTERM)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    for child in children:
        with contextlib.suppress(ChildProcessError):
            os.waitpid(child, 0)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument(
        "--port", type=int, default=int(os.environ.get("PBX_ENGINE_API_PORT", "8001"))
    )
    parser.add_argument(
        "--processes", type=int, default=int(os.environ.get("PBX_ENGINE_API_PROCESSES", "2"))
    )
    options = parser.parse_args(argv)
    serve(options.host, options.port, options.processes)
    return 0


if __name__ == "__main__":
    sys.exit(main())
