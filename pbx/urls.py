from django.conf import settings
from django.contrib import admin
from django.contrib.auth.views import LogoutView
from django.contrib.staticfiles.urls import staticfiles_urlpatterns
from django.http import HttpRequest, HttpResponse
from django.urls import include, path
from django.views.defaults import page_not_found, server_error
from django.views.generic import RedirectView

from pbx import health
from pbx.api.errors import not_found_view, server_error_view

FAVICON = (
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 16 16">'
    '<rect width="16" height="16" rx="3" fill="#0b57d0"/>'
    '<path d="M4 4h3l1 3-2 1a7 7 0 0 0 2 2l1-2 3 1v3a1 1 0 0 1-1 1A9 9 0 0 1 3 5a1 1 0 0 1 1-1z"'
    ' fill="#fff"/></svg>'
)


def favicon(request: HttpRequest) -> HttpResponse:
    response = HttpResponse(FAVICON, content_type="image/svg+xml")
    response["Cache-Control"] = "public, max-age=86400"
    return response


API_AUTH = [
    path(
        "login/",
        RedirectView.as_view(pattern_name="portal:login", query_string=True),
        name="login",
    ),
    path("logout/", LogoutView.as_view(next_page="portal:login"), name="logout"),
]

urlpatterns = [
    path("favicon.ico", favicon),
    path("admin/", admin.site.urls),
    path("portal/", include("pbx.portal.urls")),
    path("api/v1/", include("pbx.api.urls")),
    # The browsable API's sign-in links lead to the portal's (lockout, second factor): no
    # second way in with a password alone.
    path("api-auth/", include((API_AUTH, "rest_framework"), namespace="rest_framework")),
    path("health/", health.health, name="health"),
    path("health/live", health.live, name="health-live"),
    # Internal engine API: never exposed publicly (deploy/production/nginx blocks /internal/).
    path("internal/", include("pbx.internal.urls")),
]
if settings.DEBUG:  # production serves /static/ from the reverse proxy (deploy/production)
    urlpatterns += staticfiles_urlpatterns()


def handler404(request, exception=None):  # type: ignore[no-untyped-def]
    if request.path.startswith("/api/"):
        return not_found_view(request, exception)
    return page_not_found(request, exception)


def handler500(request):  # type: ignore[no-untyped-def]
    if request.path.startswith("/api/"):
        return server_error_view(request)
    return server_error(request)
