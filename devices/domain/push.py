"""Push tokens of mobile apps: which provider, what a well-formed token looks like."""

import re
from enum import StrEnum


class PushProvider(StrEnum):
    FCM = "fcm"
    APNS = "apns"


class InvalidPushToken(ValueError):
    code = "invalid_push_token"


_APNS_TOKEN = re.compile(r"[0-9a-f]{64,200}")
_FCM_TOKEN = re.compile(r"[A-Za-z0-9_:\-]{20,1024}")
_APP_ID = re.compile(r"[A-Za-z][A-Za-z0-9_]*(\.[A-Za-z0-9_\-]+)+")


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


def validate_app_id(app_id: str) -> str:
    """An Android application id or an iOS bundle id, e.g. `com.example.pbx`."""
    if not _APP_ID.fullmatch(app_id):
        raise ValueError("Enter an application or bundle id such as com.example.phone.")
    return app_id
