"""REST endpoints of the directory: me, my organisation, users, extensions, phone numbers."""

from collections.abc import Sequence
from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from pbx.api.permissions import (
    IsPlatformAdmin,
    IsTenantAdmin,
    IsTenantUser,
    acting_tenant,
    acting_user,
)
from pbx.api.serializers import validated_input
from pbx.api.views import AdminWritesOnly, ResourceViewSet, audited
from pbx.directory import selectors, services
from pbx.directory.filters import ExtensionFilter, PhoneNumberFilter, UserFilter
from pbx.directory.models import Extension, PhoneNumber, Tenant, User
from pbx.directory.serializers import (
    ExtensionCreateInput,
    ExtensionOutput,
    ExtensionUpdateInput,
    PhoneNumberCreateInput,
    PhoneNumberOutput,
    PhoneNumberUpdateInput,
    PlatformTenantUpdateInput,
    ProfileUpdateInput,
    TenantCreateInput,
    TenantOutput,
    TenantUpdateInput,
    UserCreateInput,
    UserOutput,
    UserUpdateInput,
)


class MeView(APIView):
    """The signed-in person."""

    @extend_schema(responses=UserOutput, operation_id="me_retrieve")
    def get(self, request: Request) -> Response:
        return Response(UserOutput(acting_user(request)).data)

    @extend_schema(request=ProfileUpdateInput, responses=UserOutput, operation_id="me_update")
    def patch(self, request: Request) -> Response:
        data = validated_input(ProfileUpdateInput, request)
        with audited(request, User, pk=acting_user(request).pk):
            user = services.user_update(user=acting_user(request), data=data)
        return Response(UserOutput(user).data)


class MyExtensionsView(APIView):
    permission_classes = [IsTenantUser]

    @extend_schema(responses=ExtensionOutput(many=True), operation_id="me_extensions_list")
    def get(self, request: Request) -> Response:
        extensions = Extension.objects.filter(owner=acting_user(request)).order_by("number")
        return Response(ExtensionOutput(extensions, many=True).data)


class MyTenantView(APIView):
    """The caller's organisation: everyone reads it, tenant admins change its policies."""

    permission_classes = [IsTenantUser]

    def get_permissions(self) -> Sequence[Any]:
        if self.request.method == "PATCH":
            return [IsTenantAdmin()]
        return super().get_permissions()

    @extend_schema(responses=TenantOutput, operation_id="tenant_current_retrieve")
    def get(self, request: Request) -> Response:
        return Response(TenantOutput(acting_tenant(request)).data)

    @extend_schema(
        request=TenantUpdateInput, responses=TenantOutput, operation_id="tenant_current_update"
    )
    def patch(self, request: Request) -> Response:
        data = validated_input(TenantUpdateInput, request)
        with audited(request, Tenant, pk=acting_tenant(request).pk):
            tenant = services.tenant_update(tenant=acting_tenant(request), data=data)
        return Response(TenantOutput(tenant).data)


class TenantViewSet(ResourceViewSet):
    """All organisations (platform staff only)."""

    model = Tenant
    serializer_class = TenantOutput
    permission_classes = [IsPlatformAdmin]
    filterset_fields = ("is_active",)
    ordering_fields = ("name", "created_at")

    def get_queryset(self) -> Any:
        return Tenant.objects.all()

    @extend_schema(request=TenantCreateInput, responses={201: TenantOutput})
    def create(self, request: Request) -> Response:
        tenant = services.tenant_create(**self.validated(TenantCreateInput))
        return Response(self.output(tenant), status=status.HTTP_201_CREATED)

    @extend_schema(request=PlatformTenantUpdateInput, responses=TenantOutput)
    def partial_update(self, request: Request, pk: str) -> Response:
        tenant = services.tenant_update(
            tenant=self.get_object(), data=self.validated(PlatformTenantUpdateInput)
        )
        return Response(self.output(tenant))


class UserViewSet(ResourceViewSet):
    """People of the caller's organisation. Members see only themselves."""

    model = User
    selector = staticmethod(selectors.user_list)
    serializer_class = UserOutput
    permission_classes = [IsTenantUser, AdminWritesOnly]
    filterset_class = UserFilter
    ordering_fields = ("email", "full_name", "date_joined")

    @extend_schema(request=UserCreateInput, responses={201: UserOutput})
    def create(self, request: Request) -> Response:
        data = self.validated(UserCreateInput)
        spec = data.pop("extension", None)
        user = services.user_create(
            tenant=acting_tenant(request),
            extension=services.ExtensionSpec(**spec) if spec else None,
            **data,
        )
        return Response(self.output(user), status=status.HTTP_201_CREATED)

    @extend_schema(request=UserUpdateInput, responses=UserOutput)
    def partial_update(self, request: Request, pk: str) -> Response:
        user = services.user_update(user=self.get_object(), data=self.validated(UserUpdateInput))
        return Response(self.output(user))


class ExtensionViewSet(ResourceViewSet):
    """Extensions of the organisation. Members see their own, read-only."""

    model = Extension
    selector = staticmethod(selectors.extension_list)
    serializer_class = ExtensionOutput
    permission_classes = [IsTenantUser, AdminWritesOnly]
    filterset_class = ExtensionFilter
    ordering_fields = ("number", "display_name", "created_at")

    @extend_schema(request=ExtensionCreateInput, responses={201: ExtensionOutput})
    def create(self, request: Request) -> Response:
        extension = services.extension_create(
            tenant=acting_tenant(request), **self.validated(ExtensionCreateInput)
        )  # type: ignore[arg-type, union-attr]
        return Response(self.output(extension), status=status.HTTP_201_CREATED)

    @extend_schema(request=ExtensionUpdateInput, responses=ExtensionOutput)
    def partial_update(self, request: Request, pk: str) -> Response:
        extension = services.extension_update(
            extension=self.get_object(), data=self.validated(ExtensionUpdateInput)
        )
        return Response(self.output(extension))

    def destroy(self, request: Request, pk: str) -> Response:
        services.extension_delete(extension=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)


class PhoneNumberViewSet(ResourceViewSet):
    """DIDs of the organisation. Members see the numbers routed to their extensions."""

    model = PhoneNumber
    selector = staticmethod(selectors.phone_number_list)
    serializer_class = PhoneNumberOutput
    permission_classes = [IsTenantUser, AdminWritesOnly]
    filterset_class = PhoneNumberFilter
    ordering_fields = ("number", "created_at")

    @extend_schema(request=PhoneNumberCreateInput, responses={201: PhoneNumberOutput})
    def create(self, request: Request) -> Response:
        number = services.phone_number_create(
            tenant=acting_tenant(request), **self.validated(PhoneNumberCreateInput)
        )  # type: ignore[arg-type, union-attr]
        return Response(self.output(number), status=status.HTTP_201_CREATED)

    @extend_schema(request=PhoneNumberUpdateInput, responses=PhoneNumberOutput)
    def partial_update(self, request: Request, pk: str) -> Response:
        number = services.phone_number_update(
            phone_number=self.get_object(), data=self.validated(PhoneNumberUpdateInput)
        )
        return Response(self.output(number))

    def destroy(self, request: Request, pk: str) -> Response:
        services.phone_number_delete(phone_number=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)
