import re

import django_filters
from django.core.validators import validate_ipv46_address
from django.db.models import QuerySet

from devices.models import Device, RegistrationFailure
from pbx.object_ids import parse_id

ASCII_ID = re.compile(r"[0-9]{1,18}", re.ASCII)


class DeviceFilter(django_filters.FilterSet):
    user = django_filters.CharFilter(
        method="filter_user", help_text="A user id, or `me`.", max_length=20
    )
    state = django_filters.ChoiceFilter(
        method="filter_state",
        choices=[("active", "active"), ("disabled", "disabled"), ("revoked", "revoked")],
    )

    class Meta:
        model = Device
        fields = ("kind",)

    def filter_user(self, queryset: QuerySet[Device], name: str, value: str) -> QuerySet[Device]:
        if value == "me":
            return queryset.filter(user=self.request.user)
        user_id = parse_id(value)
        if user_id is None:
            return queryset.none()
        return queryset.filter(user_id=user_id)

    def filter_state(self, queryset: QuerySet[Device], name: str, value: str) -> QuerySet[Device]:
        if value == "revoked":
            return queryset.filter(revoked_at__isnull=False)
        return queryset.filter(revoked_at__isnull=True, enabled=(value == "active"))


class FailureFilter(django_filters.FilterSet):
    """Failed registrations and calls of the organisation, by reason, method, address, device
    and time (`since` / `until`, ISO 8601)."""

    # An address, or the lookup itself raises (500): found by schemathesis.
    source_address = django_filters.CharFilter(max_length=64, validators=[validate_ipv46_address])
    username = django_filters.CharFilter(max_length=64)
    device = django_filters.CharFilter(method="filter_device", max_length=18)
    since = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    until = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="lt")

    class Meta:
        model = RegistrationFailure
        fields = ("reason", "method")

    def filter_device(
        self, queryset: QuerySet[RegistrationFailure], name: str, value: str
    ) -> QuerySet[RegistrationFailure]:
        if not ASCII_ID.fullmatch(value):
            return queryset.none()
        return queryset.filter(device_id=int(value))
