"""Deposits against the real database, committed for real: the mailbox limit holds when two
callers leave a message at the same moment, and a deposit the database refuses leaves no audio
file behind."""

import threading
from pathlib import Path

import pytest
from django.conf import settings
from django.db import DatabaseError, connections

from pbx.errors import Conflict
from tests.factories import ExtensionFactory, UserFactory
from voicemail import selectors, services
from voicemail.domain import audio
from voicemail.models import Mailbox, Message

pytestmark = pytest.mark.django_db(transaction=True)


def mailbox_with(tenant, *, max_messages: int) -> Mailbox:
    extension = ExtensionFactory(owner=UserFactory(tenant=tenant))
    mailbox = selectors.mailbox_for_extension(extension=extension)
    mailbox.max_messages = max_messages
    mailbox.save()
    return mailbox


def deposit(mailbox: Mailbox, call_id: str, *, duration_ms: int | None = None) -> Message:
    pcm = audio.tone(1000, 1.0)
    return services.voicemail_deposit(
        mailbox=mailbox,
        call_id=call_id,
        wav=audio.wav_bytes(pcm),
        duration_ms=audio.duration_ms(pcm) if duration_ms is None else duration_ms,
        caller="202",
        caller_name="Bob",
    ).message


def stored_audio(mailbox: Mailbox) -> list[str]:
    directory = Path(settings.MEDIA_ROOT) / "voicemail" / str(mailbox.tenant_id) / "messages"
    return sorted(path.name for path in directory.glob("*")) if directory.exists() else []


def test_two_deposits_at_once_cannot_both_take_the_last_free_slot(tenant) -> None:
    mailbox = mailbox_with(tenant, max_messages=2)
    first = deposit(mailbox, "already-there")
    barrier = threading.Barrier(2)
    outcomes: dict[str, object] = {}

    def leave(call_id: str) -> None:
        try:
            barrier.wait(timeout=5)
            outcomes[call_id] = deposit(mailbox, call_id)
        except Conflict as exc:
            outcomes[call_id] = exc.code
        finally:
            connections.close_all()

    threads = [threading.Thread(target=leave, args=(name,)) for name in ("call-a", "call-b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert sorted(type(outcome).__name__ for outcome in outcomes.values()) == ["Message", "str"]
    assert [o for o in outcomes.values() if isinstance(o, str)] == ["mailbox_full"]
    [created] = [o for o in outcomes.values() if isinstance(o, Message)]
    assert Message.objects.filter(mailbox=mailbox).count() == 2
    assert set(Message.objects.filter(mailbox=mailbox).values_list("call_id", flat=True)) == {
        "already-there",
        created.call_id,
    }
    # The refused deposit stored nothing: one file per message, no more.
    assert stored_audio(mailbox) == sorted(Path(m.audio.name).name for m in (first, created))


def test_a_deposit_again_returns_its_message_even_when_the_mailbox_is_full(tenant) -> None:
    mailbox = mailbox_with(tenant, max_messages=1)
    message = deposit(mailbox, "only-one")

    again = services.voicemail_deposit(
        mailbox=mailbox,
        call_id="only-one",
        wav=audio.wav_bytes(audio.tone(440, 1.0)),
        duration_ms=1000,
        caller="202",
        caller_name="Bob",
    )
    with pytest.raises(Conflict) as refused:
        deposit(mailbox, "one-too-many")

    assert (again.message.pk, again.created) == (message.pk, False)
    assert refused.value.code == "mailbox_full"
    assert stored_audio(mailbox) == [Path(message.audio.name).name]


@pytest.mark.parametrize(
    ("call_id", "duration_ms"),
    [
        ("x" * 300, None),  # longer than the column: PostgreSQL refuses the row (DataError)
        ("negative", -1),  # the CHECK constraint of a positive integer (IntegrityError)
    ],
    ids=["value-too-long", "check-constraint"],
)
def test_a_deposit_the_database_refuses_leaves_no_audio_file(
    tenant, call_id: str, duration_ms: int | None
) -> None:
    mailbox = mailbox_with(tenant, max_messages=10)
    kept = deposit(mailbox, "a-good-one")

    with pytest.raises(DatabaseError):
        deposit(mailbox, call_id, duration_ms=duration_ms)

    assert list(Message.objects.filter(mailbox=mailbox)) == [kept]
    assert stored_audio(mailbox) == [Path(kept.audio.name).name]


def test_a_deposit_into_a_mailbox_deleted_meanwhile_is_refused_and_stores_nothing(
    tenant,
) -> None:
    mailbox = mailbox_with(tenant, max_messages=10)
    Mailbox.objects.filter(pk=mailbox.pk).delete()  # e.g. the extension removed by an admin

    with pytest.raises(Conflict) as refused:
        deposit(mailbox, "too-late")

    assert refused.value.code == "unknown_mailbox"
    assert not Message.objects.filter(call_id="too-late").exists()
    assert stored_audio(mailbox) == []
