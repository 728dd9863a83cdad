"""People's second factors in the platform console: who has one, since when, last used; staff
may remove one (a lost phone: the person sets a new one up at the next sign-in). Never the
TOTP key nor the recovery codes, and no adding: enrolling is the person's own act.
django-otp's own admins (which show the key and its QR code) are replaced."""

from typing import Any

from django.contrib import admin
from django.http import HttpRequest
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice

from pbx.audit.admin import AuditedAdmin

for _model in (TOTPDevice, StaticDevice):
    if admin.site.is_registered(_model):
        admin.site.unregister(_model)


class _SecondFactorAdmin(AuditedAdmin[Any]):
    list_display = ("user", "name", "confirmed", "created_at", "last_used_at")
    list_filter = ("confirmed",)
    search_fields = ("user__email",)
    list_select_related = ("user",)
    fields = ("user", "name", "confirmed", "created_at", "last_used_at")
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(TOTPDevice)
class AuthenticatorAdmin(_SecondFactorAdmin):
    pass


@admin.register(StaticDevice)
class RecoveryCodesAdmin(_SecondFactorAdmin):
    pass
