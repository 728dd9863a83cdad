"""Input and output shapes of the directory API. Inputs are strict (unknown fields refused)."""

from typing import Any

from rest_framework import serializers

from pbx.api.serializers import StrictSerializer
from pbx.directory import domain
from pbx.directory.models import (
    ASSIGNABLE_ROLES,
    Extension,
    PhoneNumber,
    Tenant,
    TransportPolicy,
    User,
)
from pbx.object_ids import parse_id


class DomainRuleField(serializers.CharField):
    """A CharField whose value goes through a rule of `pbx.directory.domain`."""

    rule: Any = None
    default_max_length = 64

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("max_length", self.default_max_length)
        super().__init__(**kwargs)

    def run_validation(self, data: Any = serializers.empty) -> Any:
        value = super().run_validation(data)  # type, length and blank checks first
        if value in ("", None):
            return value
        try:
            return str(type(self).rule(value))
        except domain.InvalidValue as exc:
            raise serializers.ValidationError(str(exc), code=exc.code) from exc


class E164Field(DomainRuleField):
    rule = staticmethod(domain.normalise_e164)
    default_max_length = 32


class TimeZoneField(DomainRuleField):
    rule = staticmethod(domain.validate_time_zone)
    default_max_length = 64


class SipDomainField(DomainRuleField):
    rule = staticmethod(domain.normalise_sip_domain)
    default_max_length = 253


class ExtensionNumberField(DomainRuleField):
    rule = staticmethod(domain.validate_extension_number)
    default_max_length = 10


class NetworkListField(serializers.ListField):
    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("child", serializers.CharField(max_length=43))
        kwargs.setdefault("max_length", 50)
        kwargs.setdefault("required", False)
        super().__init__(**kwargs)


class TenantScopedPrimaryKeyField(serializers.PrimaryKeyRelatedField):  # type: ignore[type-arg]
    """An id that must name an object of the caller's tenant; others are 'does not exist'."""

    def get_queryset(self) -> Any:
        request = self.context["request"]
        queryset = super().get_queryset()
        assert queryset is not None  # noqa: S101 - every use passes queryset=
        return queryset.filter(tenant_id=request.user.tenant_id)

    def to_internal_value(self, data: Any) -> Any:
        # A string id in ASCII digits only: the lookup's int() reads an Arabic-Indic 1 as 1.
        if isinstance(data, str) and parse_id(data) is None:
            self.fail("incorrect_type", data_type="string")
        return super().to_internal_value(data)


# --- Tenants


class TenantOutput(serializers.ModelSerializer):  # type: ignore[type-arg]
    class Meta:
        model = Tenant
        fields = (
            "id",
            "name",
            "sip_domain",
            "time_zone",
            "max_devices_per_user",
            "max_ring_seconds",
            "allowed_registration_networks",
            "default_transport_policy",
            "is_active",
            "created_at",
        )
        read_only_fields = fields


class TenantCreateInput(StrictSerializer):
    name = serializers.CharField(max_length=120)
    sip_domain = SipDomainField()
    time_zone = TimeZoneField(default="UTC")
    max_devices_per_user = serializers.IntegerField(min_value=1, max_value=100, default=10)
    max_ring_seconds = serializers.IntegerField(min_value=10, max_value=600, default=180)
    allowed_registration_networks = NetworkListField()
    default_transport_policy = serializers.ChoiceField(
        choices=TransportPolicy.choices,
        default=TransportPolicy.ANY,
        help_text="Transport policy of devices that inherit it: `tls_srtp_required` (the "
        "engine refuses them over UDP, TCP and WS) or `any`.",
    )


class TenantUpdateInput(StrictSerializer):
    """What a tenant admin may change about their own organisation."""

    name = serializers.CharField(max_length=120, required=False)
    time_zone = TimeZoneField(required=False)
    max_devices_per_user = serializers.IntegerField(min_value=1, max_value=100, required=False)
    max_ring_seconds = serializers.IntegerField(min_value=10, max_value=600, required=False)
    allowed_registration_networks = NetworkListField()
    default_transport_policy = serializers.ChoiceField(
        choices=TransportPolicy.choices,
        required=False,
        help_text="Transport policy of devices that inherit it: `tls_srtp_required` (the "
        "engine refuses them over UDP, TCP and WS) or `any`.",
    )


class PlatformTenantUpdateInput(TenantUpdateInput):
    sip_domain = SipDomainField(required=False)
    is_active = serializers.BooleanField(required=False)


# --- Users


class UserOutput(serializers.ModelSerializer):  # type: ignore[type-arg]
    effective_time_zone = serializers.CharField(read_only=True)

    class Meta:
        model = User
        fields = (
            "id",
            "email",
            "full_name",
            "tenant",
            "role",
            "time_zone",
            "effective_time_zone",
            "mobile_number",
            "is_active",
            "date_joined",
        )
        read_only_fields = fields


class ExtensionSpecInput(StrictSerializer):
    number = ExtensionNumberField()
    display_name = serializers.CharField(max_length=80, required=False, default="")


class UserCreateInput(StrictSerializer):
    email = serializers.EmailField(max_length=254)
    full_name = serializers.CharField(max_length=150, required=False, default="")
    role = serializers.ChoiceField(choices=ASSIGNABLE_ROLES, default=User.Role.MEMBER.value)
    password = serializers.CharField(
        max_length=128, required=False, write_only=True, style={"input_type": "password"}
    )
    time_zone = TimeZoneField(required=False, default="", allow_blank=True)
    mobile_number = E164Field(required=False, default="", allow_blank=True)
    extension = ExtensionSpecInput(required=False)


class UserUpdateInput(StrictSerializer):
    full_name = serializers.CharField(max_length=150, required=False)
    role = serializers.ChoiceField(choices=ASSIGNABLE_ROLES, required=False)
    time_zone = TimeZoneField(required=False, allow_blank=True)
    mobile_number = E164Field(required=False, allow_blank=True)
    is_active = serializers.BooleanField(required=False)


class ProfileUpdateInput(StrictSerializer):
    """What a person may change about themselves."""

    full_name = serializers.CharField(max_length=150, required=False)
    time_zone = TimeZoneField(required=False, allow_blank=True)
    mobile_number = E164Field(required=False, allow_blank=True)


# --- Extensions and numbers


class ExtensionOutput(serializers.ModelSerializer):  # type: ignore[type-arg]
    owner_email = serializers.EmailField(source="owner.email", read_only=True)

    class Meta:
        model = Extension
        fields = ("id", "number", "display_name", "owner", "owner_email", "created_at")
        read_only_fields = fields


class ExtensionCreateInput(StrictSerializer):
    number = ExtensionNumberField()
    display_name = serializers.CharField(max_length=80)
    owner = TenantScopedPrimaryKeyField(queryset=User.objects.all())


class ExtensionUpdateInput(StrictSerializer):
    number = ExtensionNumberField(required=False)
    display_name = serializers.CharField(max_length=80, required=False)
    owner = TenantScopedPrimaryKeyField(queryset=User.objects.all(), required=False)


class PhoneNumberOutput(serializers.ModelSerializer):  # type: ignore[type-arg]
    extension_number = serializers.CharField(
        source="extension.number",
        read_only=True,
        default=None,
        allow_null=True,
        help_text="Null when the number is not routed to an extension.",
    )

    class Meta:
        model = PhoneNumber
        fields = ("id", "number", "label", "extension", "extension_number", "created_at")
        read_only_fields = fields


class PhoneNumberCreateInput(StrictSerializer):
    number = E164Field()
    label = serializers.CharField(max_length=80, required=False, default="", allow_blank=True)  # type: ignore[assignment]
    extension = TenantScopedPrimaryKeyField(
        queryset=Extension.objects.all(), required=False, allow_null=True, default=None
    )


class PhoneNumberUpdateInput(StrictSerializer):
    label = serializers.CharField(max_length=80, required=False, allow_blank=True)  # type: ignore[assignment]
    extension = TenantScopedPrimaryKeyField(
        queryset=Extension.objects.all(), required=False, allow_null=True
    )
