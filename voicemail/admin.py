"""Voicemail in the platform console: mailboxes (PIN reset, in the audit trail), messages."""

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from pbx.audit.admin import AuditedAdmin
from voicemail.models import Mailbox, Message, VoicemailPolicy
from voicemail.services import mailbox_pin_reset


@admin.register(Mailbox)
class MailboxAdmin(AuditedAdmin[Mailbox]):
    list_display = ("extension", "tenant", "max_messages", "retention_days", "locked_until")
    list_filter = ("tenant",)
    search_fields = ("extension__number", "extension__owner__email")
    list_select_related = ("extension", "tenant")
    exclude = ("pin_hash",)
    readonly_fields = ("tenant", "extension", "failed_attempts", "lockouts", "locked_until")
    actions = ("reset_pins",)

    @admin.action(description="Reset voicemail PIN (shows the new PIN once)")
    def reset_pins(self, request: HttpRequest, queryset: QuerySet[Mailbox]) -> None:
        for mailbox in queryset.select_related("extension"):
            with self.audited(request, mailbox, "pin_reset"):
                pin = mailbox_pin_reset(mailbox=mailbox)
            self.log_change(request, mailbox, "Voicemail PIN reset.")
            messages.warning(
                request, f"Mailbox {mailbox.extension.number}: new PIN {pin} (shown once)"
            )


@admin.register(Message)
class MessageAdmin(AuditedAdmin[Message]):
    list_display = ("mailbox", "caller", "duration_ms", "folder", "heard_at", "created_at")
    list_filter = ("folder", "tenant")
    search_fields = ("caller", "caller_name", "call_id")
    readonly_fields = ("call_id", "audio", "duration_ms", "created_at")


@admin.register(VoicemailPolicy)
class VoicemailPolicyAdmin(AuditedAdmin[VoicemailPolicy]):
    list_display = ("tenant", "pin_min_length", "pin_max_attempts", "pin_lockout_seconds")
