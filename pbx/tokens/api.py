"""Sign in (email + password -> token pair), refresh, sign out, list and revoke my sessions."""

from typing import Any

from django.contrib.auth import logout
from django.utils import timezone
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import ScopedRateThrottle
from rest_framework.views import APIView

from pbx.accounts.sign_in import api_sign_in
from pbx.api.permissions import acting_user
from pbx.api.serializers import validated_input
from pbx.api.views import ResourceViewSet
from pbx.errors import Unauthenticated
from pbx.tokens import services
from pbx.tokens.models import AccessToken, ApiSession
from pbx.tokens.serializers import (
    ApiSessionOutput,
    ErrorOutput,
    LockedOutput,
    LoginInput,
    RefreshInput,
    TokenPairOutput,
)

_SIGN_IN_REFUSED = OpenApiResponse(
    ErrorOutput,
    description=(
        "`invalid_credentials`: wrong e-mail or password (an unknown e-mail gets the same "
        "answer); `otp_required`: the account uses a second factor, send `otp`; "
        "`otp_invalid`: the code is wrong or already used; `otp_enrolment_required`: a tenant "
        "admin or platform admin who has not set up a second factor yet (portal, Security); "
        "`tenant_suspended`."
    ),
    examples=[
        OpenApiExample(
            "otp_required",
            value={
                "code": "otp_required",
                "detail": "Enter the code from your authenticator app (field `otp`).",
            },
        )
    ],
)
_SIGN_IN_LOCKED = OpenApiResponse(
    LockedOutput,
    description=(
        "`login_locked`: too many failures for this account (from any address) or from this "
        "address (for any account); `throttled`: too many requests from this address. "
        "`Retry-After` says when to try again; wrong codes count as failures too."
    ),
)


def _pair(pair: services.TokenPair) -> dict[str, Any]:
    return {
        "token_type": "Bearer",
        "access_token": pair.access_token,
        "access_expires_at": pair.access_expires_at,
        "expires_in": int((pair.access_expires_at - timezone.now()).total_seconds()),
        "refresh_token": pair.refresh_token,
        "refresh_expires_at": pair.refresh_expires_at,
        "session_id": pair.session.pk,
    }


class TokenCreateView(APIView):
    """Sign in with e-mail and password (and `otp`, for accounts with a second factor); get an
    access token and a refresh token. Failures lock the account and the address for a while."""

    authentication_classes: list[Any] = []
    permission_classes = [AllowAny]
    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "login"

    @extend_schema(
        request=LoginInput,
        responses={201: TokenPairOutput, 401: _SIGN_IN_REFUSED, 429: _SIGN_IN_LOCKED},
        auth=[],
        operation_id="auth_tokens_create",
    )
    def post(self, request: Request) -> Response:
        data = validated_input(LoginInput, request)
        accepted = api_sign_in(
            request=request._request,
            email=data["email"],
            password=data["password"],
            otp=data["otp"],
        )
        user = accepted.user
        tenant = getattr(user, "tenant", None)
        if tenant is not None and not tenant.is_active:
            raise Unauthenticated("This organisation is suspended.", code="tenant_suspended")
        pair = services.api_session_open(
            user=user,
            client_name=data["client_name"],
            user_agent=request.headers.get("User-Agent", ""),
            second_factor=accepted.needs_code,
        )
        return Response(TokenPairOutput(_pair(pair)).data, status=status.HTTP_201_CREATED)


class TokenRefreshView(APIView):
    """Trade the refresh token for a new pair. Each refresh token works once."""

    authentication_classes: list[Any] = []
    permission_classes = [AllowAny]
    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "token_refresh"

    @extend_schema(
        request=RefreshInput, responses=TokenPairOutput, auth=[], operation_id="auth_tokens_refresh"
    )
    def post(self, request: Request) -> Response:
        data = validated_input(RefreshInput, request)
        pair = services.api_session_refresh(refresh_token=data["refresh_token"])
        return Response(TokenPairOutput(_pair(pair)).data)


class LogoutView(APIView):
    """Sign out: revokes the current API session (bearer) or ends the browser session."""

    @extend_schema(request=None, responses={204: None}, operation_id="auth_logout")
    def post(self, request: Request) -> Response:
        if isinstance(request.auth, AccessToken):
            services.api_session_revoke(session=request.auth.session)
        else:
            logout(request._request)
        return Response(status=status.HTTP_204_NO_CONTENT)


class MySessionViewSet(ResourceViewSet):
    """My signed-in apps; DELETE one to sign a lost phone out."""

    model = ApiSession
    serializer_class = ApiSessionOutput
    permission_classes = [IsAuthenticated]
    ordering_fields = ("created_at",)

    def get_queryset(self) -> Any:
        if getattr(self, "swagger_fake_view", False):
            return ApiSession.objects.none()
        return ApiSession.objects.filter(user=acting_user(self.request))

    def get_serializer_context(self) -> dict[str, Any]:
        context = super().get_serializer_context()
        if isinstance(self.request.auth, AccessToken):
            context["current_session_id"] = self.request.auth.session_id
        return context

    def destroy(self, request: Request, pk: str) -> Response:
        services.api_session_revoke(session=self.get_object(), reason="revoked_by_user")
        return Response(status=status.HTTP_204_NO_CONTENT)
