"""APNs VoIP pushes over HTTP/2 with token authentication.

`apns-push-type: voip`, topic `<bundle id>.voip`, priority 10, expiration 0 (deliver now or
never). The ES256 provider token is reused for `token_ttl` seconds (Apple: refresh between 20
and 60 minutes; refreshing more often than every 20 minutes gets TooManyProviderTokenUpdates)
and renewed early when APNs says it expired."""

import json
import ssl
import threading
import time
from typing import Any

import httpx
import jwt

from devices.domain.push import PushFailure, PushRefused
from devices.push.messages import PushMessage

_DEAD = {
    "Unregistered": PushFailure.UNREGISTERED,
    "BadDeviceToken": PushFailure.BAD_TOKEN,
    "DeviceTokenNotForTopic": PushFailure.BAD_TOKEN,
}
_AUTH = {"ExpiredProviderToken", "InvalidProviderToken", "MissingProviderToken"}


class ApnsSender:
    def __init__(
        self,
        *,
        key_pem: str,
        key_id: str,
        team_id: str,
        production_url: str,
        sandbox_url: str,
        token_ttl: float = 40 * 60,
        ca_file: str = "",
        timeout: float = 5.0,
    ) -> None:
        self.key_pem = key_pem
        self.key_id = key_id
        self.team_id = team_id
        self.urls = {False: production_url.rstrip("/"), True: sandbox_url.rstrip("/")}
        self.token_ttl = token_ttl
        verify: ssl.SSLContext | bool = (
            ssl.create_default_context(cafile=ca_file) if ca_file else True
        )
        self.client = httpx.Client(http2=True, http1=False, verify=verify, timeout=timeout)
        self._lock = threading.Lock()
        self._token: tuple[str, float] | None = None

    def provider_token(self, *, renew: bool = False) -> str:
        with self._lock:
            now = time.time()
            if renew or self._token is None or now - self._token[1] >= self.token_ttl:
                token = jwt.encode(
                    {"iss": self.team_id, "iat": int(now)},
                    self.key_pem,
                    algorithm="ES256",
                    headers={"kid": self.key_id},
                )
                self._token = (token, now)
            return self._token[0]

    def send(
        self, *, token: str, app_id: str, sandbox: bool, message: PushMessage, device_id: int
    ) -> str:
        if message.is_call:
            payload: dict[str, Any] = {"aps": {}, **message.data()}
            push_type, topic, expiration = "voip", f"{app_id}.voip", "0"
        else:  # a visible alert (new voicemail), kept by APNs for a day if the phone is off
            who = message.caller_name or message.caller_number or "unknown caller"
            payload = {
                "aps": {"alert": {"title": "New voicemail", "body": f"From {who}"}},
                **message.data(),
            }
            push_type, topic, expiration = "alert", app_id, str(int(time.time()) + 86400)
        headers = {
            "authorization": f"bearer {self.provider_token()}",
            "apns-push-type": push_type,
            "apns-topic": topic,
            "apns-priority": "10",
            "apns-expiration": expiration,
            "apns-id": message.identity(device_id),
        }
        url = f"{self.urls[sandbox]}/3/device/{token}"
        try:
            response = self.client.post(url, headers=headers, content=json.dumps(payload))
        except httpx.HTTPError as exc:
            raise PushRefused(PushFailure.UNREACHABLE, f"{type(exc).__name__}: {exc}") from exc
        if response.status_code == 200:
            return response.headers.get("apns-id", headers["apns-id"])
        try:
            reason = str(response.json().get("reason", ""))
        except ValueError:
            reason = ""
        detail = f"HTTP {response.status_code} {reason}".strip()
        if response.status_code == 410 or reason in _DEAD:
            raise PushRefused(_DEAD.get(reason, PushFailure.UNREGISTERED), detail)
        if response.status_code == 403 and reason in _AUTH:
            self.provider_token(renew=True)
            raise PushRefused(PushFailure.AUTH, detail)
        if response.status_code == 429:
            raise PushRefused(PushFailure.THROTTLED, detail, _retry_after(response))
        if response.status_code >= 500:
            raise PushRefused(PushFailure.PROVIDER_ERROR, detail, _retry_after(response))
        raise PushRefused(PushFailure.REJECTED, detail)


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after", "")
    return float(value) if value.isascii() and value.isdigit() else None
