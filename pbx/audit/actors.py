"""Who made a change, and from where: read once from the request at the edge (API, portal,
admin) and handed to `audit_record`. The address is `REMOTE_ADDR`, the same the throttles key
on (`pbx/settings.py`): behind a proxy, uvicorn `--proxy-headers` sets it to the real client
when the request comes from a trusted proxy; a client's own X-Forwarded-For is never read."""

from dataclasses import dataclass
from ipaddress import ip_address
from typing import Any

from django.http import HttpRequest

from pbx.audit.models import AuditEntry
from pbx.directory.models import User
from pbx.tokens.models import AccessToken


@dataclass(frozen=True, slots=True)
class Actor:
    channel: str
    label: str
    user_id: int | None = None
    credential: str = AuditEntry.Credential.NONE
    api_session_id: int | None = None
    address: str | None = None


ENGINE = Actor(channel=AuditEntry.Channel.ENGINE, label="engine")
SYSTEM = Actor(channel=AuditEntry.Channel.SYSTEM, label="system")


def _address(request: HttpRequest) -> str | None:
    raw = request.META.get("REMOTE_ADDR") or ""
    try:
        return str(ip_address(raw))
    except ValueError:
        return None


def actor_from_request(request: Any, *, channel: str) -> Actor:
    """The signed-in person of a Django or DRF request; which credential they used (a browser
    session, or an API access token, named by its session id and never by the token)."""
    user = request.user
    auth = getattr(request, "auth", None)  # DRF only
    if isinstance(auth, AccessToken):
        credential, session_id = AuditEntry.Credential.API_TOKEN, auth.session_id
    else:
        credential, session_id = AuditEntry.Credential.SESSION, None
    if not isinstance(user, User):
        return Actor(channel=channel, label="anonymous", address=_address(request))
    return Actor(
        channel=channel,
        label=user.email,
        user_id=user.pk,
        credential=credential,
        api_session_id=session_id,
        address=_address(request),
    )
