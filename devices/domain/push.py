"""Push tokens of mobile apps: which provider, what a well-formed token looks like."""

import re
from dataclasses import dataclass
from enum import StrEnum
from urllib.parse import unquote


class PushProvider(StrEnum):
    FCM = "fcm"
    APNS = "apns"


class InvalidPushToken(ValueError):
    code = "invalid_push_token"


_APNS_TOKEN = re.compile(r"[0-9a-f]{64,200}")
_FCM_TOKEN = re.compile(r"[A-Za-z0-9_:\-]{20,1024}")
_APP_ID = re.compile(r"[A-Za-z][A-Za-z0-9_]*(\.[A-Za-z0-9_\-]+)+")
_FIREBASE_PROJECT = re.compile(r"[a-z][a-z0-9\-]{4,29}")


def normalise_push_token(provider: PushProvider, token: str) -> str:
    """APNs device tokens are hex (Apple says not to assume 32 bytes); FCM tokens are opaque."""
    token = token.strip()
    if provider is PushProvider.APNS:
        token = token.lower().replace(" ", "")
        if not _APNS_TOKEN.fullmatch(token):
            raise InvalidPushToken(
                "An APNs device token is a hexadecimal string of 64 or more digits."
            )
    elif not _FCM_TOKEN.fullmatch(token):
        raise InvalidPushToken(
            "An FCM registration token is 20 or more characters of [A-Za-z0-9_:-]."
        )
    return token


def validate_app_id(app_id: str, provider: PushProvider | None = None) -> str:
    """An Android application id or an iOS bundle id, e.g. `com.example.pbx`; for FCM also a
    Firebase project id (what RFC 8599's `pn-param` carries for FCM)."""
    if provider is PushProvider.FCM and _FIREBASE_PROJECT.fullmatch(app_id):
        return app_id
    if not _APP_ID.fullmatch(app_id):
        raise ValueError("Enter an application or bundle id such as com.example.phone.")
    return app_id


class PushKind(StrEnum):
    WAKE = "wake"  # an incoming call: wake the app so it registers and rings
    CANCEL = "cancel"  # the call was answered elsewhere or the caller hung up
    VOICEMAIL = "voicemail"  # a new voicemail message (a visible alert, not a VoIP push)


class PushFailure(StrEnum):
    """Why a provider refused a push; dead reasons retire the token for good."""

    UNREGISTERED = "unregistered"  # FCM UNREGISTERED, APNs 410 Unregistered
    BAD_TOKEN = "bad_device_token"  # noqa: S105 - APNs BadDeviceToken, FCM SENDER_ID_MISMATCH
    THROTTLED = "throttled"  # 429
    PROVIDER_ERROR = "provider_error"  # 5xx
    UNREACHABLE = "unreachable"  # connection refused, timeout, TLS
    AUTH = "auth"  # our credentials were refused (expired provider token, bad key)
    REJECTED = "rejected"  # any other 4xx: the message itself was refused
    NOT_CONFIGURED = "not_configured"  # no credentials for this provider on this server

    @property
    def token_is_dead(self) -> bool:
        return self in (PushFailure.UNREGISTERED, PushFailure.BAD_TOKEN)

    @property
    def retryable(self) -> bool:
        return self in (
            PushFailure.THROTTLED,
            PushFailure.PROVIDER_ERROR,
            PushFailure.UNREACHABLE,
            PushFailure.AUTH,
        )


class PushRefused(Exception):
    """A provider did not take a push. `retry_after` is the provider's hint, in seconds."""

    def __init__(self, failure: PushFailure, detail: str, retry_after: float | None = None):
        super().__init__(f"{failure.value}: {detail}")
        self.failure = failure
        self.detail = detail
        self.retry_after = retry_after


@dataclass(frozen=True)
class ContactPushParams:
    """RFC 8599 push parameters carried in a REGISTER's Contact URI."""

    provider: PushProvider
    token: str  # pn-prid
    app_id: str  # bundle id (APNs) or Firebase project id (FCM), from pn-param
    sandbox: bool


def contact_push_params(contact: str) -> ContactPushParams | None:
    """Read `pn-provider`, `pn-prid` and `pn-param` from a contact URI (RFC 8599 section 4).

    APNs: `pn-param=<team id>.<bundle id>.voip`; the bundle id is kept. `pn-provider=apns.dev`
    (Flexisip's convention) means the sandbox. FCM: `pn-param` is the Firebase project id.
    Returns None when the contact carries no usable push parameters."""
    params: dict[str, str] = {}
    uri = contact.strip().strip("<>")
    for part in uri.split(";")[1:]:
        name, _, value = part.partition("=")
        params[name.strip().lower()] = unquote(value.strip().split(">")[0])
    provider_text = params.get("pn-provider", "").lower()
    token = params.get("pn-prid", "")
    param = params.get("pn-param", "")
    if not provider_text or not token:
        return None
    sandbox = provider_text == "apns.dev"
    try:
        provider = PushProvider("apns" if sandbox else provider_text)
    except ValueError:
        return None
    if provider is PushProvider.APNS:
        token = token.split(":")[0]  # Flexisip appends ":voip" / ":remote" to the token
        pieces = param.split(".")
        if len(pieces) >= 3 and pieces[-1] in ("voip", "remote", "voip&remote"):
            app_id = ".".join(pieces[1:-1])
        else:
            app_id = param
    else:
        app_id = param
    if not app_id:
        return None
    try:
        token = normalise_push_token(provider, token)
    except InvalidPushToken:
        return None
    return ContactPushParams(provider=provider, token=token, app_id=app_id, sandbox=sandbox)
