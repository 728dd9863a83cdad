"""The Celery app really carries tasks over Redis to a worker (no eager mode)."""

import time
from datetime import timedelta

import pytest
from celery.contrib.testing.worker import start_worker
from django.utils import timezone

from pbx.celery import app
from pbx.tokens.models import AccessToken
from pbx.tokens.services import api_session_open
from pbx.tokens.tasks import purge_expired_access_tokens
from tests.factories import UserFactory


@pytest.mark.django_db(transaction=True)
def test_a_task_sent_through_redis_runs_on_a_worker() -> None:
    assert app.conf.broker_url.startswith("redis://")
    assert app.conf.task_always_eager is False
    session = api_session_open(user=UserFactory()).session
    api_session_open(user=session.user)
    AccessToken.objects.filter(pk=AccessToken.objects.first().pk).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )

    with start_worker(
        app, pool="solo", perform_ping_check=False, shutdown_timeout=10, queues=["default"]
    ):
        purge_expired_access_tokens.delay()
        deadline = time.monotonic() + 10
        while AccessToken.objects.count() != 1 and time.monotonic() < deadline:
            time.sleep(0.05)

    assert AccessToken.objects.count() == 1
