"""A local APNs provider API: HTTP/2 over TLS (ALPN h2), token authentication, the real
request and error formats (`/3/device/<token>`, `{"reason": ...}`).

Served by hypercorn with a certificate made on the fly; the sender trusts it through
`PBX_APNS_CA_FILE`. It checks the ES256 provider token like APNs does and records every
notification with the HTTP version it came over."""

import asyncio
import datetime
import ipaddress
import json
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jwt
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from hypercorn.asyncio import serve
from hypercorn.config import Config

from pbx.engine.process import free_port


@dataclass
class ApnsRequest:
    at: float
    http_version: str
    path: str
    headers: dict[str, str]
    payload: dict[str, Any]

    @property
    def token(self) -> str:
        return self.path.rsplit("/", 1)[-1]


def _certificate(directory: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "apns-cert.pem", directory / "apns-key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


@dataclass
class FakeApns:
    directory: Path
    team_id: str = "TEAM123456"
    key_id: str = "KEY1234567"
    requests: list[ApnsRequest] = field(default_factory=list)
    provider_tokens: set[str] = field(default_factory=set)
    # token -> list of (status, reason) answered in turn (the last one repeats); default 200
    answers: dict[str, list[tuple[int, str]]] = field(default_factory=dict)
    down: bool = False  # every push answers 503 ServiceUnavailable
    on_send: Any = None

    def __post_init__(self) -> None:
        self.signing_key = ec.generate_private_key(ec.SECP256R1())
        self.cert_path, self.key_path = _certificate(self.directory)
        self.port = free_port()
        self.url = f"https://127.0.0.1:{self.port}"
        self._loop = asyncio.new_event_loop()
        self._stopped: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._lock = threading.Lock()

    # --- what the backend is configured with
    def key_file(self) -> Path:
        path = self.directory / f"AuthKey_{self.key_id}.p8"
        path.write_bytes(
            self.signing_key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        return path

    def start(self) -> "FakeApns":
        self._thread.start()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                import socket

                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("fake APNs did not start")

    def stop(self) -> None:
        if self._stopped is not None:
            self._loop.call_soon_threadsafe(self._stopped.set)
        self._thread.join(timeout=10)

    def wait_for(self, count: int, timeout: float = 10.0) -> list[ApnsRequest]:
        deadline = time.monotonic() + timeout
        while len(self.requests) < count and time.monotonic() < deadline:
            time.sleep(0.01)
        return list(self.requests)

    # --- the server
    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._stopped = asyncio.Event()
        config = Config()
        config.bind = [f"127.0.0.1:{self.port}"]
        config.certfile = str(self.cert_path)
        config.keyfile = str(self.key_path)
        config.alpn_protocols = ["h2"]
        config.accesslog = None
        config.errorlog = None
        config.graceful_timeout = 0.5
        self._loop.run_until_complete(serve(self._app, config, shutdown_trigger=self._stopped.wait))

    def _check_provider_token(self, authorization: str) -> str | None:
        """None when APNs would accept it, else the `reason` it would answer."""
        if not authorization.startswith("bearer "):
            return "MissingProviderToken"
        token = authorization.removeprefix("bearer ")
        try:
            header = jwt.get_unverified_header(token)
            claims = jwt.decode(token, self.signing_key.public_key(), algorithms=["ES256"])
        except jwt.PyJWTError:
            return "InvalidProviderToken"
        if header.get("kid") != self.key_id or claims.get("iss") != self.team_id:
            return "InvalidProviderToken"
        if time.time() - claims.get("iat", 0) > 3600:
            return "ExpiredProviderToken"
        self.provider_tokens.add(token)
        return None

    def _answer(
        self, scope: dict[str, Any], headers: dict[str, str], body: bytes
    ) -> tuple[int, dict[str, str], dict[str, Any] | None]:
        path = scope["path"]
        if scope["method"] != "POST" or not path.startswith("/3/device/"):
            return 404, {}, {"reason": "BadPath"}
        problem = self._check_provider_token(headers.get("authorization", ""))
        if problem:
            return 403, {}, {"reason": problem}
        if headers.get("apns-push-type") not in ("voip", "alert", "background"):
            return 400, {}, {"reason": "InvalidPushType"}
        try:
            payload = json.loads(body)
        except ValueError:
            return 400, {}, {"reason": "PayloadEmpty" if not body else "BadPayload"}
        request = ApnsRequest(time.time(), scope["http_version"], path, headers, payload)
        apns_id = headers.get("apns-id") or str(uuid.uuid4()).upper()
        if self.down:
            return 503, {"apns-id": apns_id}, {"reason": "ServiceUnavailable"}
        queue = self.answers.get(request.token)
        if queue:
            status, reason = queue[0] if len(queue) == 1 else queue.pop(0)
            if status != 200:
                with self._lock:
                    self.requests.append(request)
                answer: dict[str, Any] = {"reason": reason}
                if status == 410:
                    answer["timestamp"] = int(time.time() * 1000)
                return status, {"apns-id": apns_id}, answer
        with self._lock:
            self.requests.append(request)
        if self.on_send is not None:
            threading.Thread(target=self.on_send, args=(request,), daemon=True).start()
        return 200, {"apns-id": apns_id}, None

    async def _app(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
        status, extra, answer = self._answer(scope, headers, body)
        data = json.dumps(answer).encode() if answer is not None else b""
        response_headers = [(k.encode(), v.encode()) for k, v in extra.items()]
        if data:
            response_headers.append((b"content-type", b"application/json"))
        await send({"type": "http.response.start", "status": status, "headers": response_headers})
        await send({"type": "http.response.body", "body": data})
