"""Platform staff's console for the directory. Writes that have rules go through services."""

from typing import Any

from django.contrib import admin, messages
from django.contrib.admin.models import LogEntry
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.forms import BaseUserCreationForm
from django.contrib.auth.forms import UserChangeForm as DjangoUserChangeForm
from django.db import transaction
from django.db.models import QuerySet
from django.http import HttpRequest

from pbx.audit.admin import AuditedAdmin
from pbx.directory.models import Extension, PhoneNumber, Tenant, User
from pbx.directory.services import SUBSCRIBER_TENANT_FIELDS, devices_credentials_forget
from pbx.tokens.services import api_sessions_revoke_for_user


@admin.register(Tenant)
class TenantAdmin(AuditedAdmin[Tenant]):
    list_display = (
        "name",
        "sip_domain",
        "time_zone",
        "max_devices_per_user",
        "default_transport_policy",
        "is_active",
        "created_at",
    )
    list_filter = ("is_active", "default_transport_policy", "time_zone")
    search_fields = ("name", "sip_domain")

    def get_readonly_fields(self, request: HttpRequest, obj: Tenant | None = None) -> Any:
        # The SIP domain is the digest realm of every device's HA1: frozen once devices exist.
        if obj is not None and obj.devices.exists():
            return ("sip_domain", "created_at")
        return ("created_at",)

    # What kamailio_subscriber returns for the organisation's devices changes (or they are
    # deleted with it): the engine forgets their cached credentials once this commits.
    def save_model(self, request: HttpRequest, obj: Tenant, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        if change and SUBSCRIBER_TENANT_FIELDS.intersection(form.changed_data):
            devices_credentials_forget(tenant=obj)

    def delete_model(self, request: HttpRequest, obj: Tenant) -> None:
        with transaction.atomic():
            devices_credentials_forget(tenant=obj)
            super().delete_model(request, obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Tenant]) -> None:
        with transaction.atomic():
            for tenant in queryset:
                devices_credentials_forget(tenant=tenant)
            super().delete_queryset(request, queryset)


class UserCreationForm(BaseUserCreationForm):  # type: ignore[type-arg]
    class Meta:
        model = User
        fields = ("email", "tenant", "role")


class UserChangeForm(DjangoUserChangeForm):  # type: ignore[type-arg]
    class Meta:
        model = User
        fields = (
            "email",
            "password",
            "full_name",
            "tenant",
            "role",
            "time_zone",
            "mobile_number",
            "is_active",
        )


@admin.register(User)
class UserAdmin(AuditedAdmin[User], DjangoUserAdmin):  # type: ignore[type-arg, misc]
    form = UserChangeForm
    add_form = UserCreationForm
    list_display = ("email", "full_name", "tenant", "role", "is_active", "date_joined")
    list_filter = ("role", "is_active", "tenant")
    search_fields = ("email", "full_name", "mobile_number")
    ordering = ("email",)
    readonly_fields = ("date_joined", "last_login")
    filter_horizontal = ()
    fieldsets = (
        (None, {"fields": ("email", "password")}),
        ("Profile", {"fields": ("full_name", "time_zone", "mobile_number")}),
        ("Organisation", {"fields": ("tenant", "role", "is_active")}),
        ("Dates", {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = (
        (
            None,
            {"classes": ("wide",), "fields": ("email", "tenant", "role", "password1", "password2")},
        ),
    )

    # `devices.admin` adds the offboarding action: offboarding revokes devices, which this
    # ground-floor app does not know about.
    actions: tuple[Any, ...] = ()

    def delete_model(self, request: HttpRequest, obj: User) -> None:
        with transaction.atomic():
            if obj.tenant is not None:
                devices_credentials_forget(tenant=obj.tenant, user=obj)
            super().delete_model(request, obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[User]) -> None:
        with transaction.atomic():
            for user in queryset.select_related("tenant"):
                if user.tenant is not None:
                    devices_credentials_forget(tenant=user.tenant, user=user)
            super().delete_queryset(request, queryset)

    def save_model(self, request: HttpRequest, obj: User, form: Any, change: bool) -> None:
        was_active = User.objects.filter(pk=obj.pk).values_list("is_active", flat=True).first()
        super().save_model(request, obj, form, change)
        if change and obj.tenant is not None and "is_active" in form.changed_data:
            devices_credentials_forget(tenant=obj.tenant, user=obj)
        if change and was_active and not obj.is_active:
            count = api_sessions_revoke_for_user(user=obj, reason="user_deactivated")
            messages.info(request, f"Revoked {count} API session(s) of {obj.email}.")


@admin.register(Extension)
class ExtensionAdmin(AuditedAdmin[Extension]):
    list_display = ("number", "display_name", "owner", "tenant", "created_at")
    list_filter = ("tenant",)
    search_fields = ("number", "display_name", "owner__email")
    list_select_related = ("owner", "tenant")
    autocomplete_fields = ("owner",)


@admin.register(PhoneNumber)
class PhoneNumberAdmin(AuditedAdmin[PhoneNumber]):
    list_display = ("number", "label", "extension", "tenant", "created_at")
    list_filter = ("tenant",)
    search_fields = ("number", "label", "extension__number")
    list_select_related = ("extension", "tenant")


@admin.register(LogEntry)
class AdminAuditAdmin(admin.ModelAdmin[LogEntry]):
    """Django's log of the console (it drives each object's History page), read-only. The audit
    trail with before/after values, addresses and the API's and portal's changes too is
    `pbx.audit` (Audit trail → Audit entries)."""

    list_display = (
        "action_time",
        "user",
        "content_type",
        "object_repr",
        "action_flag",
        "change_message",
    )
    list_filter = ("action_flag", "content_type", "user")
    search_fields = ("object_repr", "change_message", "user__email")
    date_hierarchy = "action_time"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
