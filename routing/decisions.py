"""Route decisions for real calls (the engine asks) and simulated ones (people ask why)."""

from datetime import datetime

from django.db import connection
from django.utils import timezone

from devices.selectors import registered_device_ids
from pbx.directory.models import Extension, PhoneNumber, User
from routing.destination_sql import DESTINATION_AND_LIVE_SQL, destination_from_row, is_number
from routing.domain.evaluation import (
    Colleague,
    Colleagues,
    IncomingCall,
    LiveState,
    evaluate,
)
from routing.profiles import routing_profile_for
from routing.routed import Destination, RoutedCall


def destination_resolve(*, domain: str, called: str) -> Destination | None:
    """`201` (an extension) or `+33140000000` (a DID) within the tenant of `domain`.

    Extensions of deactivated people and of suspended organisations take no calls.
    """
    if called.startswith("+"):
        row = (
            PhoneNumber.objects.filter(
                number=called,
                tenant__sip_domain=domain,
                tenant__is_active=True,
                extension__owner__is_active=True,
            )
            .values_list("tenant_id", "extension__owner_id", "extension__number")
            .first()
        )
    else:
        row = (
            Extension.objects.filter(
                number=called,
                tenant__sip_domain=domain,
                tenant__is_active=True,
                owner__is_active=True,
            )
            .values_list("tenant_id", "owner_id", "number")
            .first()
        )
    return Destination(*row) if row else None


def caller_identity(*, domain: str, caller: str) -> str:
    """What rules match against: E.164 and extension numbers as they are; for a call from one
    of our devices (the engine sends its SIP username), the owner's extension."""
    if is_number(caller):
        return caller
    number = (
        Extension.objects.filter(tenant__sip_domain=domain, owner__devices__sip_username=caller)
        .order_by("number")
        .values_list("number", flat=True)
        .first()
    )
    return number or caller


def destination_and_live(
    *, domain: str, called: str, caller: str, now: datetime
) -> tuple[Destination, frozenset[int], str] | None:
    """`destination_resolve`, `registered_device_ids` and `caller_identity` together, in one
    query when possible."""
    if connection.vendor != "postgresql":
        destination = destination_resolve(domain=domain, called=called)
        if destination is None:
            return None
        registered = registered_device_ids(user_id=destination.user_id, now=now)
        return destination, registered, caller_identity(domain=domain, caller=caller)
    with connection.cursor() as cursor:
        cursor.execute(
            DESTINATION_AND_LIVE_SQL,
            {"domain": domain, "called": called, "caller": caller, "now": now},
        )
        row = cursor.fetchone()
    if row is None:
        return None
    return destination_from_row(row, caller=caller)


def colleagues_in(*, tenant_id: int, now: datetime) -> Colleagues:
    """Who answers an extension of the organisation, for extension targets and forwards.
    Read only when a plan reaches someone else (never on the plain hot path), once each."""
    found: dict[str, Colleague | None] = {}

    def colleague(extension: str) -> Colleague | None:
        if extension not in found:
            row = (
                Extension.objects.filter(
                    tenant_id=tenant_id,
                    number=extension,
                    tenant__is_active=True,
                    owner__is_active=True,
                )
                .values_list("owner_id", "display_name")
                .first()
            )
            found[extension] = (
                Colleague(
                    extension=extension,
                    name=row[1],
                    routing=routing_profile_for(user_id=row[0], tenant_id=tenant_id),
                    live=LiveState(registered_device_ids(user_id=row[0], now=now)),
                )
                if row
                else None
            )
        return found[extension]

    return colleague


def route_decision(
    *,
    destination: Destination,
    caller: str,
    active_calls: int,
    now: datetime,
    registered: frozenset[int],
) -> RoutedCall:
    profile = routing_profile_for(user_id=destination.user_id, tenant_id=destination.tenant_id)
    decision = evaluate(
        profile,
        IncomingCall(caller, active_calls),
        now,
        LiveState(registered),
        extension=destination.extension,
        colleagues=colleagues_in(tenant_id=destination.tenant_id, now=now),
    )
    return RoutedCall(destination, profile, decision)


def route_simulate(
    *,
    user: User,
    caller: str,
    at: datetime,
    registered: frozenset[int] | None,
    active_calls: int = 0,
) -> RoutedCall:
    """What would happen if `caller` called `user` at `at`; live state as given or as it is now."""
    assert user.tenant_id is not None  # noqa: S101 - callers check the tenant
    extension = user.extensions.order_by("number").values_list("number", flat=True).first() or ""
    destination = Destination(user.tenant_id, user.pk, extension)
    profile = routing_profile_for(user_id=user.pk, tenant_id=user.tenant_id)
    now = timezone.now()
    if registered is None:  # the devices registered now, even when testing another time
        registered = registered_device_ids(user_id=user.pk, now=now)
    decision = evaluate(
        profile,
        IncomingCall(caller, active_calls),
        at,
        LiveState(registered),
        extension=extension,
        colleagues=colleagues_in(tenant_id=user.tenant_id, now=now),
    )
    return RoutedCall(destination, profile, decision)
