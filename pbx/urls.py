from django.conf import settings
from django.contrib import admin
from django.contrib.staticfiles.urls import staticfiles_urlpatterns
from django.urls import include, path

from pbx import health
from pbx.api.errors import not_found_view, server_error_view
from pbx.engine.api import engine_events_view
from routing.engine_api import route_decision_view
from voicemail import agent_api as voicemail_api

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/v1/", include("pbx.api.urls")),
    path("api-auth/", include("rest_framework.urls", namespace="rest_framework")),
    path("health/", health.health, name="health"),
    path("health/live", health.live, name="health-live"),
    # Internal engine API: never exposed publicly (deploy/production/nginx blocks /internal/).
    path("internal/engine/route-decisions", route_decision_view, name="engine-route-decision"),
    path("internal/engine/events", engine_events_view, name="engine-events"),
    path("internal/voicemail/sessions", voicemail_api.session_view, name="voicemail-session"),
    path(
        "internal/voicemail/mailboxes/<int:mailbox_id>/greetings/<str:kind>",
        voicemail_api.greeting_view,
        name="voicemail-greeting",
    ),
    path("internal/voicemail/deposits", voicemail_api.deposit_view, name="voicemail-deposit"),
]
if settings.DEBUG:  # production serves /static/ from the reverse proxy (deploy/production)
    urlpatterns += staticfiles_urlpatterns()


def handler404(request, exception=None):  # type: ignore[no-untyped-def]
    if request.path.startswith("/api/"):
        return not_found_view(request, exception)
    from django.views.defaults import page_not_found

    return page_not_found(request, exception)


def handler500(request):  # type: ignore[no-untyped-def]
    if request.path.startswith("/api/"):
        return server_error_view(request)
    from django.views.defaults import server_error

    return server_error(request)
