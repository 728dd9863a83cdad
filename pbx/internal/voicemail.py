"""The voicemail agent's calls into Django (engine token; never public): which mailbox a call
goes to and its greeting, and the deposit of a recording."""

from urllib.parse import unquote

from django.http import FileResponse, HttpRequest, JsonResponse
from django.http.response import HttpResponseBase
from django.urls import reverse

from pbx.directory.models import Extension
from pbx.engine.http import engine_endpoint, engine_error
from pbx.errors import Conflict
from routing.decisions import caller_identity
from voicemail.domain.audio import AudioInvalid, duration_ms, read_wav, resample, wav_bytes
from voicemail.models import Mailbox
from voicemail.selectors import mailbox_for_extension
from voicemail.services import voicemail_deposit

MAX_DEPOSIT = 8000 * 2 * 3600 + 1024  # one hour of 8 kHz 16-bit PCM
SESSION_MAX_BODY = 4096


def _extension(domain: str, number: str) -> Extension | None:
    return (
        Extension.objects.select_related("tenant", "owner")
        .filter(tenant__sip_domain=domain.lower(), number=number, tenant__is_active=True)
        .first()
    )


@engine_endpoint(max_body=SESSION_MAX_BODY)
def session_view(request: HttpRequest, payload: dict[str, object]) -> JsonResponse:
    try:
        domain, number = str(payload["domain"])[:253], str(payload["extension"])[:32]
        reason = str(payload.get("reason", "unavailable"))
    except KeyError:
        return engine_error(400, "malformed_request", "Send domain, extension and reason.")
    extension = _extension(domain, number)
    if extension is None:
        return engine_error(404, "unknown_mailbox", f"No extension {number} at {domain}.")
    mailbox = mailbox_for_extension(extension=extension)
    if mailbox.messages.count() >= mailbox.max_messages:
        return engine_error(409, "mailbox_full", "The mailbox is full.")
    kind = "busy" if reason == "busy" and mailbox.greeting_busy else "unavailable"
    greeting = getattr(mailbox, f"greeting_{kind}")
    return JsonResponse(
        {
            "mailbox_id": mailbox.pk,
            "max_seconds": mailbox.max_message_seconds,
            "greeting_url": (
                reverse("voicemail-greeting", args=[mailbox.pk, kind]) if greeting else None
            ),
            "name_url": (
                reverse("voicemail-greeting", args=[mailbox.pk, "name"])
                if mailbox.greeting_name
                else None
            ),
        }
    )


@engine_endpoint(method="GET", max_body=0, json_body=False)
def greeting_view(request: HttpRequest, mailbox_id: int, kind: str) -> HttpResponseBase:
    mailbox = Mailbox.objects.filter(pk=mailbox_id).first()
    field = getattr(mailbox, f"greeting_{kind}", None) if mailbox else None
    if not field:
        return engine_error(404, "not_found", "No such greeting.")
    return FileResponse(field.open("rb"), content_type="audio/wav")


@engine_endpoint(max_body=MAX_DEPOSIT, json_body=False)
def deposit_view(request: HttpRequest) -> JsonResponse:
    """Body: the WAV; headers name the mailbox (domain + extension) and the call. Delivering
    the same call twice answers 200 with the message already there (201 the first time)."""
    # Read the stream ourselves: `request.body` stops at DATA_UPLOAD_MAX_MEMORY_SIZE (2.5 MB,
    # under three minutes of audio), and a refused deposit would be a lost message. (The guard
    # has already refused a declared length over MAX_DEPOSIT.)
    wav = request.read(MAX_DEPOSIT + 1)
    if len(wav) > MAX_DEPOSIT:
        return engine_error(413, "too_large", "A deposit is at most one hour of audio.")
    headers = request.headers
    domain = headers.get("X-Voicemail-Domain", "")
    number = headers.get("X-Voicemail-Extension", "")
    call_id = unquote(headers.get("X-Voicemail-Call-Id", ""))[:255]
    if not (domain and number and call_id):
        return engine_error(400, "malformed_request", "Name the domain, extension and call.")
    try:
        pcm, rate = read_wav(wav)
    except AudioInvalid as exc:
        return engine_error(400, exc.code, str(exc))
    extension = _extension(domain, number)
    if extension is None:
        return engine_error(404, "unknown_mailbox", f"No extension {number} at {domain}.")
    pcm = resample(pcm, rate)
    # A call from one of our devices names its SIP username: show the caller's extension.
    caller = caller_identity(domain=domain, caller=unquote(headers.get("X-Voicemail-Caller", "")))
    caller_name = unquote(headers.get("X-Voicemail-Caller-Name", ""))
    if not caller_name and caller.isdigit():
        caller_name = (
            Extension.objects.filter(tenant=extension.tenant, number=caller)
            .values_list("display_name", flat=True)
            .first()
            or ""
        )
    try:
        deposit = voicemail_deposit(
            mailbox=mailbox_for_extension(extension=extension),
            call_id=call_id,
            wav=wav_bytes(pcm),
            duration_ms=duration_ms(pcm),
            caller=caller,
            caller_name=caller_name,
        )
    except Conflict as exc:
        return engine_error(409, exc.code, exc.detail)
    return JsonResponse(
        {"message_id": deposit.message.pk, "created": deposit.created},
        status=201 if deposit.created else 200,
    )
