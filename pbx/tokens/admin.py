from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from pbx.audit.admin import AuditedAdmin
from pbx.tokens import services
from pbx.tokens.models import ApiSession


@admin.register(ApiSession)
class ApiSessionAdmin(AuditedAdmin[ApiSession]):
    list_display = (
        "user",
        "client_name",
        "created_at",
        "last_refreshed_at",
        "revoked_at",
        "revoked_reason",
    )
    list_filter = (("revoked_at", admin.EmptyFieldListFilter),)
    search_fields = ("user__email", "client_name")
    exclude = ("refresh_hash", "previous_refresh_hash")
    readonly_fields = (
        "user",
        "client_name",
        "user_agent",
        "refresh_expires_at",
        "created_at",
        "last_refreshed_at",
        "revoked_at",
        "revoked_reason",
    )
    actions = ("revoke_sessions",)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    @admin.action(description="Revoke selected sessions")
    def revoke_sessions(self, request: HttpRequest, queryset: QuerySet[ApiSession]) -> None:
        for session in queryset:
            with self.audited(request, session, "revoke"):
                services.api_session_revoke(session=session, reason="revoked_by_admin")
