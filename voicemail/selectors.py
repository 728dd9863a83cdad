"""Reads of voicemail, through the person the caller may see (pbx.api.subjects)."""

from django.db.models import QuerySet
from django.http import Http404

from pbx.directory.models import User
from voicemail.models import Mailbox, Message
from voicemail.services import mailbox_for_extension


def mailbox_of(user: User) -> Mailbox:
    """The mailbox of the person's first extension (created on first use)."""
    extension = user.extensions.order_by("number").first()
    if extension is None:
        raise Http404("This person has no extension, hence no mailbox.")
    return mailbox_for_extension(extension=extension)


def message_list(*, mailbox: Mailbox, folder: str | None = None) -> QuerySet[Message]:
    messages = Message.objects.filter(mailbox=mailbox)
    return messages.filter(folder=folder) if folder else messages


def message_get(*, mailbox: Mailbox, message_id: str) -> Message:
    message = (
        Message.objects.filter(mailbox=mailbox, pk=message_id).first()
        if message_id.isdigit()
        else None
    )
    if message is None:
        raise Http404
    return message
