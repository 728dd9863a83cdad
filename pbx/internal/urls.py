"""Internal endpoints: never exposed publicly (deploy/production/nginx refuses /internal/)."""

from django.urls import path

from pbx.internal import engine, voicemail

urlpatterns = [
    path("engine/route-decisions", engine.route_decision_view, name="engine-route-decision"),
    path("engine/events", engine.engine_events_view, name="engine-events"),
    path("voicemail/sessions", voicemail.session_view, name="voicemail-session"),
    path(
        "voicemail/mailboxes/<int:mailbox_id>/greetings/<str:kind>",
        voicemail.greeting_view,
        name="voicemail-greeting",
    ),
    path("voicemail/deposits", voicemail.deposit_view, name="voicemail-deposit"),
]
