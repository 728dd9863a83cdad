import django_filters
from django.db.models import QuerySet

from devices.models import Device


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
        if not value.isdigit():
            return queryset.none()
        return queryset.filter(user_id=int(value))

    def filter_state(self, queryset: QuerySet[Device], name: str, value: str) -> QuerySet[Device]:
        if value == "revoked":
            return queryset.filter(revoked_at__isnull=False)
        return queryset.filter(revoked_at__isnull=True, enabled=(value == "active"))
