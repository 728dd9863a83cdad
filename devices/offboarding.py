"""Offboarding a person in one step: every way they could still ring, register or sign in is
closed, and the report says exactly what was closed."""

from dataclasses import dataclass, field

from django.contrib.sessions.models import Session
from django.db import transaction
from django.utils import timezone

from devices.models import PushBinding
from devices.services import device_revoke
from pbx.directory.models import User
from pbx.directory.services import devices_credentials_forget
from pbx.tokens.services import api_sessions_revoke_for_user


@dataclass(frozen=True)
class OffboardReport:
    user: str
    devices_revoked: list[str] = field(default_factory=list)
    push_tokens_removed: int = 0
    api_sessions_revoked: int = 0
    web_sessions_ended: int = 0
    deactivated: bool = False

    def lines(self) -> list[str]:
        devices = ", ".join(self.devices_revoked) or "none"
        return [
            f"{self.user}: devices revoked (their registrations dropped): {devices}",
            f"push tokens removed: {self.push_tokens_removed}",
            f"API sessions and tokens revoked: {self.api_sessions_revoked}",
            f"web sessions ended: {self.web_sessions_ended}",
            "account deactivated" if self.deactivated else "account was already inactive",
        ]


def _end_web_sessions(user: User) -> int:
    ended = 0
    for session in Session.objects.filter(expire_date__gt=timezone.now()).iterator():
        if session.get_decoded().get("_auth_user_id") == str(user.pk):
            session.delete()
            ended += 1
    return ended


@transaction.atomic
def user_offboard(*, user: User) -> OffboardReport:
    user = User.objects.select_for_update().get(pk=user.pk)
    push_tokens = PushBinding.objects.filter(device__user=user).count()
    revoked = []
    for device in user.devices.filter(revoked_at__isnull=True).order_by("label"):
        device_revoke(device=device)  # also forgets its push token and drops it in the engine
        revoked.append(device.label)
    api_sessions = api_sessions_revoke_for_user(user=user, reason="offboarded")
    web_sessions = _end_web_sessions(user)
    was_active = user.is_active
    if was_active:
        user.is_active = False
        user.save(update_fields=["is_active"])
        if user.tenant is not None:
            # devices revoked before today are not in the view either; forget them all
            devices_credentials_forget(tenant=user.tenant, user=user)
    return OffboardReport(
        user=user.email,
        devices_revoked=revoked,
        push_tokens_removed=push_tokens,
        api_sessions_revoked=api_sessions,
        web_sessions_ended=web_sessions,
        deactivated=was_active,
    )
