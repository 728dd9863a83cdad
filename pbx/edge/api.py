"""Bans for platform staff: list (active or not), one ban, lift it (the engine forgets it)."""

from typing import Any

from django.db.models import QuerySet
from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from pbx.api.permissions import IsPlatformAdmin, acting_user
from pbx.api.views import audited
from pbx.edge import selectors, services
from pbx.edge.models import SourceBan
from pbx.edge.serializers import SourceBanOutput, SourceBanQuery


class SourceBanViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):  # type: ignore[type-arg]
    """Addresses the engine banned. A ban covers every organisation, so only platform staff
    see and lift bans; tenant admins see their organisation's failed authentications."""

    permission_classes = [IsPlatformAdmin]
    serializer_class = SourceBanOutput

    def get_queryset(self) -> QuerySet[SourceBan]:
        if getattr(self, "swagger_fake_view", False):
            return SourceBan.objects.none()
        query = SourceBanQuery(data=self.request.query_params)
        query.is_valid(raise_exception=True)
        return selectors.source_ban_list(now=timezone.now(), active=query.validated_data["active"])

    def get_serializer_context(self) -> dict[str, Any]:
        return {**super().get_serializer_context(), "now": timezone.now()}

    @extend_schema(parameters=[SourceBanQuery])
    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().list(request, *args, **kwargs)

    @extend_schema(request=None, responses=SourceBanOutput)
    @action(detail=True, methods=["post"])
    def lift(self, request: Request, pk: str) -> Response:
        """Lift the ban now; the engine stops dropping the address within a second or two."""
        ban = self.get_object()
        with audited(request, SourceBan, "lift", pk=ban.pk):
            ban = services.source_ban_lift(ban=ban, by=acting_user(request), now=timezone.now())
        return Response(self.get_serializer(ban).data)
