"""The portal's Softphone page: the signed-in person's own browser softphone (JsSIP over the
engine's SIP WebSocket).

The page itself holds no secret. Its script POSTs (session cookie + CSRF token) to
`softphone/account`, which answers what JsSIP needs to register: the device's SIP URI, the
engine's WebSocket URL and the digest HA1 with its realm (JsSIP's `ha1` + `realm` options), never
a plaintext password, with `Cache-Control: no-store`. The device is always the person's own
web softphone, found or created by `devices.services.web_softphone_ensure`: nothing in the
request names a device, so no one can ask for another person's."""

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from devices import services as device_services
from devices.models import Device
from pbx.audit.actors import actor_from_request
from pbx.audit.models import AuditEntry
from pbx.audit.services import audit_change
from pbx.directory.models import User
from pbx.errors import Conflict, DomainError
from pbx.portal.views import portal_page


@portal_page
def softphone(request: HttpRequest) -> HttpResponse:
    return render(request, "portal/softphone.html", {"page": "softphone"})


def _refusal(status: int, code: str, detail: str) -> JsonResponse:
    return JsonResponse({"code": code, "detail": detail}, status=status)


# never_cache: Cache-Control no-store (and private, no-cache, max-age=0): a credential
@never_cache
@portal_page
@require_POST
def softphone_account(request: HttpRequest) -> HttpResponse:
    user: User = request.user  # type: ignore[assignment]  # portal_page guarantees it
    if not settings.PBX_SIP_WEBSOCKET_URL:
        return _refusal(
            503, "softphone_not_configured", "The softphone is not set up on this server yet."
        )
    try:
        with audit_change(
            actor=actor_from_request(request, channel=AuditEntry.Channel.PORTAL),
            model=Device,
            lookup=None,
        ) as change:
            device, created = device_services.web_softphone_ensure(user=user)
            if created:
                change.lookup = {"pk": device.pk}
    except Conflict as exc:
        return _refusal(409, exc.code, exc.detail)
    except DomainError as exc:
        return _refusal(400, exc.code, exc.detail)
    if not device.enabled:
        return _refusal(
            409, "device_disabled", "Your web softphone is turned off: ask your administrator."
        )
    domain = device.tenant.sip_domain
    return JsonResponse(
        {
            "device_id": device.pk,
            "uri": f"sip:{device.sip_username}@{domain}",
            "authorization_user": device.sip_username,
            "realm": domain,
            "ha1": device.ha1,
            "display_name": user.full_name or user.email,
            "websocket_url": settings.PBX_SIP_WEBSOCKET_URL,
            "domain": domain,
        }
    )
