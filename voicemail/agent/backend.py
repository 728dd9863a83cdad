"""What the agent asks of Django (internal API, engine token): the mailbox of a call, its
greeting, and the deposit. Deposits that cannot be delivered are spooled to disk and
retried: a message is never lost because Django was down or restarting."""

import asyncio
import json
import logging
import secrets
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import httpx

from voicemail.domain.audio import read_wav

logger = logging.getLogger(__name__)


class MailboxRefused(Exception):
    """Django answered: no such mailbox, or it cannot take a message (full)."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


@dataclass(frozen=True)
class Session:
    mailbox_id: int | None  # None: Django could not be asked; record and spool anyway
    greeting: bytes | None  # 8 kHz PCM, or None for the system prompt
    name: bytes | None  # the owner's recorded name
    max_seconds: int


class Backend:
    def __init__(self, base_url: str, token: str, spool: Path, timeout: float = 2.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.headers = {"X-Engine-Token": token}
        self.spool = spool
        self.client = httpx.AsyncClient(timeout=timeout)

    async def session(self, *, domain: str, extension: str, reason: str) -> Session:
        try:
            response = await self.client.post(
                f"{self.base_url}/internal/voicemail/sessions",
                json={"domain": domain, "extension": extension, "reason": reason},
                headers=self.headers,
            )
        except httpx.HTTPError as exc:
            logger.warning(
                "Django unreachable for %s@%s (%s): recording to spool", extension, domain, exc
            )
            return Session(None, None, None, 180)
        if response.status_code in (404, 409):
            raise MailboxRefused(response.json().get("code", "refused"))
        if response.status_code != 200:
            logger.warning(
                "Django answered %s for a session: recording to spool", response.status_code
            )
            return Session(None, None, None, 180)
        body = response.json()
        greeting = await self._audio(body.get("greeting_url"))
        name = await self._audio(body.get("name_url")) if greeting is None else None
        return Session(body["mailbox_id"], greeting, name, int(body["max_seconds"]))

    async def _audio(self, path: str | None) -> bytes | None:
        if not path:
            return None
        try:
            response = await self.client.get(f"{self.base_url}{path}", headers=self.headers)
        except httpx.HTTPError:
            return None
        if response.status_code != 200:
            return None
        return read_wav(response.content)[0]

    async def deposit(
        self,
        *,
        domain: str,
        extension: str,
        call_id: str,
        caller: str,
        caller_name: str,
        wav: bytes,
    ) -> bool:
        """True when Django has it (created now or already there)."""
        headers = self.headers | {
            "Content-Type": "audio/wav",
            "X-Voicemail-Domain": domain,
            "X-Voicemail-Extension": extension,
            "X-Voicemail-Call-Id": quote(call_id),
            "X-Voicemail-Caller": quote(caller),
            "X-Voicemail-Caller-Name": quote(caller_name),
        }
        try:
            response = await self.client.post(
                f"{self.base_url}/internal/voicemail/deposits", content=wav, headers=headers
            )
        except httpx.HTTPError as exc:
            logger.warning("deposit of %s not delivered: %s", call_id, exc)
            return False
        if response.status_code in (200, 201):
            return True
        if 400 <= response.status_code < 500:
            # Retrying cannot help; keep the recording aside for an operator, never drop it.
            logger.error(
                "deposit of %s refused for good (%s %s): kept in %s",
                call_id,
                response.status_code,
                response.text[:200],
                self.spool / "rejected",
            )
            kept: dict[str, str | bytes] = {
                "domain": domain,
                "extension": extension,
                "call_id": call_id,
                "caller": caller,
                "caller_name": caller_name,
                "wav": wav,
            }
            self._spool(kept, folder="rejected")
            return True
        logger.warning("deposit of %s: HTTP %s, will retry", call_id, response.status_code)
        return False

    async def deposit_or_spool(self, **deposit: str | bytes) -> None:
        for delay in (0, 0.5, 1, 2):
            await asyncio.sleep(delay)
            if await self.deposit(**deposit):  # type: ignore[arg-type]
                return
        self._spool(deposit)

    def _spool(self, deposit: dict[str, str | bytes], folder: str = "") -> None:
        directory = self.spool / folder if folder else self.spool
        directory.mkdir(parents=True, exist_ok=True)
        name = secrets.token_hex(8)
        wav = deposit["wav"]
        assert isinstance(wav, bytes)  # noqa: S101
        (directory / f"{name}.wav").write_bytes(wav)
        meta = {k: v for k, v in deposit.items() if k != "wav"}
        (directory / f"{name}.json").write_text(json.dumps(meta))
        logger.warning("deposit of %s spooled to %s", meta.get("call_id"), directory)

    async def flush_spool(self) -> int:
        """Deliver spooled deposits; returns how many were delivered."""
        delivered = 0
        if not self.spool.exists():
            return 0
        for meta_path in sorted(self.spool.glob("*.json")):
            wav_path = meta_path.with_suffix(".wav")
            if not wav_path.exists():
                meta_path.unlink()
                continue
            meta = json.loads(meta_path.read_text())
            if await self.deposit(wav=wav_path.read_bytes(), **meta):
                meta_path.unlink()
                wav_path.unlink()
                delivered += 1
        return delivered
