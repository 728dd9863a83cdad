"""Retention: messages older than their mailbox's `retention_days` are deleted, audio included."""

from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial

from django.core.files.storage import default_storage
from django.db import transaction

from voicemail.models import Mailbox, Message


@dataclass(frozen=True)
class Purged:
    messages: int
    mailbox_ids: tuple[int, ...]  # whose counts changed: their devices need a fresh MWI


def messages_purge_expired(*, now: datetime) -> Purged:
    """Delete expired messages, one transaction per mailbox; each file goes once its row's
    deletion committed (a rollback keeps both)."""
    purged = 0
    changed: list[int] = []
    for mailbox in Mailbox.objects.all().only("pk", "retention_days"):
        with transaction.atomic():
            expired = Message.objects.filter(
                mailbox=mailbox, created_at__lt=now - timedelta(days=mailbox.retention_days)
            )
            names = [name for name in expired.values_list("audio", flat=True) if name]
            _, deleted = expired.delete()
            count = deleted.get(Message._meta.label, 0)
            if not count:
                continue
            transaction.on_commit(partial(_delete_files, names))
        purged += count
        changed.append(mailbox.pk)
    return Purged(messages=purged, mailbox_ids=tuple(changed))


def _delete_files(names: list[str]) -> None:
    for name in names:
        default_storage.delete(name)
