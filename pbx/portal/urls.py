from django.contrib.auth import views as auth_views
from django.urls import path

from pbx.portal import views

app_name = "portal"

urlpatterns = [
    path("", views.home, name="home"),
    path(
        "login/",
        auth_views.LoginView.as_view(
            template_name="portal/login.html", redirect_authenticated_user=True
        ),
        name="login",
    ),
    path("logout/", auth_views.LogoutView.as_view(next_page="portal:login"), name="logout"),
    path("devices/", views.devices, name="devices"),
    path("devices/add", views.device_add, name="device-add"),
    path("devices/<int:device_id>/rotate", views.device_rotate, name="device-rotate"),
    path("devices/<int:device_id>/revoke", views.device_revoke, name="device-revoke"),
    path("ring-plan/", views.ring_plan, name="ring-plan"),
    path("schedules/", views.schedules, name="schedules"),
    path("voicemail/", views.voicemail, name="voicemail"),
    path("calls/", views.calls, name="calls"),
]
