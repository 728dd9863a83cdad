"""Devices and push bindings.

A device holds its own SIP username and only the HA1 digests of its secret. The engine reads
credentials straight from this table (see deploy/kamailio), so registrations keep working while
Django is down.
"""

from django.db import models
from django.db.models import Q

from pbx.directory.models import Tenant, TransportPolicy, User
from pbx.directory.validators import validate_networks


class Device(models.Model):
    class Kind(models.TextChoices):
        DESK_PHONE = "desk_phone", "Desk phone"
        SOFTPHONE = "softphone", "Softphone"
        MOBILE_APP = "mobile_app", "Mobile app"
        WEB_SOFTPHONE = "web_softphone", "Web softphone"

    # The device's own transport policy, or INHERIT: its organisation's default.
    INHERIT = "inherit"
    TRANSPORT_POLICY_CHOICES = (
        (INHERIT, "The organisation's default"),
        *TransportPolicy.choices,
    )

    tenant = models.ForeignKey(Tenant, on_delete=models.PROTECT, related_name="devices")
    user = models.ForeignKey(User, on_delete=models.PROTECT, related_name="devices")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    label = models.CharField(max_length=80)
    sip_username = models.CharField(max_length=32, editable=False)
    ha1 = models.CharField(max_length=32, editable=False)
    ha1b = models.CharField(max_length=32, editable=False)
    enabled = models.BooleanField(default=True)
    revoked_at = models.DateTimeField(null=True, blank=True, editable=False)
    allowed_networks = models.JSONField(
        default=list,
        blank=True,
        validators=[validate_networks],
        help_text="CIDR networks this device may register from; empty means the tenant's policy.",
    )
    transport_policy = models.CharField(
        max_length=20,
        choices=TRANSPORT_POLICY_CHOICES,
        default=INHERIT,
        help_text="SIP transport this device must use; inherit: the organisation's default.",
    )
    mac_address = models.CharField(max_length=17, blank=True, help_text="Desk phones only.")
    model = models.CharField(max_length=80, blank=True, help_text="Desk phone model.")
    secret_rotated_at = models.DateTimeField(editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ("user_id", "created_at", "id")
        constraints = [
            models.UniqueConstraint(
                fields=("tenant", "sip_username"), name="device_sip_username_unique"
            ),
            models.UniqueConstraint(
                fields=("mac_address",),
                condition=~Q(mac_address="") & Q(revoked_at__isnull=True),
                name="device_mac_unique_while_active",
            ),
            models.CheckConstraint(
                condition=Q(kind="desk_phone") | Q(mac_address=""),
                name="device_mac_only_for_desk_phones",
            ),
        ]
        indexes = [models.Index(fields=("tenant", "kind"))]

    def __str__(self) -> str:
        return f"{self.label} ({self.sip_username})"

    @property
    def is_revoked(self) -> bool:
        return self.revoked_at is not None

    @property
    def effective_transport_policy(self) -> str:
        """What the engine enforces (kamailio_subscriber computes the same in SQL)."""
        if self.transport_policy == self.INHERIT:
            return self.tenant.default_transport_policy
        return self.transport_policy

    @property
    def state(self) -> str:
        if self.revoked_at is not None:
            return "revoked"
        return "active" if self.enabled else "disabled"


class PushBinding(models.Model):
    """How to wake a mobile app: one per device; refreshing the token replaces it."""

    class Provider(models.TextChoices):
        FCM = "fcm", "Firebase Cloud Messaging"
        APNS = "apns", "Apple Push Notification service"

    class Environment(models.TextChoices):
        PRODUCTION = "production", "Production"
        SANDBOX = "sandbox", "Sandbox"

    device = models.OneToOneField(Device, on_delete=models.CASCADE, related_name="push_binding")
    provider = models.CharField(max_length=8, choices=Provider.choices)
    token = models.CharField(max_length=1024)
    app_id = models.CharField(max_length=155, help_text="Android application id or iOS bundle id.")
    environment = models.CharField(
        max_length=12, choices=Environment.choices, default=Environment.PRODUCTION
    )
    refreshed_at = models.DateTimeField()
    dead_at = models.DateTimeField(null=True, blank=True)
    dead_reason = models.CharField(max_length=120, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=("provider", "token"), name="push_token_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.provider} push for {self.device_id}"

    @property
    def is_dead(self) -> bool:
        return self.dead_at is not None


class Registration(models.Model):
    """A live SIP registration (contact binding) of a device, as the engine reported it."""

    device = models.ForeignKey(Device, on_delete=models.CASCADE, related_name="registrations")
    contact = models.CharField(max_length=512)
    expires_at = models.DateTimeField(db_index=True)
    source_address = models.GenericIPAddressField(null=True, blank=True)
    source_port = models.PositiveIntegerField(null=True, blank=True)
    transport = models.CharField(max_length=8, blank=True)
    user_agent = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=("device", "contact"), name="registration_contact_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.device_id} at {self.contact}"


class RegistrationFailure(models.Model):
    """A refused REGISTER or INVITE (wrong secret, unknown user, revoked device, network not
    allowed, throttled account), as the engine reported it. Beyond
    PBX_FAILURES_PER_ADDRESS_MINUTE per address and minute only a FailureTally counts them,
    so an attack cannot fill the database; both are purged after PBX_FAILURE_RETENTION_DAYS."""

    class Method(models.TextChoices):
        REGISTER = "REGISTER", "Registration"
        INVITE = "INVITE", "Call"

    tenant = models.ForeignKey(
        "directory.Tenant",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="registration_failures",
        help_text="The organisation whose domain was named (none: an unknown domain).",
    )
    method = models.CharField(max_length=16, choices=Method.choices, default=Method.REGISTER)
    username = models.CharField(max_length=64)
    domain = models.CharField(max_length=253)
    device = models.ForeignKey(
        Device,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="registration_failures",
    )
    reason = models.CharField(max_length=40)
    detail = models.CharField(
        max_length=200, blank=True, help_text="What the engine said, e.g. which policy refused it."
    )
    source_address = models.GenericIPAddressField(null=True, blank=True)
    source_port = models.PositiveIntegerField(null=True, blank=True)
    transport = models.CharField(max_length=8, blank=True)
    user_agent = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        indexes = [
            models.Index(fields=("source_address", "created_at")),
            models.Index(fields=("tenant", "created_at")),
        ]

    def __str__(self) -> str:
        return f"{self.username}@{self.domain} {self.method} refused: {self.reason}"


class FailureTally(models.Model):
    """Failures past the per-address cap of a minute: counted, not stored one by one."""

    tenant = models.ForeignKey(
        "directory.Tenant", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    source_address = models.GenericIPAddressField()
    minute = models.DateTimeField()
    method = models.CharField(max_length=16, choices=RegistrationFailure.Method.choices)
    reason = models.CharField(max_length=40)
    count = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=("tenant", "source_address", "minute", "method", "reason"),
                name="failure_tally_unique",
                nulls_distinct=False,
            ),
        ]
        indexes = [models.Index(fields=("minute",))]

    def __str__(self) -> str:
        return f"{self.count} more failures from {self.source_address} at {self.minute}"


class PushDelivery(models.Model):
    """One push for one call to one device: at most one wake and one cancel per call and device
    (the unique constraint is what makes a retried task never send twice)."""

    class Kind(models.TextChoices):
        WAKE = "wake", "Wake for an incoming call"
        CANCEL = "cancel", "Stop ringing"
        VOICEMAIL = "voicemail", "New voicemail"

    class Status(models.TextChoices):
        PENDING = "pending", "Waiting to be sent"
        SENT = "sent", "Accepted by the provider"
        FAILED = "failed", "Refused or never delivered to the provider"
        SKIPPED = "skipped", "Not needed any more (call over)"

    tenant = models.ForeignKey("directory.Tenant", on_delete=models.CASCADE, related_name="+")
    device = models.ForeignKey(Device, on_delete=models.CASCADE, related_name="push_deliveries")
    call_id = models.CharField(max_length=255)
    kind = models.CharField(max_length=10, choices=Kind.choices)
    provider = models.CharField(max_length=8, choices=PushBinding.Provider.choices)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.PENDING)
    failure = models.CharField(max_length=20, blank=True)
    detail = models.CharField(max_length=200, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    provider_message_id = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    woke_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=("device", "call_id", "kind"), name="push_once_per_call_device_kind"
            ),
        ]
        indexes = [models.Index(fields=("tenant", "created_at"))]

    def __str__(self) -> str:
        return f"{self.kind} push to {self.device_id} for {self.call_id}: {self.status}"

    @property
    def wake_seconds(self) -> float | None:
        if self.sent_at is None or self.woke_at is None:
            return None
        return (self.woke_at - self.sent_at).total_seconds()
