"""Reads of voicemail, through the person the caller may see (pbx.api.subjects)."""

from django.db.models import QuerySet
from django.http import Http404

from pbx.directory.models import Extension, User
from voicemail.models import Mailbox, Message


def mailbox_for_extension(*, extension: Extension) -> Mailbox:
    """Every extension has a mailbox; its row is created the first time it is asked for."""
    mailbox, _ = Mailbox.objects.get_or_create(
        extension=extension, defaults={"tenant_id": extension.tenant_id}
    )
    return mailbox


def mailbox_of(user: User) -> Mailbox:
    """The mailbox of the person's first extension (created on first use)."""
    extension = user.extensions.order_by("number").first()
    if extension is None:
        raise Http404("This person has no extension, hence no mailbox.")
    return mailbox_for_extension(extension=extension)


def mailbox_counts(mailbox: Mailbox) -> tuple[int, int]:
    """(new, old): unheard messages in New; everything else."""
    messages = Message.objects.filter(mailbox=mailbox)
    new = messages.filter(folder=Message.Folder.NEW, heard_at__isnull=True).count()
    return new, messages.count() - new


def message_list(*, mailbox: Mailbox, folder: str | None = None) -> QuerySet[Message]:
    messages = Message.objects.filter(mailbox=mailbox)
    return messages.filter(folder=folder) if folder else messages


def message_get(*, mailbox: Mailbox, message_id: int) -> Message:
    message = Message.objects.filter(mailbox=mailbox, pk=message_id).first()
    if message is None:
        raise Http404
    return message
