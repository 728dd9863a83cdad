"""Bans in the platform console: who is banned, why, until when; lift (through the engine)."""

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone

from pbx.audit.admin import AuditedAdmin
from pbx.directory.models import User
from pbx.edge import services
from pbx.edge.models import SourceBan


class ActiveFilter(admin.SimpleListFilter):
    title = "state"
    parameter_name = "active"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("yes", "Enforced now"), ("no", "Expired or lifted")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[SourceBan]) -> QuerySet[SourceBan]:
        now = timezone.now()
        if self.value() == "yes":
            return queryset.filter(lifted_at=None, until__gt=now)
        if self.value() == "no":
            return queryset.exclude(lifted_at=None, until__gt=now)
        return queryset


@admin.register(SourceBan)
class SourceBanAdmin(AuditedAdmin[SourceBan]):
    list_display = (
        "source_address",
        "reason",
        "banned_at",
        "until",
        "failures",
        "repeat",
        "user_agent",
        "lifted_at",
    )
    list_filter = (ActiveFilter, "reason")
    search_fields = ("source_address", "user_agent")
    date_hierarchy = "banned_at"
    readonly_fields = [field.name for field in SourceBan._meta.fields]
    actions = ["lift"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.action(description="Lift the selected bans now")
    def lift(self, request: HttpRequest, queryset: QuerySet[SourceBan]) -> None:
        by = request.user if isinstance(request.user, User) else None
        now = timezone.now()
        for ban in queryset:
            with self.audited(request, ban, "lift"):
                services.source_ban_lift(ban=ban, by=by, now=now)
        messages.success(request, f"{queryset.count()} ban(s) lifted; the engine is being told.")
