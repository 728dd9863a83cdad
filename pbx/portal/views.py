"""The self-service portal: server-rendered pages over the same services and selectors as the
API. Writes that need JavaScript (the ring plan, voicemail actions) call the REST API with the
session and the CSRF token; everything else is a plain form."""

import json
from collections.abc import Callable
from functools import wraps
from typing import Any

import segno
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import redirect_to_login
from django.db import models
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render, resolve_url
from django.utils import timezone
from django.views.decorators.http import require_POST

from devices import selectors as device_selectors
from devices import services as device_services
from devices.models import Device, Registration
from pbx.accounts import second_factor
from pbx.accounts import views as sign_in_views
from pbx.audit.actors import Actor, actor_from_request
from pbx.audit.models import AuditEntry
from pbx.audit.services import audit_change
from pbx.directory.models import User
from pbx.errors import DomainError
from pbx.object_ids import parse_id
from routing.models import Call, RoutingProfile, Schedule
from routing.profiles import effective_document
from routing.selectors import ANSWERED_ELSEWHERE, call_list
from voicemail import selectors as voicemail_selectors
from voicemail.selectors import mailbox_counts

SURFACE = sign_in_views.Surface(
    name="portal",
    sign_in_template="portal/login.html",
    code_template="portal/sign_in_code.html",
    enrol_template="portal/sign_in_enrol.html",
    codes_template="portal/recovery_codes.html",
    settings_template="portal/security.html",
    home="portal:home",
    login_url="portal:login",
    code_url="portal:login-code",
    enrol_url="portal:login-enrol",
)


def _second_factor_missing(request: HttpRequest, user: User) -> bool:
    if second_factor.session_verified(request):
        return False
    return second_factor.second_factor_enrolled(user) or second_factor.second_factor_required(user)


def portal_page(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Signed-in people of an organisation only (platform staff use the admin), past the
    second factor when they have one or must have one (a session signed in before it was
    required goes back through the sign-in steps)."""

    @login_required
    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not isinstance(request.user, User) or request.user.tenant_id is None:
            raise Http404
        if _second_factor_missing(request, request.user):
            return redirect_to_login(request.get_full_path(), resolve_url("portal:login"))
        return view(request, *args, **kwargs)

    return wrapped


def _online_ids(user: User) -> set[int]:
    return set(
        Registration.objects.filter(device__user=user, expires_at__gt=timezone.now()).values_list(
            "device_id", flat=True
        )
    )


@portal_page
def home(request: HttpRequest) -> HttpResponse:
    return redirect("portal:devices")


def _credentials_qr(issued: device_services.IssuedCredentials) -> str:
    """An SVG QR code a softphone can scan: JSON with the server, domain, username, secret."""
    device = issued.device
    payload = json.dumps(
        {
            "type": "pbx-sip-account",
            "domain": device.tenant.sip_domain,
            "username": device.sip_username,
            "password": issued.secret,
        },
        separators=(",", ":"),
    )
    return segno.make(payload, error="m").svg_inline(scale=4, dark="#111", light="#fff")


@portal_page
def devices(request: HttpRequest) -> HttpResponse:
    user: User = request.user  # type: ignore[assignment]
    listed = (
        device_selectors.device_list(tenant=user.tenant, actor=user)  # type: ignore[arg-type]
        .filter(user=user)
        .order_by("revoked_at", "label")
    )
    issued = request.session.pop("portal_issued", None)
    return render(
        request,
        "portal/devices.html",
        {"devices": listed, "online": _online_ids(user), "issued": issued, "page": "devices"},
    )


def _show_once(request: HttpRequest, issued: device_services.IssuedCredentials) -> None:
    """Credentials survive exactly one page view (the redirect after the POST)."""
    request.session["portal_issued"] = {
        "label": issued.device.label,
        "username": issued.device.sip_username,
        "domain": issued.device.tenant.sip_domain,
        "secret": issued.secret,
        "qr": _credentials_qr(issued),
    }


def _actor(request: HttpRequest) -> Actor:
    """Changes made on the portal's own forms; its JavaScript calls the API, which records
    those (as the portal, by the session and `X-PBX-Client`)."""
    return actor_from_request(request, channel=AuditEntry.Channel.PORTAL)


@portal_page
@require_POST
def device_add(request: HttpRequest) -> HttpResponse:
    label = request.POST.get("label", "").strip()
    try:
        with audit_change(actor=_actor(request), model=Device, lookup=None) as change:
            issued = device_services.device_create(
                user=request.user,  # type: ignore[arg-type]
                kind=Device.Kind.SOFTPHONE,
                label=label or "Softphone",
            )
            change.lookup = {"pk": issued.device.pk}
    except DomainError as exc:
        messages.error(request, exc.detail)
        return redirect("portal:devices")
    _show_once(request, issued)
    return redirect("portal:devices")


def _own_device(request: HttpRequest, device_id: int) -> Device:
    user: User = request.user  # type: ignore[assignment]  # portal_page guarantees it
    device = Device.objects.filter(pk=device_id, user=user).first()
    if device is None:
        raise Http404
    return device


@portal_page
@require_POST
def device_rotate(request: HttpRequest, device_id: int) -> HttpResponse:
    device = _own_device(request, device_id)
    try:
        with audit_change(
            actor=_actor(request), model=Device, lookup={"pk": device.pk}, action="rotate_secret"
        ):
            issued = device_services.device_rotate_secret(device=device)
    except DomainError as exc:
        messages.error(request, exc.detail)
        return redirect("portal:devices")
    _show_once(request, issued)
    return redirect("portal:devices")


@portal_page
@require_POST
def device_revoke(request: HttpRequest, device_id: int) -> HttpResponse:
    device = _own_device(request, device_id)
    with audit_change(
        actor=_actor(request), model=Device, lookup={"pk": device.pk}, action="revoke"
    ):
        device = device_services.device_revoke(device=device)
    messages.success(request, f"{device.label} is revoked: it can no longer register.")
    return redirect("portal:devices")


@portal_page
def ring_plan(request: HttpRequest) -> HttpResponse:
    user: User = request.user  # type: ignore[assignment]
    stored = RoutingProfile.objects.filter(user=user).first()
    document, source = effective_document(user=user, stored=stored)
    own = [
        {"id": d.pk, "label": d.label, "kind": d.kind}
        for d in Device.objects.filter(user=user, revoked_at__isnull=True).order_by("label")
    ]
    return render(
        request,
        "portal/ring_plan.html",
        {
            "document": document,
            "devices": own,
            "source": source,
            "treatment": stored,
            "page": "ring_plan",
        },
    )


@portal_page
def voicemail(request: HttpRequest) -> HttpResponse:
    user: User = request.user  # type: ignore[assignment]
    try:
        mailbox = voicemail_selectors.mailbox_of(user)
    except Http404:
        return render(request, "portal/voicemail.html", {"mailbox": None, "page": "voicemail"})
    new, old = mailbox_counts(mailbox)
    return render(
        request,
        "portal/voicemail.html",
        {
            "mailbox": mailbox,
            "messages_list": voicemail_selectors.message_list(mailbox=mailbox)[:200],
            "new": new,
            "old": old,
            "page": "voicemail",
        },
    )


def _outcome_label(call: Call) -> str:
    """The Calls page's words for `device_outcome` (or the outcome, seen from all devices)."""
    seen = call.device_outcome or call.outcome  # type: ignore[attr-defined]  # call_list annotates
    where = call.answered_device.label if call.answered_device else None
    if seen == ANSWERED_ELSEWHERE:
        return f"Answered elsewhere ({where})" if where else "Answered elsewhere"
    if seen == Call.Outcome.ANSWERED:
        return f"Answered on {where}" if where else "Answered"
    return str(Call.Outcome(seen).label)


@portal_page
def calls(request: HttpRequest) -> HttpResponse:
    """The person's calls, as `GET /api/v1/calls` lists them (the same selector), optionally as
    seen from one of their devices."""
    user: User = request.user  # type: ignore[assignment]
    viewer = parse_id(request.GET.get("device", ""))
    seen_from = Device.objects.filter(pk=viewer, user=user).first() if viewer is not None else None
    history = call_list(
        tenant=user.tenant,  # type: ignore[arg-type]  # portal_page guarantees it
        actor=user,
        callee=user,
        seen_from=seen_from,
    )[:200]
    rows = [{"call": call, "label": _outcome_label(call)} for call in history]
    own = Device.objects.filter(user=user).order_by("label")
    return render(
        request,
        "portal/calls.html",
        {
            "rows": rows,
            "devices": own,
            "viewer": seen_from.pk if seen_from else None,
            "page": "calls",
        },
    )


@portal_page
def schedules(request: HttpRequest) -> HttpResponse:
    user: User = request.user  # type: ignore[assignment]
    visible = (
        Schedule.objects.filter(tenant=user.tenant)
        .filter(models.Q(owner__isnull=True) | models.Q(owner=user))
        .order_by("name")
    )
    days = [
        ("mon", "Mon"),
        ("tue", "Tue"),
        ("wed", "Wed"),
        ("thu", "Thu"),
        ("fri", "Fri"),
        ("sat", "Sat"),
        ("sun", "Sun"),
    ]
    return render(
        request,
        "portal/schedules.html",
        {
            "schedules": visible,
            "days": days,
            "weekdays": {"mon", "tue", "wed", "thu", "fri"},
            "page": "schedules",
        },
    )


@portal_page
def security(request: HttpRequest) -> HttpResponse:
    """Two-step sign-in: set up (optional for members), new recovery codes, turn off."""
    return sign_in_views.second_factor_settings(request, surface=SURFACE)
