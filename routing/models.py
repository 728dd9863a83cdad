"""Stored routing configuration: schedules, templates, and each person's routing profile.

A routing document (plans + default plan + rules, see routing.domain.plans) is stored as JSON,
validated by the domain parser on every write. A person either inherits their template's
document or overrides it with their own; do-not-disturb and forwarding are personal settings
that never count as overriding the template.
"""

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q

from pbx.directory.models import Tenant, User
from pbx.directory.validators import validate_time_zone


class Schedule(models.Model):
    """Weekly windows plus dated exceptions. Shared in the organisation, or personal."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="schedules")
    owner = models.ForeignKey(
        User,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="schedules",
        help_text="Empty: shared by the whole organisation.",
    )
    name = models.CharField(max_length=60)
    time_zone = models.CharField(
        max_length=64,
        blank=True,
        validators=[validate_time_zone],
        help_text="Empty: evaluated in the time zone of the person called.",
    )
    weekly = models.JSONField(default=list, blank=True)
    exceptions = models.JSONField(default=list, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ("name", "id")
        constraints = [
            models.UniqueConstraint(
                fields=("tenant", "name"),
                condition=Q(owner__isnull=True),
                name="schedule_shared_name_unique",
            ),
            models.UniqueConstraint(
                fields=("owner", "name"),
                condition=Q(owner__isnull=False),
                name="schedule_personal_name_unique",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class RoutingTemplate(models.Model):
    """A named routing pattern ("office", "field", "reception") assigned to many people."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="routing_templates")
    name = models.CharField(max_length=60)
    description = models.CharField(max_length=200, blank=True)
    document = models.JSONField()
    is_default = models.BooleanField(
        default=False, help_text="Used for people who have no template assigned."
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ("name", "id")
        constraints = [
            models.UniqueConstraint(fields=("tenant", "name"), name="routing_template_name_unique"),
            models.UniqueConstraint(
                fields=("tenant",),
                condition=Q(is_default=True),
                name="routing_template_one_default",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class RoutingProfile(models.Model):
    """One person's routing: template or own document, plus DND and forwarding."""

    user = models.OneToOneField(
        User, primary_key=True, on_delete=models.CASCADE, related_name="routing"
    )
    template = models.ForeignKey(
        RoutingTemplate, null=True, blank=True, on_delete=models.SET_NULL, related_name="profiles"
    )
    document = models.JSONField(null=True, blank=True, help_text="Empty: inherit the template.")
    dnd = models.BooleanField(default=False)
    dnd_until = models.DateTimeField(null=True, blank=True)
    forward_always = models.CharField(max_length=16, blank=True)
    forward_on_busy = models.CharField(max_length=16, blank=True)
    forward_on_no_answer = models.CharField(max_length=16, blank=True)
    max_concurrent_calls = models.PositiveSmallIntegerField(
        null=True, blank=True, validators=[MinValueValidator(1), MaxValueValidator(20)]
    )
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"routing of {self.user_id}"

    @property
    def inherits_template(self) -> bool:
        return self.document is None


class Call(models.Model):
    """One call to a person: what was decided, which device answered, how it ended."""

    class Outcome(models.TextChoices):
        RINGING = "ringing", "Ringing"
        ANSWERED = "answered", "Answered"
        MISSED = "missed", "Missed"
        VOICEMAIL = "voicemail", "Went to voicemail"
        FAILED = "failed", "Failed"

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="calls")
    callee = models.ForeignKey(User, on_delete=models.CASCADE, related_name="calls")
    call_id = models.CharField(max_length=255)
    extension = models.CharField(max_length=10)
    caller = models.CharField(max_length=64, blank=True)
    plan = models.CharField(max_length=60, blank=True)
    rule = models.CharField(max_length=60, blank=True)
    reason = models.CharField(max_length=20)
    trace = models.JSONField(default=list)
    outcome = models.CharField(max_length=10, choices=Outcome.choices, default=Outcome.RINGING)
    answered_device = models.ForeignKey(
        "devices.Device",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="answered_calls",
    )
    final_code = models.PositiveSmallIntegerField(null=True, blank=True)
    started_at = models.DateTimeField()
    answered_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ("-started_at", "-id")
        constraints = [
            models.UniqueConstraint(fields=("tenant", "call_id"), name="call_id_unique_in_tenant")
        ]
        indexes = [models.Index(fields=("callee", "started_at"))]

    def __str__(self) -> str:
        return f"{self.caller or 'anonymous'} -> {self.extension} ({self.outcome})"
