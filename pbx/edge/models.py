"""Bans the engine placed on source addresses (failed authentications, scanners, floods).

The engine holds the ban itself (an htable entry that expires); Django keeps the record, for
the admin and the API, and lifts a ban through the engine queue."""

from django.conf import settings
from django.db import models


class SourceBan(models.Model):
    class Reason(models.TextChoices):
        AUTH_FAILURES = "auth_failures", "Failed authentications"
        SCANNER = "scanner", "SIP scanner user agent"
        FLOOD = "flood", "Request flood"

    source_address = models.GenericIPAddressField()
    reason = models.CharField(max_length=40, choices=Reason.choices)
    banned_at = models.DateTimeField()
    until = models.DateTimeField()
    failures = models.PositiveIntegerField(default=0)
    repeat = models.PositiveIntegerField(default=1, help_text="Bans of the address within a day.")
    user_agent = models.CharField(max_length=200, blank=True)
    lifted_at = models.DateTimeField(null=True, blank=True)
    lifted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        indexes = [
            models.Index(fields=("source_address", "banned_at")),
            models.Index(fields=("until",)),
        ]

    def __str__(self) -> str:
        return f"{self.source_address} banned ({self.reason})"
