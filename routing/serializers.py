from typing import Any

from rest_framework import serializers

from pbx.api.serializers import StrictSerializer
from pbx.directory.serializers import TenantScopedPrimaryKeyField, TimeZoneField
from routing.models import RoutingProfile, RoutingTemplate, Schedule


class TreatmentOutput(serializers.ModelSerializer):  # type: ignore[type-arg]
    class Meta:
        model = RoutingProfile
        fields = (
            "dnd",
            "dnd_until",
            "forward_always",
            "forward_on_busy",
            "forward_on_no_answer",
            "max_concurrent_calls",
        )
        read_only_fields = fields


class RoutingOutput(serializers.Serializer):  # type: ignore[type-arg]
    user_id = serializers.IntegerField()
    template = serializers.IntegerField(allow_null=True)
    document_source = serializers.ChoiceField(
        choices=["own", "template", "default_template", "built_in"],
        help_text="Where the document comes from: the person's own, their template, the "
        "organisation's default template, or the built-in default.",
    )
    document = serializers.JSONField(help_text="The routing document in effect (see README).")
    treatment = TreatmentOutput()


class RoutingUpdateInput(StrictSerializer):
    template = TenantScopedPrimaryKeyField(
        queryset=RoutingTemplate.objects.all(),
        required=False,
        allow_null=True,
        help_text="Tenant admins only.",
    )
    dnd = serializers.BooleanField(required=False)
    dnd_until = serializers.DateTimeField(required=False, allow_null=True)
    forward_always = serializers.CharField(
        max_length=32, required=False, allow_blank=True, allow_null=True
    )
    forward_on_busy = serializers.CharField(
        max_length=32, required=False, allow_blank=True, allow_null=True
    )
    forward_on_no_answer = serializers.CharField(
        max_length=32, required=False, allow_blank=True, allow_null=True
    )
    max_concurrent_calls = serializers.IntegerField(
        min_value=1, max_value=20, required=False, allow_null=True
    )


class DocumentInput(StrictSerializer):
    document = serializers.JSONField()


class SimulateInput(StrictSerializer):
    caller = serializers.CharField(max_length=64, required=False, default="", allow_blank=True)
    at = serializers.DateTimeField(required=False, help_text="Default: now.")
    registered_device_ids = serializers.ListField(
        child=serializers.IntegerField(min_value=1),
        max_length=100,
        required=False,
        help_text="Assume exactly these devices are registered. Default: as they are now.",
    )
    active_calls = serializers.IntegerField(min_value=0, max_value=100, default=0)


class BranchOutput(serializers.Serializer):  # type: ignore[type-arg]
    """One device rung by the call (a colleague's too, for extension targets and forwards)."""

    type = serializers.ChoiceField(choices=["device"])
    device_id = serializers.IntegerField()
    sip_username = serializers.CharField()
    label = serializers.CharField()  # type: ignore[assignment]
    user_id = serializers.IntegerField(allow_null=True, help_text="Whose device it is.")
    start_ms = serializers.IntegerField()
    stop_ms = serializers.IntegerField()
    wake = serializers.BooleanField(help_text="A push wakes the app before it rings.")
    after_cut = serializers.BooleanField(
        help_text="Starts at a cut: rings once every earlier branch has been cancelled."
    )


class FinalOutput(serializers.Serializer):  # type: ignore[type-arg]
    action = serializers.ChoiceField(choices=["voicemail", "busy", "unavailable"])
    at_ms = serializers.IntegerField()
    mailbox = serializers.CharField(
        allow_null=True, help_text="Voicemail: the extension whose mailbox takes the call."
    )
    greeting = serializers.ChoiceField(choices=["unavailable", "busy"])


class DecisionOutput(serializers.Serializer):  # type: ignore[type-arg]
    version = serializers.IntegerField(help_text="Version of the engine contract.")
    call_id = serializers.CharField(allow_null=True)
    user_id = serializers.IntegerField()
    extension = serializers.CharField()
    plan = serializers.CharField(allow_null=True)
    rule = serializers.CharField(allow_null=True)
    reason = serializers.ChoiceField(
        choices=["no_answer", "nothing_reachable", "busy", "dnd", "forward_always"]
    )
    branches = BranchOutput(many=True)
    cuts = serializers.ListField(
        child=serializers.IntegerField(),
        help_text="Times (ms) at which every ringing branch is cancelled (replace stages).",
    )
    final = FinalOutput()
    trace = serializers.ListField(child=serializers.CharField())


class ScheduleOutput(serializers.ModelSerializer):  # type: ignore[type-arg]
    shared = serializers.SerializerMethodField()

    class Meta:
        model = Schedule
        fields = (
            "id",
            "name",
            "shared",
            "owner",
            "time_zone",
            "weekly",
            "exceptions",
            "updated_at",
        )
        read_only_fields = fields

    def get_shared(self, schedule: Schedule) -> bool:
        return schedule.owner_id is None


class ScheduleInput(StrictSerializer):
    name = serializers.CharField(max_length=60)
    shared = serializers.BooleanField(default=False, help_text="Tenant admins only: for everyone.")
    time_zone = TimeZoneField(required=False, allow_blank=True, default="")
    weekly = serializers.ListField(child=serializers.JSONField(), max_length=100, default=list)
    exceptions = serializers.ListField(child=serializers.JSONField(), max_length=500, default=list)


class ScheduleUpdateInput(StrictSerializer):
    name = serializers.CharField(max_length=60, required=False)
    time_zone = TimeZoneField(required=False, allow_blank=True)
    weekly = serializers.ListField(child=serializers.JSONField(), max_length=100, required=False)
    exceptions = serializers.ListField(
        child=serializers.JSONField(), max_length=500, required=False
    )


class TemplateOutput(serializers.ModelSerializer):  # type: ignore[type-arg]
    followers = serializers.SerializerMethodField(help_text="People who follow this template.")

    class Meta:
        model = RoutingTemplate
        fields = ("id", "name", "description", "is_default", "document", "followers", "updated_at")
        read_only_fields = fields

    def get_followers(self, template: RoutingTemplate) -> int:
        return template.profiles.filter(document__isnull=True).count()


class TemplateInput(StrictSerializer):
    name = serializers.CharField(max_length=60)
    description = serializers.CharField(
        max_length=200, required=False, default="", allow_blank=True
    )
    is_default = serializers.BooleanField(default=False)
    document = serializers.JSONField()


class TemplateUpdateInput(StrictSerializer):
    name = serializers.CharField(max_length=60, required=False)
    description = serializers.CharField(max_length=200, required=False, allow_blank=True)
    is_default = serializers.BooleanField(required=False)
    document = serializers.JSONField(required=False)


def routing_output(
    *, user_id: int, stored: RoutingProfile | None, document: Any, source: str
) -> dict[str, Any]:
    return RoutingOutput(
        {
            "user_id": user_id,
            "template": stored.template_id if stored else None,
            "document_source": source,
            "document": document,
            "treatment": stored or RoutingProfile(user_id=user_id),
        }
    ).data
