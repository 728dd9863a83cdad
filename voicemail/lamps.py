"""Message lamps: a device that (re)appears gets the voicemail counts at once, so its lamp is
right after a reboot without waiting for the next message."""

from functools import partial

from django.db import transaction

from voicemail.models import Mailbox
from voicemail.tasks import send_mwi


def lamp_refresh_on_commit(*, device_id: int, user_id: int) -> int:
    """Queue one MWI NOTIFY per mailbox of the owner that holds messages, after commit."""
    mailbox_ids = list(
        Mailbox.objects.filter(extension__owner_id=user_id, messages__isnull=False)
        .values_list("pk", flat=True)
        .distinct()
    )
    for mailbox_id in mailbox_ids:
        transaction.on_commit(partial(send_mwi.delay, mailbox_id=mailbox_id, device_id=device_id))
    return len(mailbox_ids)
