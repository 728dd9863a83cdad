"""A local FCM: Google's OAuth 2.0 token endpoint (JWT bearer grant, RFC 7523) and the FCM
HTTP v1 `messages:send` API, over HTTP/1.1 like the real ones.

It verifies what a real FCM would refuse (the assertion's RS256 signature with the service
account's key, the bearer token on every send) and records every message it was sent."""

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

# FCM takes an access token carrying either scope.
SCOPES = {
    "https://www.googleapis.com/auth/firebase.messaging",
    "https://www.googleapis.com/auth/cloud-platform",
}
# The assertion names Google's token endpoint as its audience wherever it is posted.
GOOGLE_TOKEN_AUDIENCE = "https://oauth2.googleapis.com/token"


@dataclass
class FcmRequest:
    at: float
    project: str
    headers: dict[str, str]
    body: dict[str, Any]

    @property
    def message(self) -> dict[str, Any]:
        return self.body["message"]


def _error(status: int, code: str, message: str, fcm_code: str | None = None) -> dict[str, Any]:
    error: dict[str, Any] = {"code": status, "message": message, "status": code}
    if fcm_code:
        error["details"] = [
            {"@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError", "errorCode": fcm_code}
        ]
    return {"error": error}


UNREGISTERED = (404, _error(404, "NOT_FOUND", "Requested entity was not found.", "UNREGISTERED"))
UNAVAILABLE = (
    503,
    _error(503, "UNAVAILABLE", "The service is currently unavailable.", "UNAVAILABLE"),
)
QUOTA = (429, _error(429, "RESOURCE_EXHAUSTED", "Quota exceeded.", "QUOTA_EXCEEDED"))


@dataclass
class FakeFcm:
    project: str = "pbx-test-project"
    requests: list[FcmRequest] = field(default_factory=list)
    token_grants: int = 0
    # token -> list of (status, body) answered in turn (the last one repeats); default 200
    answers: dict[str, list[tuple[int, dict[str, Any]]]] = field(default_factory=dict)
    down: bool = False  # every send answers 503
    on_send: Any = None  # called with each accepted FcmRequest (e.g. a test's "app wakes")

    def __post_init__(self) -> None:
        self._key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self._issued: set[str] = set()
        self._lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def start(self) -> "FakeFcm":
        self._thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def service_account_file(self, directory: Path) -> Path:
        path = directory / "fcm-service-account.json"
        pem = self._key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode()
        path.write_text(
            json.dumps(
                {
                    "type": "service_account",
                    "project_id": self.project,
                    "private_key_id": "fake-key-1",
                    "private_key": pem,
                    "client_email": f"pbx@{self.project}.iam.gserviceaccount.com",
                    "client_id": "1234567890",
                    "token_uri": f"{self.url}/token",
                }
            )
        )
        return path

    def sent_to(self, token: str) -> list[FcmRequest]:
        return [r for r in self.requests if r.message.get("token") == token]

    def wait_for(self, count: int, timeout: float = 10.0) -> list[FcmRequest]:
        deadline = time.monotonic() + timeout
        while len(self.requests) < count and time.monotonic() < deadline:
            time.sleep(0.01)
        return list(self.requests)

    def _grant(self, form: dict[str, list[str]]) -> tuple[int, dict[str, Any]]:
        if form.get("grant_type") != ["urn:ietf:params:oauth:grant-type:jwt-bearer"]:
            return 400, {"error": "unsupported_grant_type"}
        try:
            claims = jwt.decode(
                form["assertion"][0],
                self._key.public_key(),
                algorithms=["RS256"],
                audience=GOOGLE_TOKEN_AUDIENCE,
            )
        except (KeyError, jwt.PyJWTError) as exc:
            return 400, {"error": "invalid_grant", "error_description": str(exc)}
        if not SCOPES & set(claims.get("scope", "").split()):
            return 400, {"error": "invalid_scope"}
        with self._lock:
            self.token_grants += 1
            token = f"fake-access-token-{self.token_grants}"
            self._issued.add(token)
        return 200, {"access_token": token, "expires_in": 3600, "token_type": "Bearer"}

    def _send(self, path: str, headers: dict[str, str], raw: bytes) -> tuple[int, dict[str, Any]]:
        parts = path.strip("/").split("/")
        if (
            len(parts) != 4
            or parts[0] != "v1"
            or parts[1] != "projects"
            or parts[3] != "messages:send"
        ):
            return 404, _error(404, "NOT_FOUND", "No such method.")
        bearer = headers.get("authorization", "").removeprefix("Bearer ")
        if bearer not in self._issued:
            return 401, _error(401, "UNAUTHENTICATED", "Request had invalid credentials.")
        try:
            body = json.loads(raw)
            token = body["message"]["token"]
        except (ValueError, KeyError, TypeError):
            return 400, _error(400, "INVALID_ARGUMENT", "Invalid JSON payload received.")
        if self.down:
            return UNAVAILABLE
        request = FcmRequest(time.time(), parts[2], headers, body)
        queue = self.answers.get(token)
        if queue:
            status, answer = queue[0] if len(queue) == 1 else queue.pop(0)
            if status != 200:
                with self._lock:
                    self.requests.append(request)
                return status, answer
        with self._lock:
            self.requests.append(request)
            number = len(self.requests)
        if self.on_send is not None:
            threading.Thread(target=self.on_send, args=(request,), daemon=True).start()
        return 200, {"name": f"projects/{parts[2]}/messages/0:{number}"}

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:  # quiet
                return

            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                headers = {k.lower(): v for k, v in self.headers.items()}
                if self.path == "/token":
                    status, answer = fake._grant(parse_qs(raw.decode()))
                else:
                    status, answer = fake._send(self.path, headers, raw)
                data = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=UTF-8")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        return Handler
