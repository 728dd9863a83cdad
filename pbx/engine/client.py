"""The one way Django commands the engine: a typed interface and its Kamailio implementation.

Only Celery tasks call it (never a request handler): the engine may be restarting, and a task
retries with backoff until the command lands.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import httpx
from django.conf import settings

REGISTRATION_TABLE = "kamailio_location"
# The engine's htables (deploy/kamailio/parts/registrar.cfg): credentials served from memory,
# the marks that keep a lookup racing a change from storing it, the last reported REGISTERs.
CREDENTIALS_TABLE = "creds"
CREDENTIALS_STALE_TABLE = "credsstale"
REPORTED_REGISTRATIONS_TABLE = "regseen"


class EngineUnavailable(Exception):
    """The engine did not answer (down, restarting, overloaded): retry later."""


# How every engine command task retries while the engine is unreachable (restarting, down):
# exponential backoff from 1 s to 30 s. Tasks add `max_retries` (None: never give up).
ENGINE_RETRY = {
    "autoretry_for": (EngineUnavailable,),
    "retry_backoff": 1,
    "retry_backoff_max": 30,
    "retry_jitter": False,
}


class EngineError(Exception):
    """The engine answered and refused the command."""


@dataclass(frozen=True)
class EngineContact:
    """One live contact as the engine holds it."""

    username: str
    domain: str
    contact: str
    expires: int  # seconds left
    user_agent: str
    transport: str = ""  # of the socket it registered on: udp, tcp, tls, ws, wss


class EngineClient(Protocol):
    def version(self) -> str: ...

    def all_registrations(self) -> list[EngineContact]:
        """Every live contact the engine holds (to reconcile what Django believes)."""
        ...

    def registrations(self, *, aor: str) -> list[dict[str, Any]]:
        """Live contacts of an address of record (`user@domain`)."""
        ...

    def drop_registrations(self, *, aor: str) -> bool:
        """Remove every contact of the AOR. False when there was none."""
        ...

    def forget_credentials(self, *, accounts: Sequence[str]) -> None:
        """Make the engine read these accounts' credentials (`username@sip domain`) from
        PostgreSQL again on their next request: after any change to what `kamailio_subscriber`
        returns for them (revoked, secret rotated, policy changed, ...)."""
        ...

    def banned_addresses(self) -> dict[str, str]:
        """Source addresses the engine drops right now, with the ban's reason."""
        ...

    def lift_ban(self, *, address: str) -> bool:
        """Forget a ban and the address's failure count. False when it was not banned."""
        ...

    def send_request(
        self, *, method: str, uri: str, headers: str, body: str = "", next_hop: str = ""
    ) -> None:
        """Send an out-of-dialog request from the engine (e.g. an unsolicited MWI NOTIFY).
        `headers` (CRLF-separated) must include From and To. `next_hop`: where to send it
        instead of `uri` (see `received_address`)."""
        ...


def received_address(contact: Mapping[str, Any]) -> str:
    """Where the engine reaches a contact (one item of `registrations`): the address its
    REGISTER came from when the phone is behind NAT or on a TCP/TLS/WebSocket connection
    (usrloc's `Received`), '' when the contact's own address is reachable."""
    value = str(contact.get("Received") or "")
    return value if value.startswith("sip") else ""


def _seconds(value: Any) -> int:
    """Seconds left on a contact; usrloc says "permanent" for contacts that never expire."""
    return value if isinstance(value, int) and not isinstance(value, bool) else 3600


class KamailioJsonRpc:
    """Kamailio's jsonrpcs module over HTTP (POST only: a bare GET never gets an answer)."""

    def __init__(self, url: str, *, timeout: float = 3.0) -> None:
        self.url = url
        self.timeout = timeout

    def _call(self, method: str, *params: Any) -> Any:
        payload = {"jsonrpc": "2.0", "method": method, "params": list(params), "id": 1}
        try:
            response = httpx.post(self.url, json=payload, timeout=self.timeout)
        except httpx.HTTPError as exc:
            raise EngineUnavailable(f"{method}: {exc}") from exc
        # jsonrpcs mirrors a command's error code in the HTTP status (e.g. 500 "AOR not found"),
        # so only a body that is not JSON-RPC means the engine itself is in trouble.
        try:
            body = response.json()
        except ValueError as exc:
            raise EngineUnavailable(f"{method}: HTTP {response.status_code}, not JSON-RPC") from exc
        if "error" in body:
            error = body["error"]
            raise EngineError(f"{method}: {error.get('code')} {error.get('message')}")
        return body.get("result")

    def version(self) -> str:
        return str(self._call("core.version"))

    def statistics(self, prefix: str = "") -> dict[str, int]:
        """The engine's counters whose names start with `prefix` (script counters such as
        `decisions_in_engine` and `decision_ms_le_5`, module counters such as `rcv_requests`),
        by name without their group."""
        found: dict[str, int] = {}
        for line in self._call("stats.get_statistics", "all") or []:  # "shmem:name = 12"
            name, _, value = str(line).partition(" = ")
            name = name.rpartition(":")[2]
            if name.startswith(prefix) and value.strip().lstrip("-").isdigit():
                found[name] = int(value)
        return found

    def registrations(self, *, aor: str) -> list[dict[str, Any]]:
        try:
            result = self._call("ul.lookup", REGISTRATION_TABLE, aor)
        except EngineError as exc:
            # usrloc says "AOR not found", or "AOR has no contacts" once its last one expired.
            if "not found" in str(exc).lower() or "no contacts" in str(exc).lower():
                return []
            raise
        contacts = result.get("Contacts", []) if isinstance(result, dict) else []
        return [item.get("Contact", item) for item in contacts]

    def all_registrations(self) -> list[EngineContact]:
        result = self._call("ul.dump")
        found = []
        for domain in (result or {}).get("Domains", []):
            for record in domain.get("Domain", {}).get("AoRs", []):
                info = record.get("Info", {})
                username, _, host = str(info.get("AoR", "")).partition("@")
                for item in info.get("Contacts", []):
                    contact = item.get("Contact", {})
                    found.append(
                        EngineContact(
                            username=username,
                            domain=host.lower(),
                            contact=str(contact.get("Address", "")),
                            expires=_seconds(contact.get("Expires")),
                            user_agent=str(contact.get("User-Agent", ""))[:200],
                            transport=str(contact.get("Socket") or "").partition(":")[0][:8],
                        )
                    )
        return found

    def send_request(
        self, *, method: str, uri: str, headers: str, body: str = "", next_hop: str = ""
    ) -> None:
        self._call("tm.t_uac_start", method, uri, next_hop or ".", ".", headers, body)

    def banned_addresses(self) -> dict[str, str]:
        # htable.dump: [{"entry": n, "size": k, "slot": [{"name": ..., "value": ...}]}, ...]
        banned: dict[str, str] = {}
        for entry in self._call("htable.dump", "bans") or []:
            for item in entry.get("slot", []) if isinstance(entry, dict) else []:
                banned[str(item.get("name"))] = str(item.get("value"))
        return banned

    def _forget(self, table: str, key: str) -> None:
        try:
            self._call("htable.delete", table, key)
        except EngineError as exc:  # "key not found": nothing to forget
            if "not found" not in str(exc).lower():
                raise

    def lift_ban(self, *, address: str) -> bool:
        was_banned = address in self.banned_addresses()
        for table in ("bans", "addrfail"):
            self._forget(table, address)
        return was_banned

    def forget_credentials(self, *, accounts: Sequence[str]) -> None:
        for account in accounts:
            # The mark first: a lookup that read the old row before the change committed and
            # stores it after this delete sees the mark (both under the slot's lock) and
            # does not store it.
            self._call("htable.sets", CREDENTIALS_STALE_TABLE, account, "1")
            self._forget(CREDENTIALS_TABLE, account)

    def drop_registrations(self, *, aor: str) -> bool:
        had_contacts = bool(self.registrations(aor=aor))
        self._call("ul.rm", REGISTRATION_TABLE, aor)  # succeeds whether or not the AOR exists
        # the phone's next REGISTER must reach Django, even if it says what the last one said
        self._forget(REPORTED_REGISTRATIONS_TABLE, aor)
        return had_contacts


def engine_client() -> EngineClient:
    return KamailioJsonRpc(settings.PBX_ENGINE_RPC_URL)
