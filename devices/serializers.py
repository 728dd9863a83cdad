"""Input and output shapes of the devices API."""

from typing import Any

from rest_framework import serializers

from devices.models import Device, PushBinding, RegistrationFailure
from pbx.api.serializers import StrictSerializer
from pbx.directory.models import TransportPolicy, User
from pbx.directory.serializers import NetworkListField, TenantScopedPrimaryKeyField


class PushBindingOutput(serializers.ModelSerializer):  # type: ignore[type-arg]
    token_suffix = serializers.SerializerMethodField(help_text="Last 8 characters of the token.")
    is_dead = serializers.BooleanField(read_only=True)

    class Meta:
        model = PushBinding
        fields = (
            "provider",
            "app_id",
            "environment",
            "token_suffix",
            "refreshed_at",
            "is_dead",
            "dead_at",
            "dead_reason",
        )
        read_only_fields = fields

    def get_token_suffix(self, binding: PushBinding) -> str:
        return binding.token[-8:]


class DeviceOutput(serializers.ModelSerializer):  # type: ignore[type-arg]
    sip_domain = serializers.CharField(source="tenant.sip_domain", read_only=True)
    state = serializers.ChoiceField(choices=["active", "disabled", "revoked"], read_only=True)
    effective_transport_policy = serializers.ChoiceField(
        choices=TransportPolicy.choices,
        read_only=True,
        help_text="What the engine enforces: the device's own policy, or the organisation's "
        "default when it inherits.",
    )
    push_binding = serializers.SerializerMethodField()

    class Meta:
        model = Device
        fields: tuple[str, ...] = (
            "id",
            "user",
            "kind",
            "label",
            "sip_username",
            "sip_domain",
            "state",
            "enabled",
            "revoked_at",
            "allowed_networks",
            "transport_policy",
            "effective_transport_policy",
            "mac_address",
            "model",
            "secret_rotated_at",
            "created_at",
            "push_binding",
        )
        read_only_fields = fields

    def get_push_binding(self, device: Device) -> dict[str, Any] | None:
        binding = getattr(device, "push_binding", None)
        return PushBindingOutput(binding).data if binding is not None else None  # type: ignore[return-value]


class DeviceCredentialsOutput(DeviceOutput):
    """A device with its SIP secret. Returned only by create and rotate-secret: the secret is
    not stored and cannot be shown again."""

    sip_secret = serializers.SerializerMethodField()

    class Meta(DeviceOutput.Meta):
        fields = (*DeviceOutput.Meta.fields, "sip_secret")
        read_only_fields = fields

    def get_sip_secret(self, device: Device) -> str:
        return str(self.context["sip_secret"])


class DeviceCreateInput(StrictSerializer):
    kind = serializers.ChoiceField(choices=Device.Kind.choices)
    label = serializers.CharField(max_length=80)  # type: ignore[assignment]
    user = TenantScopedPrimaryKeyField(
        queryset=User.objects.all(),
        required=False,
        help_text="Owner of the device (tenant admins only); defaults to the caller.",
    )
    mac_address = serializers.CharField(max_length=23, required=False, default="", allow_blank=True)
    model = serializers.CharField(max_length=80, required=False, default="", allow_blank=True)
    allowed_networks = NetworkListField(default=list)
    transport_policy = serializers.ChoiceField(
        choices=Device.TRANSPORT_POLICY_CHOICES,
        required=False,
        help_text="`tls_srtp_required`: the engine refuses this device over UDP, TCP and WS "
        "(403 TLS Required); `any`: every transport; `inherit`: the organisation's "
        "`default_transport_policy`. Tenant admins only.",
    )


class DeviceUpdateInput(StrictSerializer):
    label = serializers.CharField(max_length=80, required=False)  # type: ignore[assignment]
    enabled = serializers.BooleanField(required=False)
    mac_address = serializers.CharField(max_length=23, required=False, allow_blank=True)
    model = serializers.CharField(max_length=80, required=False, allow_blank=True)
    allowed_networks = NetworkListField()
    transport_policy = serializers.ChoiceField(
        choices=Device.TRANSPORT_POLICY_CHOICES,
        required=False,
        help_text="`tls_srtp_required`: the engine refuses this device over UDP, TCP and WS "
        "(403 TLS Required); `any`: every transport; `inherit`: the organisation's "
        "`default_transport_policy`. Tenant admins only.",
    )


class PushBindingInput(StrictSerializer):
    provider = serializers.ChoiceField(choices=PushBinding.Provider.choices)
    token = serializers.CharField(max_length=1024)
    app_id = serializers.CharField(max_length=155)
    environment = serializers.ChoiceField(
        choices=PushBinding.Environment.choices, default=PushBinding.Environment.PRODUCTION
    )


class PushMetricsQuery(serializers.Serializer):  # type: ignore[type-arg]
    hours = serializers.IntegerField(min_value=1, max_value=24 * 31, default=24)


class PushMetricsOutput(serializers.Serializer):  # type: ignore[type-arg]
    since = serializers.DateTimeField()
    sent = serializers.DictField(child=serializers.IntegerField(), help_text="By kind.")
    failed = serializers.DictField(child=serializers.IntegerField(), help_text="By reason.")
    skipped = serializers.IntegerField(help_text="Not needed any more: the call was over.")
    pending = serializers.IntegerField()
    wakes_sent = serializers.IntegerField()
    wakes_woken = serializers.IntegerField(help_text="Apps that registered after the push.")
    wake_seconds_p50 = serializers.FloatField(allow_null=True)
    wake_seconds_p95 = serializers.FloatField(allow_null=True)


class FailureOutput(serializers.ModelSerializer):  # type: ignore[type-arg]
    class Meta:
        model = RegistrationFailure
        fields = (
            "id",
            "created_at",
            "method",
            "reason",
            "detail",
            "username",
            "domain",
            "device",
            "source_address",
            "source_port",
            "transport",
            "user_agent",
        )


class AddressFailuresOutput(serializers.Serializer):  # type: ignore[type-arg]
    source_address = serializers.IPAddressField(allow_null=True)
    failures = serializers.IntegerField(help_text="Failures recorded one by one.")
    beyond_cap = serializers.IntegerField(
        help_text="Failures past the per-minute cap of the address, only counted."
    )
    accounts = serializers.IntegerField(help_text="Distinct usernames tried.")
    first_at = serializers.DateTimeField()
    last_at = serializers.DateTimeField()
    reasons = serializers.DictField(child=serializers.IntegerField())
