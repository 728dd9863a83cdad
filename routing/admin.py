from django.contrib import admin

from pbx.audit.admin import AuditedAdmin
from routing.models import Call, RoutingProfile, RoutingTemplate, Schedule


@admin.register(Schedule)
class ScheduleAdmin(AuditedAdmin[Schedule]):
    list_display = ("name", "tenant", "owner", "time_zone", "updated_at")
    list_filter = ("tenant",)
    search_fields = ("name", "owner__email")
    list_select_related = ("tenant", "owner")
    autocomplete_fields = ("owner",)


@admin.register(RoutingTemplate)
class RoutingTemplateAdmin(AuditedAdmin[RoutingTemplate]):
    list_display = ("name", "tenant", "is_default", "updated_at")
    list_filter = ("tenant", "is_default")
    search_fields = ("name",)


@admin.register(RoutingProfile)
class RoutingProfileAdmin(AuditedAdmin[RoutingProfile]):
    """Read-mostly: documents are validated by the API's services, not by this form."""

    list_display = ("user", "template", "dnd", "forward_always", "updated_at")
    list_filter = ("dnd", "template")
    search_fields = ("user__email",)
    list_select_related = ("user", "template")
    readonly_fields = ("user", "document", "updated_at")


@admin.register(Call)
class CallAdmin(AuditedAdmin[Call]):
    list_display = (
        "started_at",
        "caller",
        "extension",
        "callee",
        "outcome",
        "answered_device",
        "final_code",
    )
    list_filter = ("outcome", "tenant")
    search_fields = ("call_id", "caller", "extension", "callee__email")
    list_select_related = ("callee", "answered_device")
    readonly_fields = [f.name for f in Call._meta.fields]

    def has_add_permission(self, request: object) -> bool:
        return False
