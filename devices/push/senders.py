"""The configured FCM and APNs senders, one per worker process (they keep HTTP/2
connections and the APNs provider token), rebuilt when their settings change."""

import json
from functools import lru_cache
from pathlib import Path

from django.conf import settings

from devices.domain.push import PushFailure, PushProvider, PushRefused
from devices.push.apns import ApnsSender
from devices.push.fcm import FcmSender

_open_apns: list[ApnsSender] = []


@lru_cache(maxsize=4)
def _fcm(account_file: str, endpoint: str, timeout: float) -> FcmSender:
    account = json.loads(Path(account_file).read_text())
    return FcmSender(service_account=account, endpoint=endpoint, timeout=timeout)


@lru_cache(maxsize=4)
def _apns(
    key_file: str,
    key_id: str,
    team_id: str,
    production_url: str,
    sandbox_url: str,
    token_ttl: float,
    ca_file: str,
    timeout: float,
) -> ApnsSender:
    sender = ApnsSender(
        key_pem=Path(key_file).read_text(),
        key_id=key_id,
        team_id=team_id,
        production_url=production_url,
        sandbox_url=sandbox_url,
        token_ttl=token_ttl,
        ca_file=ca_file,
        timeout=timeout,
    )
    _open_apns.append(sender)
    return sender


def fcm_sender() -> FcmSender:
    if not settings.PBX_FCM_SERVICE_ACCOUNT_FILE:
        raise PushRefused(PushFailure.NOT_CONFIGURED, "PBX_FCM_SERVICE_ACCOUNT_FILE is not set")
    return _fcm(
        settings.PBX_FCM_SERVICE_ACCOUNT_FILE, settings.PBX_FCM_URL, settings.PBX_PUSH_TIMEOUT
    )


def apns_sender() -> ApnsSender:
    if not (settings.PBX_APNS_KEY_FILE and settings.PBX_APNS_KEY_ID and settings.PBX_APNS_TEAM_ID):
        raise PushRefused(
            PushFailure.NOT_CONFIGURED, "PBX_APNS_KEY_FILE, _KEY_ID and _TEAM_ID are not all set"
        )
    return _apns(
        settings.PBX_APNS_KEY_FILE,
        settings.PBX_APNS_KEY_ID,
        settings.PBX_APNS_TEAM_ID,
        settings.PBX_APNS_URL,
        settings.PBX_APNS_SANDBOX_URL,
        settings.PBX_APNS_TOKEN_TTL,
        settings.PBX_APNS_CA_FILE,
        settings.PBX_PUSH_TIMEOUT,
    )


def configured_providers() -> list[PushProvider]:
    found = []
    if settings.PBX_FCM_SERVICE_ACCOUNT_FILE:
        found.append(PushProvider.FCM)
    if settings.PBX_APNS_KEY_FILE:
        found.append(PushProvider.APNS)
    return found


def senders_reset() -> None:
    """Close the senders' connections and forget them (tests; credentials rotated)."""
    for sender in _open_apns:
        sender.client.close()
    _open_apns.clear()
    _apns.cache_clear()
    _fcm.cache_clear()
