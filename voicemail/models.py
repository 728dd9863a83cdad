"""Mailboxes (one per extension), their messages and greetings. Who set or reset a PIN is in the
audit trail (`pbx.audit`), written by the edges that call the PIN services."""

from django.db import models

from pbx.directory.models import Extension, Tenant


def greeting_path(instance: "Mailbox", filename: str) -> str:
    return f"voicemail/{instance.tenant_id}/greetings/{filename}"


def message_path(instance: "Message", filename: str) -> str:
    return f"voicemail/{instance.tenant_id}/messages/{filename}"


class Mailbox(models.Model):
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="mailboxes")
    extension = models.OneToOneField(Extension, on_delete=models.CASCADE, related_name="mailbox")
    pin_hash = models.CharField(max_length=200, blank=True)
    failed_attempts = models.PositiveSmallIntegerField(default=0)
    lockouts = models.PositiveSmallIntegerField(default=0)
    locked_until = models.DateTimeField(null=True, blank=True)
    max_message_seconds = models.PositiveIntegerField(default=180)
    max_messages = models.PositiveIntegerField(default=100)
    retention_days = models.PositiveIntegerField(default=60)
    greeting_unavailable = models.FileField(upload_to=greeting_path, blank=True)
    greeting_busy = models.FileField(upload_to=greeting_path, blank=True)
    greeting_name = models.FileField(upload_to=greeting_path, blank=True)
    email_notifications = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"mailbox {self.extension_id}"


class Message(models.Model):
    class Folder(models.TextChoices):
        NEW = "new", "New"
        SAVED = "saved", "Saved"

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+")
    mailbox = models.ForeignKey(Mailbox, on_delete=models.CASCADE, related_name="messages")
    call_id = models.CharField(max_length=255, help_text="The deposit key: one message per call.")
    caller = models.CharField(max_length=64, blank=True)
    caller_name = models.CharField(max_length=128, blank=True)
    duration_ms = models.PositiveIntegerField()
    audio = models.FileField(upload_to=message_path)
    folder = models.CharField(max_length=8, choices=Folder.choices, default=Folder.NEW)
    heard_at = models.DateTimeField(null=True, blank=True)
    transcript = models.TextField(blank=True)
    emailed_at = models.DateTimeField(
        null=True, blank=True, help_text="When the owner was e-mailed about it: only once."
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ("-created_at",)
        constraints = [
            models.UniqueConstraint(fields=("mailbox", "call_id"), name="one_message_per_call"),
        ]

    def __str__(self) -> str:
        return f"message {self.pk} in {self.mailbox_id}"


class VoicemailPolicy(models.Model):
    """A tenant's voicemail rules; a tenant without one gets the strong defaults."""

    tenant = models.OneToOneField(Tenant, on_delete=models.CASCADE, related_name="voicemail_policy")
    pin_min_length = models.PositiveSmallIntegerField(default=6)
    pin_max_attempts = models.PositiveSmallIntegerField(default=5)
    pin_lockout_seconds = models.PositiveIntegerField(default=60)

    def __str__(self) -> str:
        return f"voicemail policy of {self.tenant_id}"
