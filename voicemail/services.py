"""Writes of voicemail: PINs (policy, lockout, resets; the API and admin record them in the
audit trail), deposits (idempotent by call,
within the mailbox's limit), message state, greetings. Side effects (MWI, pushes, e-mails,
live events) go out after commit."""

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth.hashers import check_password, make_password
from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import timezone

from pbx.errors import Conflict, DomainError
from pbx.events.publish import send_event_on_commit
from voicemail.domain.audio import AudioInvalid, normalise_upload
from voicemail.domain.pins import PinPolicy, WeakPin, lockout_seconds, pin_check
from voicemail.models import Mailbox, Message, VoicemailPolicy
from voicemail.tasks import email_new_message, push_new_message, send_mwi, transcribe

GREETING_KINDS = ("unavailable", "busy", "name")
GREETING_MAX_BYTES = 5_000_000
GREETING_MAX_SECONDS = 60
# A fixed dummy hash so a mailbox without a PIN costs the same time to check as one with.
_NO_PIN = make_password(None)


def pin_policy(tenant_id: int) -> PinPolicy:
    stored = VoicemailPolicy.objects.filter(tenant_id=tenant_id).first()
    if stored is None:
        return PinPolicy()
    return PinPolicy(
        min_length=stored.pin_min_length,
        max_attempts=stored.pin_max_attempts,
        lockout_seconds=stored.pin_lockout_seconds,
    )


def _personal_numbers(mailbox: Mailbox) -> list[str]:
    owner = mailbox.extension.owner
    numbers = list(owner.extensions.values_list("number", flat=True))
    numbers += list(mailbox.extension.phone_numbers.values_list("number", flat=True))
    mobile = getattr(owner, "mobile_number", "")
    if mobile:
        numbers.append(mobile)
    return numbers


@transaction.atomic
def mailbox_pin_set(*, mailbox: Mailbox, pin: str) -> None:
    try:
        pin_check(pin, pin_policy(mailbox.tenant_id), personal=_personal_numbers(mailbox))
    except WeakPin as exc:
        raise DomainError(str(exc), code=exc.code, field="pin") from exc
    Mailbox.objects.filter(pk=mailbox.pk).update(
        pin_hash=make_password(pin), failed_attempts=0, lockouts=0, locked_until=None
    )


@transaction.atomic
def mailbox_pin_reset(*, mailbox: Mailbox) -> str:
    """An administrator resets a forgotten PIN: a random strong one, shown once (the caller
    records who did it in the audit trail)."""
    policy = pin_policy(mailbox.tenant_id)
    personal = _personal_numbers(mailbox)
    while True:
        pin = "".join(secrets.choice("0123456789") for _ in range(max(policy.min_length, 8)))
        try:
            pin_check(pin, policy, personal=personal)
            break
        except WeakPin:
            continue
    Mailbox.objects.filter(pk=mailbox.pk).update(
        pin_hash=make_password(pin), failed_attempts=0, lockouts=0, locked_until=None
    )
    return pin


@dataclass(frozen=True)
class PinOutcome:
    ok: bool
    locked_until: datetime | None = None
    attempts_left: int = 0


@transaction.atomic
def mailbox_pin_verify(*, mailbox_id: int, pin: str, now: datetime) -> PinOutcome:
    """Check a PIN (the caller's phone or an app). The hash comparison is constant-time and
    always runs, locked or not, so neither the answer's timing nor its content tells which
    digit was wrong. After `max_attempts` wrong PINs in a row the mailbox locks, for longer
    each time."""
    mailbox = Mailbox.objects.select_for_update().get(pk=mailbox_id)
    policy = pin_policy(mailbox.tenant_id)
    matches = check_password(pin, mailbox.pin_hash or _NO_PIN) and bool(mailbox.pin_hash)
    if mailbox.locked_until is not None and mailbox.locked_until > now:
        return PinOutcome(False, locked_until=mailbox.locked_until)
    if matches:
        Mailbox.objects.filter(pk=mailbox.pk).update(failed_attempts=0, locked_until=None)
        return PinOutcome(True)
    failed = mailbox.failed_attempts + 1
    if failed >= policy.max_attempts:
        lockouts = mailbox.lockouts + 1
        until = now + timedelta(seconds=lockout_seconds(policy, lockouts))
        Mailbox.objects.filter(pk=mailbox.pk).update(
            failed_attempts=0, lockouts=lockouts, locked_until=until
        )
        return PinOutcome(False, locked_until=until)
    Mailbox.objects.filter(pk=mailbox.pk).update(failed_attempts=failed)
    return PinOutcome(False, attempts_left=policy.max_attempts - failed)


@dataclass(frozen=True)
class Deposit:
    message: Message
    created: bool


def voicemail_deposit(
    *,
    mailbox: Mailbox,
    call_id: str,
    wav: bytes,
    duration_ms: int,
    caller: str,
    caller_name: str,
) -> Deposit:
    """The one way a message enters a mailbox. The call's id is the deposit key: delivering
    the same deposit again (an agent or worker retry) returns the message already there, even
    when the mailbox has filled up since.

    One transaction of its own (durable: when it returns, the message is committed). The
    mailbox row is locked while its messages are counted and the new one written, so two
    deposits at once cannot both take the last free slot (the agent's session check is only
    an early answer for the caller). The audio is stored inside that transaction and deleted
    if the transaction does not commit: a refused or failed write leaves no file behind."""
    written = ""
    try:
        with transaction.atomic(durable=True):
            locked = (
                Mailbox.objects.select_for_update(of=("self",))
                .select_related("extension")
                .filter(pk=mailbox.pk)
                .first()
            )
            if locked is None:
                raise Conflict("The mailbox no longer exists.", code="unknown_mailbox")
            existing = Message.objects.filter(mailbox=locked, call_id=call_id).first()
            if existing is not None:
                return Deposit(existing, created=False)
            if Message.objects.filter(mailbox=locked).count() >= locked.max_messages:
                raise Conflict("The mailbox is full.", code="mailbox_full")
            message = Message(
                tenant_id=locked.tenant_id,
                mailbox=locked,
                call_id=call_id,
                caller=caller[:64],
                caller_name=caller_name[:128],
                duration_ms=duration_ms,
            )
            message.audio.save(f"{secrets.token_hex(16)}.wav", ContentFile(wav), save=False)
            written = message.audio.name
            message.save()
            _counts_changed(locked, new_message=message)
    except BaseException:
        if written:
            message.audio.storage.delete(written)
        raise
    return Deposit(message, created=True)


def _counts_changed(mailbox: Mailbox, *, new_message: Message | None = None) -> None:
    user_id = mailbox.extension.owner_id
    transaction.on_commit(lambda: send_mwi.delay(mailbox_id=mailbox.pk))
    if new_message is None:
        return
    send_event_on_commit(
        user_ids=[user_id],
        type="voicemail.new",
        data={"message_id": new_message.pk, "caller": new_message.caller},
    )
    message_id = new_message.pk
    transaction.on_commit(lambda: push_new_message.delay(message_id=message_id))
    if mailbox.email_notifications:
        transaction.on_commit(lambda: email_new_message.delay(message_id=message_id))
    if settings.PBX_VOICEMAIL_TRANSCRIBER:
        transaction.on_commit(lambda: transcribe.delay(message_id=message_id))


@transaction.atomic
def message_update(*, message: Message, heard: bool | None, folder: str | None) -> Message:
    changed = []
    if heard is not None and heard != (message.heard_at is not None):
        message.heard_at = timezone.now() if heard else None
        changed.append("heard_at")
    if folder is not None and folder != message.folder:
        message.folder = folder
        changed.append("folder")
    if changed:
        message.save(update_fields=changed)
        _counts_changed(message.mailbox)
    return message


@transaction.atomic
def message_delete(*, message: Message) -> None:
    mailbox = message.mailbox
    audio = message.audio
    message.delete()
    transaction.on_commit(lambda: audio.delete(save=False))
    _counts_changed(mailbox)


@transaction.atomic
def greeting_set(*, mailbox: Mailbox, kind: str, data: bytes) -> Mailbox:
    if kind not in GREETING_KINDS:
        raise DomainError("Unknown greeting.", code="invalid_choice", field="kind")
    try:
        wav = normalise_upload(data, max_bytes=GREETING_MAX_BYTES, max_seconds=GREETING_MAX_SECONDS)
    except AudioInvalid as exc:
        raise DomainError(str(exc), code=exc.code, field="audio") from exc
    field = getattr(mailbox, f"greeting_{kind}")
    old = field.name
    field.save(f"{kind}-{secrets.token_hex(8)}.wav", ContentFile(wav), save=False)
    mailbox.save(update_fields=[f"greeting_{kind}"])
    if old:
        storage = field.storage
        transaction.on_commit(lambda: storage.delete(old))
    return mailbox


@transaction.atomic
def greeting_delete(*, mailbox: Mailbox, kind: str) -> None:
    field = getattr(mailbox, f"greeting_{kind}")
    if field.name:
        name, storage = field.name, field.storage
        setattr(mailbox, f"greeting_{kind}", "")
        mailbox.save(update_fields=[f"greeting_{kind}"])
        transaction.on_commit(lambda: storage.delete(name))
