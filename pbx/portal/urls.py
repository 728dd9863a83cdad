from functools import partial

from django.contrib.auth import views as auth_views
from django.urls import path

from pbx.accounts import views as sign_in_views
from pbx.portal import softphone, views

app_name = "portal"

urlpatterns = [
    path("", views.home, name="home"),
    path("login/", partial(sign_in_views.password_step, surface=views.SURFACE), name="login"),
    path("login/code", partial(sign_in_views.code_step, surface=views.SURFACE), name="login-code"),
    path(
        "login/enrol", partial(sign_in_views.enrol_step, surface=views.SURFACE), name="login-enrol"
    ),
    path("security/", views.security, name="security"),
    path("logout/", auth_views.LogoutView.as_view(next_page="portal:login"), name="logout"),
    path("devices/", views.devices, name="devices"),
    path("devices/add", views.device_add, name="device-add"),
    path("devices/<int:device_id>/rotate", views.device_rotate, name="device-rotate"),
    path("devices/<int:device_id>/revoke", views.device_revoke, name="device-revoke"),
    path("ring-plan/", views.ring_plan, name="ring-plan"),
    path("schedules/", views.schedules, name="schedules"),
    path("voicemail/", views.voicemail, name="voicemail"),
    path("calls/", views.calls, name="calls"),
    path("softphone/", softphone.softphone, name="softphone"),
    path("softphone/account", softphone.softphone_account, name="softphone-account"),
]
