"""The audit trail: one row per administrative change, append-only in PostgreSQL.

The tenant and the actor are plain references (`db_constraint=False`, `DO_NOTHING`): deleting
an organisation or a person never cascades into, or rewrites, the trail that recorded them, and
`actor_label` keeps who it was after the account is gone. The table refuses UPDATE and DELETE
(trigger `audit_entry_append_only`, migration 0001); the only way out is `audit_purge`.
"""

from django.db import models
from django.utils import timezone

from pbx.directory.models import Tenant, User


class AuditEntry(models.Model):
    class Channel(models.TextChoices):
        API = "api", "REST API"
        PORTAL = "portal", "Portal"
        ADMIN = "admin", "Django admin"
        ENGINE = "engine", "SIP engine"
        SYSTEM = "system", "System"
        UNKNOWN = "unknown", "Unknown (recorded before the trail existed)"

    class Credential(models.TextChoices):
        SESSION = "session", "Web session"
        API_TOKEN = "api_token", "API token"
        NONE = "", "None"

    at = models.DateTimeField(default=timezone.now, db_index=True)
    tenant = models.ForeignKey(
        Tenant,
        null=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
        help_text="The organisation the changed object belongs to (null: platform-wide).",
    )
    actor = models.ForeignKey(
        User, null=True, on_delete=models.DO_NOTHING, db_constraint=False, related_name="+"
    )
    actor_label = models.CharField(
        max_length=254, help_text="The actor's e-mail at the time, or `engine` / `system`."
    )
    channel = models.CharField(max_length=8, choices=Channel.choices)
    credential = models.CharField(max_length=12, choices=Credential.choices, blank=True)
    api_session_id = models.BigIntegerField(
        null=True, blank=True, help_text="The API session whose token was used (never the token)."
    )
    address = models.GenericIPAddressField(null=True, blank=True)
    object_type = models.CharField(
        max_length=64, help_text="`app_label.model`, e.g. devices.device"
    )
    object_id = models.CharField(max_length=64)
    object_repr = models.CharField(max_length=200, blank=True)
    action = models.CharField(max_length=40)
    changes = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ("-at", "-id")
        verbose_name_plural = "audit entries"
        indexes = [
            models.Index(fields=("tenant", "-at", "-id"), name="audit_tenant_at"),
            models.Index(fields=("object_type", "object_id"), name="audit_object"),
        ]

    def __str__(self) -> str:
        return f"{self.action} {self.object_type} {self.object_id} by {self.actor_label}"
