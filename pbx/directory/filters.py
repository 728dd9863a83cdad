import django_filters
from django.db.models import Q

from pbx.api.filters import IdFilter
from pbx.directory.models import Extension, PhoneNumber, User


class UserFilter(django_filters.FilterSet):
    search = django_filters.CharFilter(method="filter_search", max_length=100)

    class Meta:
        model = User
        fields = ("role", "is_active")

    def filter_search(self, queryset, name, value):  # type: ignore[no-untyped-def]
        return queryset.filter(Q(email__icontains=value) | Q(full_name__icontains=value))


class ExtensionFilter(django_filters.FilterSet):
    number_prefix = django_filters.CharFilter(
        field_name="number", lookup_expr="startswith", max_length=10
    )
    owner = IdFilter(field_name="owner", help_text="A user id.")

    class Meta:
        model = Extension
        fields = ("number", "owner")


class PhoneNumberFilter(django_filters.FilterSet):
    assigned = django_filters.BooleanFilter(
        field_name="extension", lookup_expr="isnull", exclude=True
    )
    extension = IdFilter(field_name="extension", help_text="An extension id.")

    class Meta:
        model = PhoneNumber
        fields = ("extension",)
