"""The Django admin for platform staff, behind the second factor.

Staff sign in at /admin/login/ through pbx.accounts.sign_in (lockout, then the password, then
a code); staff without an authenticator are sent to set one up first. The admin only opens for a
session that passed the second factor. Object ids are ASCII digits (pbx.admin_ids).
"""

from functools import partial
from typing import Any

from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.urls import URLPattern, URLResolver, path

from pbx.accounts import second_factor, views
from pbx.admin_ids import AsciiObjectIdsMixin


class StaffAdminSite(AsciiObjectIdsMixin, admin.AdminSite):
    site_header = "PBX administration"
    site_title = "PBX admin"
    index_template = "accounts/admin_index.html"  # links to the staff member's second factor

    @property
    def surface(self) -> views.Surface:
        return views.Surface(
            name="admin",
            sign_in_template="admin/login.html",
            code_template="accounts/admin_code.html",
            enrol_template="accounts/admin_enrol.html",
            codes_template="accounts/admin_recovery_codes.html",
            settings_template="accounts/admin_security.html",
            home="admin:index",
            login_url="admin:login",
            code_url="admin:login-code",
            enrol_url="admin:login-enrol",
            staff_only=True,
            context=self.each_context,
        )

    def has_permission(self, request: HttpRequest) -> bool:
        user = request.user
        return bool(user.is_active and user.is_staff and second_factor.session_verified(request))

    def login(self, request: HttpRequest, extra_context: Any = None) -> HttpResponse:
        return views.password_step(request, surface=self.surface)

    def get_urls(self) -> list[URLResolver | URLPattern]:
        surface = self.surface
        return [
            path("login/code", partial(views.code_step, surface=surface), name="login-code"),
            path("login/enrol", partial(views.enrol_step, surface=surface), name="login-enrol"),
            path(
                "security/",
                self.admin_view(partial(views.second_factor_settings, surface=surface)),
                name="security",
            ),
            *super().get_urls(),
        ]
