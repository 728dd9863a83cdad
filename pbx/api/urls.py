"""Version 1 of the REST API: `/api/v1/...`."""

from csp.constants import SELF, UNSAFE_INLINE
from csp.decorators import csp_update
from django.urls import include, path, register_converter
from drf_spectacular.views import (
    SpectacularAPIView,
    SpectacularRedocView,
    SpectacularSwaggerSplitView,
)
from rest_framework.routers import DefaultRouter

from devices.api import DeviceViewSet, FailureViewSet, PushMetricsView
from pbx.audit.api import AuditEntryViewSet, AuditExportView
from pbx.directory import api as directory
from pbx.edge.api import SourceBanViewSet
from pbx.object_ids import ID_PATTERN, IdConverter, UserRefConverter
from pbx.tokens import api as tokens
from routing import api as routing
from voicemail import api as voicemail

register_converter(IdConverter, "id")
register_converter(UserRefConverter, "user")


class IdRouter(DefaultRouter):
    """Detail routes take ASCII-digit ids only (`pbx.object_ids`): DRF's default lookup,
    `[^/.]+`, let an Arabic-Indic 1 through to a lookup that read it as device 1. No `.json`
    suffix routes: the API speaks JSON only, and views do not take a `format` argument (500)."""

    include_format_suffixes = False

    def __init__(self) -> None:
        super().__init__(trailing_slash=False)
        self._default_value_pattern = ID_PATTERN  # used unless a viewset sets lookup_value_regex


router = IdRouter()

# Swagger UI and ReDoc style their pages inline, draw icons as data: images and ReDoc parses in a
# blob: worker; their scripts still come from /static/ (the split view serves Swagger's own).
docs_page = csp_update(
    {"style-src": [UNSAFE_INLINE], "img-src": [SELF, "data:"], "worker-src": [SELF, "blob:"]}
)
router.register("tenants", directory.TenantViewSet, basename="tenant")
router.register("users", directory.UserViewSet, basename="user")
router.register("extensions", directory.ExtensionViewSet, basename="extension")
router.register("phone-numbers", directory.PhoneNumberViewSet, basename="phone-number")
router.register("devices", DeviceViewSet, basename="device")
router.register("me/sessions", tokens.MySessionViewSet, basename="my-session")
router.register("schedules", routing.ScheduleViewSet, basename="schedule")
router.register("routing-templates", routing.RoutingTemplateViewSet, basename="routing-template")
router.register("calls", routing.CallViewSet, basename="call")
router.register("bans", SourceBanViewSet, basename="ban")
router.register("registration-failures", FailureViewSet, basename="registration-failure")
router.register("audit", AuditEntryViewSet, basename="audit")

urlpatterns = [
    path("auth/tokens", tokens.TokenCreateView.as_view(), name="auth-tokens"),
    path("auth/tokens/refresh", tokens.TokenRefreshView.as_view(), name="auth-tokens-refresh"),
    path("auth/logout", tokens.LogoutView.as_view(), name="auth-logout"),
    path("me", directory.MeView.as_view(), name="me"),
    path("audit/export.csv", AuditExportView.as_view(), name="audit-export"),
    path("push/metrics", PushMetricsView.as_view(), name="push-metrics"),
    path("users/<user:user>/voicemail", voicemail.MailboxView.as_view(), name="voicemail"),
    path("users/<user:user>/voicemail/pin", voicemail.PinView.as_view(), name="voicemail-pin"),
    path(
        "users/<user:user>/voicemail/pin/verify",
        voicemail.PinVerifyView.as_view(),
        name="voicemail-pin-verify",
    ),
    path(
        "users/<user:user>/voicemail/pin-reset",
        voicemail.PinResetView.as_view(),
        name="voicemail-pin-reset",
    ),
    path(
        "users/<user:user>/voicemail/greetings/<str:kind>",
        voicemail.GreetingView.as_view(),
        name="voicemail-greeting-file",
    ),
    path(
        "users/<user:user>/voicemail/messages",
        voicemail.MessageListView.as_view(),
        name="voicemail-messages",
    ),
    path(
        "users/<user:user>/voicemail/messages/<id:message>",
        voicemail.MessageView.as_view(),
        name="voicemail-message",
    ),
    path(
        "users/<user:user>/voicemail/messages/<id:message>/audio",
        voicemail.MessageAudioView.as_view(),
        name="voicemail-message-audio",
    ),
    path("me/extensions", directory.MyExtensionsView.as_view(), name="me-extensions"),
    path("tenant", directory.MyTenantView.as_view(), name="tenant-current"),
    path("users/<user:user>/routing", routing.UserRoutingView.as_view(), name="user-routing"),
    path(
        "users/<user:user>/routing/document",
        routing.UserRoutingDocumentView.as_view(),
        name="user-routing-document",
    ),
    path(
        "users/<user:user>/routing/simulate",
        routing.UserRoutingSimulateView.as_view(),
        name="user-routing-simulate",
    ),
    path("schema", SpectacularAPIView.as_view(), name="schema"),
    path("docs", docs_page(SpectacularSwaggerSplitView.as_view(url_name="schema")), name="docs"),
    path("redoc", docs_page(SpectacularRedocView.as_view(url_name="schema")), name="redoc"),
    path("", include(router.urls)),
]
