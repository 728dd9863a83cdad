"""REST endpoints of devices: list, create (secret shown once), rename, rotate, revoke, push."""

from dataclasses import asdict
from datetime import timedelta

from django.db.models import QuerySet
from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from devices import failures, selectors, services
from devices.filters import DeviceFilter, FailureFilter
from devices.models import Device, RegistrationFailure
from devices.push import bindings
from devices.push.metrics import push_metrics
from devices.serializers import (
    AddressFailuresOutput,
    DeviceCreateInput,
    DeviceCredentialsOutput,
    DeviceOutput,
    DeviceUpdateInput,
    FailureOutput,
    PushBindingInput,
    PushBindingOutput,
    PushMetricsOutput,
    PushMetricsQuery,
)
from pbx.api.permissions import IsTenantAdmin, acting_tenant, acting_user
from pbx.api.views import ResourceViewSet
from pbx.directory.models import Tenant, User

MEMBER_EDITABLE = {"label"}


class DeviceViewSet(ResourceViewSet):
    """Devices of the caller (members) or of the organisation (tenant admins)."""

    model = Device
    selector = staticmethod(selectors.device_list)
    serializer_class = DeviceOutput
    filterset_class = DeviceFilter
    ordering_fields = ("created_at", "label", "kind")
    # The app refreshes its own push token on every launch: machine upkeep, not an
    # administrative change (and the token is a secret the trail would only redact).
    audit_exempt_actions = frozenset({"push_binding"})

    def _credentials(self, issued: services.IssuedCredentials) -> dict[str, object]:
        return DeviceCredentialsOutput(issued.device, context={"sip_secret": issued.secret}).data  # type: ignore[return-value]

    @extend_schema(request=DeviceCreateInput, responses={201: DeviceCredentialsOutput})
    def create(self, request: Request) -> Response:
        data = self.validated(DeviceCreateInput)
        caller = acting_user(request)
        owner = data.pop("user", caller)
        if owner != caller and not caller.is_tenant_admin:
            raise PermissionDenied("Only an administrator may add devices for someone else.")
        if "transport_policy" in data and not caller.is_tenant_admin:
            raise PermissionDenied(
                "Only an administrator may set transport_policy.", code="admin_only_field"
            )
        issued = services.device_create(user=owner, **data)
        return Response(self._credentials(issued), status=status.HTTP_201_CREATED)

    @extend_schema(request=DeviceUpdateInput, responses=DeviceOutput)
    def partial_update(self, request: Request, pk: str) -> Response:
        """Members may rename their devices; tenant admins change everything else (the
        transport policy included: a member cannot weaken their own device's)."""
        device = self.get_object()
        data = self.validated(DeviceUpdateInput)
        admin_only = sorted(set(data) - MEMBER_EDITABLE)
        if admin_only and not acting_user(request).is_tenant_admin:
            raise PermissionDenied(
                f"Only an administrator may change {', '.join(admin_only)}.",
                code="admin_only_field",
            )
        device = services.device_update(device=device, data=data)
        return Response(self.output(device))

    @extend_schema(request=None, responses=DeviceCredentialsOutput)
    @action(detail=True, methods=["post"], url_path="rotate-secret")
    def rotate_secret(self, request: Request, pk: str) -> Response:
        """Issue a new SIP secret (shown once). The old secret stops working."""
        return Response(self._credentials(services.device_rotate_secret(device=self.get_object())))

    @extend_schema(request=None, responses=DeviceOutput)
    @action(detail=True, methods=["post"])
    def revoke(self, request: Request, pk: str) -> Response:
        """Revoke for good: the device can never register again."""
        return Response(self.output(services.device_revoke(device=self.get_object())))

    @extend_schema(methods=["GET"], request=None, responses=PushBindingOutput)
    @extend_schema(methods=["PUT"], request=PushBindingInput, responses=PushBindingOutput)
    @extend_schema(methods=["DELETE"], request=None, responses={204: None})
    @action(detail=True, methods=["get", "put", "delete"], url_path="push-binding")
    def push_binding(self, request: Request, pk: str) -> Response:
        """The mobile app's push token: register or refresh (PUT), read, forget (DELETE)."""
        device = self.get_object()
        if request.method == "PUT":
            binding = bindings.push_binding_register(
                device=device, **self.validated(PushBindingInput)
            )
            return Response(PushBindingOutput(binding).data)
        if request.method == "DELETE":
            bindings.push_binding_delete(device=device)
            return Response(status=status.HTTP_204_NO_CONTENT)
        current = getattr(device, "push_binding", None)
        if current is None:
            return Response(
                {"code": "not_found", "detail": "No push token."}, status=status.HTTP_404_NOT_FOUND
            )
        return Response(PushBindingOutput(current).data)


class PushMetricsView(APIView):
    """Push notifications of the tenant over the last `hours`: sent, failed by reason, and the
    wake-up time of mobile apps (push sent to REGISTER received). Tenant admins only."""

    permission_classes = [IsTenantAdmin]

    @extend_schema(parameters=[PushMetricsQuery], responses=PushMetricsOutput)
    def get(self, request: Request) -> Response:
        query = PushMetricsQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        since = timezone.now() - timedelta(hours=query.validated_data["hours"])
        metrics = push_metrics(tenant=acting_tenant(request), since=since)
        return Response(PushMetricsOutput(asdict(metrics)).data)


def _failures_of(*, tenant: Tenant, actor: User) -> QuerySet[RegistrationFailure]:
    return failures.failure_list(tenant=tenant)


class FailureViewSet(ResourceViewSet):
    """Failed registrations and calls naming the organisation's domain: wrong secrets,
    unknown users, networks not allowed, throttled accounts. Tenant admins only."""

    model = RegistrationFailure
    selector = staticmethod(_failures_of)
    serializer_class = FailureOutput
    filterset_class = FailureFilter
    permission_classes = [IsTenantAdmin]
    http_method_names = ["get", "head", "options"]
    ordering_fields = ("created_at",)

    @extend_schema(responses=AddressFailuresOutput(many=True))
    @action(detail=False, methods=["get"], url_path="by-address", pagination_class=None)
    def by_address(self, request: Request) -> Response:
        """The same failures (same filters) per source address, most first (at most 100)."""
        rows = failures.failures_by_address(
            failures=self.filter_queryset(self.get_queryset()), tenant=acting_tenant(request)
        )
        return Response(AddressFailuresOutput([asdict(row) for row in rows], many=True).data)
