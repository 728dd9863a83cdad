"""Tenants, users, extensions and phone numbers.

Every object belongs to a tenant; the tenant's SIP domain is also the digest realm of its
devices, which is why it cannot change once devices hold credentials for it.
"""

from typing import Any, ClassVar

from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone

from pbx.directory import domain
from pbx.directory.validators import (
    validate_e164,
    validate_extension_number,
    validate_networks,
    validate_sip_domain,
    validate_time_zone,
)


class TransportPolicy(models.TextChoices):
    """Which SIP transport a device may use (the engine enforces it: parts/tls.cfg)."""

    ANY = "any", "Any transport (UDP, TCP, TLS)"
    TLS_SRTP_REQUIRED = domain.TLS_SRTP_REQUIRED, "TLS signalling and SRTP media required"


class Tenant(models.Model):
    name = models.CharField(max_length=120)
    sip_domain = models.CharField(
        max_length=253,
        unique=True,
        validators=[validate_sip_domain],
        help_text="SIP domain of the tenant; also the digest realm of its devices.",
    )
    time_zone = models.CharField(max_length=64, default="UTC", validators=[validate_time_zone])
    max_devices_per_user = models.PositiveSmallIntegerField(
        default=10, validators=[MinValueValidator(1), MaxValueValidator(100)]
    )
    max_ring_seconds = models.PositiveSmallIntegerField(
        default=180,
        validators=[MinValueValidator(10), MaxValueValidator(600)],
        help_text="Longest a call may ring before its final action, whatever the plan says.",
    )
    allowed_registration_networks = models.JSONField(
        default=list,
        blank=True,
        validators=[validate_networks],
        help_text="CIDR networks devices may register from; empty means anywhere.",
    )
    default_transport_policy = models.CharField(
        max_length=20,
        choices=TransportPolicy.choices,
        default=TransportPolicy.ANY,
        help_text="Transport policy of the devices that do not set their own.",
    )
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ("name", "id")

    def __str__(self) -> str:
        return f"{self.name} ({self.sip_domain})"


class UserManager(BaseUserManager["User"]):
    def get_by_natural_key(self, username: str | None) -> "User":
        return self.get(email=(username or "").strip().lower())

    def create_user(self, email: str, password: str | None = None, **fields: Any) -> "User":
        user = self.model(email=email.strip().lower(), **fields)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_superuser(self, email: str, password: str | None = None, **fields: Any) -> "User":
        fields["role"] = User.Role.PLATFORM_ADMIN
        return self.create_user(email, password, **fields)


class User(AbstractBaseUser):
    """A person. Logs in with an e-mail address; belongs to a tenant unless platform staff."""

    class Role(models.TextChoices):
        PLATFORM_ADMIN = "platform_admin", "Platform admin"
        TENANT_ADMIN = "tenant_admin", "Tenant admin"
        MEMBER = "member", "Member"

    email = models.EmailField(max_length=254, unique=True)
    full_name = models.CharField(max_length=150, blank=True)
    tenant = models.ForeignKey(
        Tenant, null=True, blank=True, on_delete=models.PROTECT, related_name="users"
    )
    role = models.CharField(max_length=20, choices=Role.choices, default=Role.MEMBER)
    time_zone = models.CharField(
        max_length=64,
        blank=True,
        validators=[validate_time_zone],
        help_text="Empty means the tenant's time zone.",
    )
    mobile_number = models.CharField(
        max_length=16, blank=True, validators=[validate_e164], help_text="E.164, e.g. +447700900123"
    )
    is_active = models.BooleanField(default=True)
    date_joined = models.DateTimeField(default=timezone.now)

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: ClassVar[list[str]] = []

    objects = UserManager()

    class Meta:
        ordering = ("email",)
        constraints = [
            models.CheckConstraint(
                condition=models.Q(role="platform_admin") | models.Q(tenant__isnull=False),
                name="user_has_tenant_unless_platform_admin",
            ),
            models.UniqueConstraint(Lower("email"), name="user_email_unique_ci"),
        ]

    def __str__(self) -> str:
        return self.email

    @property
    def is_platform_admin(self) -> bool:
        return self.is_active and self.role == self.Role.PLATFORM_ADMIN

    @property
    def is_tenant_admin(self) -> bool:
        return self.is_active and self.role == self.Role.TENANT_ADMIN and self.tenant_id is not None

    # Django admin is the platform staff's console.
    @property
    def is_staff(self) -> bool:
        return self.is_platform_admin

    @property
    def is_superuser(self) -> bool:
        return self.is_platform_admin

    def has_perm(self, perm: str, obj: object | None = None) -> bool:
        return self.is_platform_admin

    def has_perms(self, perm_list: Any, obj: object | None = None) -> bool:
        return self.is_platform_admin

    def has_module_perms(self, app_label: str) -> bool:
        return self.is_platform_admin

    @property
    def effective_time_zone(self) -> str:
        if self.time_zone:
            return self.time_zone
        return self.tenant.time_zone if self.tenant else "UTC"


# Roles a tenant admin may give; platform admins are made by platform staff only.
ASSIGNABLE_ROLES = [
    (User.Role.TENANT_ADMIN.value, "Tenant admin"),
    (User.Role.MEMBER.value, "Member"),
]


class Extension(models.Model):
    tenant = models.ForeignKey(Tenant, on_delete=models.PROTECT, related_name="extensions")
    number = models.CharField(max_length=10, validators=[validate_extension_number])
    owner = models.ForeignKey(User, on_delete=models.PROTECT, related_name="extensions")
    display_name = models.CharField(max_length=80)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ("tenant_id", "number")
        constraints = [
            models.UniqueConstraint(
                fields=("tenant", "number"), name="extension_number_unique_in_tenant"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.number} {self.display_name}"


class PhoneNumber(models.Model):
    """A DID: an E.164 number the platform owns, routed to one extension of its tenant."""

    tenant = models.ForeignKey(Tenant, on_delete=models.PROTECT, related_name="phone_numbers")
    number = models.CharField(max_length=16, unique=True, validators=[validate_e164])
    extension = models.ForeignKey(
        Extension, null=True, blank=True, on_delete=models.SET_NULL, related_name="phone_numbers"
    )
    label = models.CharField(max_length=80, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ("number",)

    def __str__(self) -> str:
        return self.number
