"""Devices in the platform console. Creating one issues credentials through the service and
shows the secret once; HA1 digests are never shown."""

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db import transaction
from django.db.models import QuerySet
from django.http import HttpRequest

from devices import services
from devices.models import Device, FailureTally, PushBinding, Registration, RegistrationFailure
from devices.offboarding import user_offboard
from pbx.audit.admin import AuditedAdmin
from pbx.directory.admin import UserAdmin
from pbx.directory.models import User
from pbx.engine.credentials import account_key, credentials_forget_on_commit


def _forget_credentials(devices: Any) -> None:
    """A device deleted or edited here: the engine forgets its cached credentials on commit."""
    credentials_forget_on_commit(
        accounts=[
            account_key(sip_username=device.sip_username, sip_domain=device.tenant.sip_domain)
            for device in devices
        ]
    )


class DeviceAddForm(forms.ModelForm[Device]):
    class Meta:
        model = Device
        fields = (
            "user",
            "kind",
            "label",
            "transport_policy",
            "mac_address",
            "model",
            "allowed_networks",
        )


class RegistrationInline(admin.TabularInline[Registration, Device]):
    model = Registration
    extra = 0
    can_delete = False
    readonly_fields = (
        "contact",
        "source_address",
        "source_port",
        "transport",
        "user_agent",
        "expires_at",
        "updated_at",
    )
    fields = readonly_fields

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class PushBindingInline(admin.StackedInline[PushBinding, Device]):
    model = PushBinding
    extra = 0
    can_delete = True
    readonly_fields = (
        "provider",
        "app_id",
        "environment",
        "refreshed_at",
        "dead_at",
        "dead_reason",
        "created_at",
    )
    exclude = ("token",)

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Device)
class DeviceAdmin(AuditedAdmin[Device]):
    list_display = (
        "label",
        "kind",
        "user",
        "tenant",
        "sip_username",
        "transport_policy",
        "state",
        "created_at",
    )
    list_filter = (
        "kind",
        "enabled",
        "transport_policy",
        ("revoked_at", admin.EmptyFieldListFilter),
        "tenant",
    )
    search_fields = ("label", "sip_username", "user__email", "mac_address")
    list_select_related = ("user", "tenant")
    readonly_fields = (
        "tenant",
        "sip_username",
        "revoked_at",
        "secret_rotated_at",
        "created_at",
        "updated_at",
    )
    exclude = ("ha1", "ha1b")
    inlines = (RegistrationInline, PushBindingInline)
    actions = ("revoke_devices", "rotate_secrets")
    autocomplete_fields = ("user",)

    def get_form(
        self, request: HttpRequest, obj: Device | None = None, change: bool = False, **kwargs: Any
    ) -> Any:
        if obj is None:
            kwargs["form"] = DeviceAddForm
        return super().get_form(request, obj, change, **kwargs)

    def get_readonly_fields(self, request: HttpRequest, obj: Device | None = None) -> Any:
        return self.readonly_fields if obj is not None else ()

    def get_fields(self, request: HttpRequest, obj: Device | None = None) -> Any:
        if obj is None:
            return DeviceAddForm.Meta.fields
        return super().get_fields(request, obj)

    def save_model(self, request: HttpRequest, obj: Device, form: Any, change: bool) -> None:
        if change:
            super().save_model(request, obj, form, change)
            if services.SUBSCRIBER_FIELDS.intersection(form.changed_data):
                _forget_credentials([obj])
            if "transport_policy" in form.changed_data:
                services.device_transport_policy_enforce(device=obj)
            return
        issued = services.device_create(
            user=obj.user,
            kind=obj.kind,
            label=obj.label,
            mac_address=obj.mac_address,
            model=obj.model,
            allowed_networks=obj.allowed_networks or [],
            transport_policy=obj.transport_policy,
        )
        obj.pk = issued.device.pk
        messages.warning(
            request,
            f"SIP credentials for {issued.device.label}: username {issued.device.sip_username}, "
            f"domain {issued.device.tenant.sip_domain}, secret {issued.secret}. "
            "The secret is shown only this once.",
        )

    def delete_model(self, request: HttpRequest, obj: Device) -> None:
        with transaction.atomic():
            _forget_credentials([obj])
            super().delete_model(request, obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Device]) -> None:
        with transaction.atomic():
            _forget_credentials(queryset.select_related("tenant"))
            super().delete_queryset(request, queryset)

    @admin.action(description="Revoke selected devices")
    def revoke_devices(self, request: HttpRequest, queryset: QuerySet[Device]) -> None:
        count = 0
        for device in queryset.filter(revoked_at__isnull=True):
            with self.audited(request, device, "revoke"):
                services.device_revoke(device=device)
            self.log_change(request, device, "Revoked (registrations dropped in the engine).")
            count += 1
        messages.info(request, f"Revoked {count} device(s).")

    @admin.action(description="Rotate SIP secrets (shows the new secrets once)")
    def rotate_secrets(self, request: HttpRequest, queryset: QuerySet[Device]) -> None:
        for device in queryset.filter(revoked_at__isnull=True):
            with self.audited(request, device, "rotate_secret"):
                issued = services.device_rotate_secret(device=device)
            self.log_change(request, device, "SIP secret rotated.")
            messages.warning(
                request, f"{device.sip_username}: new secret {issued.secret} (shown once)"
            )


@admin.register(Registration)
class RegistrationAdmin(AuditedAdmin[Registration]):
    """Live registrations as the engine reported them (read-only)."""

    list_display = ("device", "contact", "source_address", "transport", "user_agent", "expires_at")
    list_filter = ("transport", "device__kind", "device__tenant")
    search_fields = (
        "contact",
        "source_address",
        "user_agent",
        "device__sip_username",
        "device__user__email",
    )
    list_select_related = ("device",)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.action(description="Offboard: revoke every device, push token, API and web session")
def offboard_users(modeladmin: UserAdmin, request: HttpRequest, queryset: QuerySet[User]) -> None:
    for user in queryset:
        with modeladmin.audited(request, user, "offboard"):
            report = user_offboard(user=user)
        modeladmin.log_change(request, user, "Offboarded. " + "; ".join(report.lines()))
        messages.warning(request, " — ".join(report.lines()))


# The people admin lives in the directory (the ground floor); offboarding revokes devices, so
# this app, which knows devices, gives it the action.
UserAdmin.actions = (*UserAdmin.actions, offboard_users)


@admin.register(RegistrationFailure)
class RegistrationFailureAdmin(AuditedAdmin[RegistrationFailure]):
    """Failed registrations and calls as the engine reported them (read-only)."""

    list_display = (
        "created_at",
        "method",
        "reason",
        "detail",
        "username",
        "domain",
        "source_address",
        "user_agent",
        "tenant",
    )
    list_filter = ("reason", "method", "tenant")
    search_fields = ("source_address", "username", "domain", "user_agent")
    date_hierarchy = "created_at"
    list_select_related = ("tenant",)
    readonly_fields = [field.name for field in RegistrationFailure._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(FailureTally)
class FailureTallyAdmin(AuditedAdmin[FailureTally]):
    """Failures past the per-address cap of a minute, counted per address and minute."""

    list_display = ("minute", "source_address", "method", "reason", "count", "tenant")
    list_filter = ("reason", "method")
    search_fields = ("source_address",)
    date_hierarchy = "minute"
    ordering = ("-minute", "-count")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
