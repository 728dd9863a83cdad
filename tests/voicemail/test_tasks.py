"""A new message's jobs as production runs them: a deposit commits, its tasks travel through
Redis to a real worker (no eager mode), and a transient failure is retried by that worker.
Each job sends what it owes exactly once, and stops after its `max_retries`.

The only thing shortened here is each task's `default_retry_delay` (the first retry's delay,
doubled at each attempt), so that five retries take about a second instead of minutes."""

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import pytest
from celery import signals
from celery.contrib.testing.worker import start_worker

from devices.models import Device, PushDelivery
from devices.push import bindings
from pbx.celery import app
from tests.factories import ExtensionFactory, make_device
from tests.fakes.apns import FakeApns
from tests.fakes.smtp import FakeSmtp
from tests.voicemail import transcribers
from voicemail import selectors, services, tasks
from voicemail.domain import audio
from voicemail.models import Message
from voicemail.notifications import EmailPending
from voicemail.transcription import TranscriptionFailed

pytestmark = pytest.mark.django_db(transaction=True)

RETRIED_TASKS = (tasks.push_new_message, tasks.email_new_message, tasks.transcribe)
QUEUES = ("push", "default", "engine")  # engine: the MWI every deposit sends (not run here)


@dataclass
class TaskEvents:
    """What the worker reported (Celery's signals, sent in the worker's thread)."""

    seen: list[tuple[str, str, Any]] = field(default_factory=list)

    def of(self, task_name: str, kind: str) -> list[Any]:
        return [info for name, k, info in list(self.seen) if name == task_name and k == kind]

    def wait(self, predicate: Callable[[], bool], timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while not predicate():
            assert time.monotonic() < deadline, f"still waiting; the worker reported {self.seen}"
            time.sleep(0.02)

    def wait_done(self, task_name: str, count: int = 1) -> None:
        """Until `count` runs of the task ended (succeeded or failed for good)."""
        self.wait(
            lambda: len(self.of(task_name, "success")) + len(self.of(task_name, "failure")) >= count
        )


def _purge() -> None:
    with app.connection_for_write() as connection:
        for queue in QUEUES:
            connection.default_channel.queue_purge(queue)


@pytest.fixture
def worker(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., Any]]:
    """`with worker("push", "default") as events:` runs a worker on those queues."""
    for task in RETRIED_TASKS:
        monkeypatch.setattr(task, "default_retry_delay", 0.05)
    events = TaskEvents()

    def success(sender: Any, result: Any, **_: Any) -> None:
        events.seen.append((sender.name, "success", result))

    def failure(sender: Any, exception: BaseException, **_: Any) -> None:
        events.seen.append((sender.name, "failure", exception))

    def retry(sender: Any, reason: Any, **_: Any) -> None:
        events.seen.append((sender.name, "retry", getattr(reason, "exc", reason)))

    signals.task_success.connect(success, weak=False)
    signals.task_failure.connect(failure, weak=False)
    signals.task_retry.connect(retry, weak=False)
    _purge()

    @contextmanager
    def run(*queues: str) -> Iterator[TaskEvents]:
        with start_worker(
            app, pool="solo", perform_ping_check=False, shutdown_timeout=10, queues=list(queues)
        ):
            yield events

    yield run
    signals.task_success.disconnect(success)
    signals.task_failure.disconnect(failure)
    signals.task_retry.disconnect(retry)
    _purge()


@pytest.fixture
def smtp(settings) -> Iterator[FakeSmtp]:
    fake = FakeSmtp()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", fake.port
    yield fake
    fake.stop()


def leave_message(member, *, email: bool = False) -> Message:
    extension = ExtensionFactory(owner=member)
    mailbox = selectors.mailbox_for_extension(extension=extension)
    mailbox.email_notifications = email
    mailbox.save()
    pcm = audio.tone(1000, 1.2)
    return services.voicemail_deposit(
        mailbox=mailbox,
        call_id=f"vm-{extension.number}",
        wav=audio.wav_bytes(pcm),
        duration_ms=audio.duration_ms(pcm),
        caller="+33612345678",
        caller_name="Carol",
    ).message


def mobile_app(member, token: str) -> Device:
    phone = make_device(member, kind=Device.Kind.MOBILE_APP, label=f"iPhone {token[:4]}")
    bindings.push_binding_register(
        device=phone, provider="apns", token=token, app_id="com.example.phone"
    )
    return phone


def test_the_push_and_the_email_go_to_their_own_queues() -> None:
    router = app.amqp.router

    assert router.route({}, tasks.push_new_message.name)["queue"].name == "push"
    assert router.route({}, tasks.email_new_message.name)["queue"].name == "default"
    assert router.route({}, tasks.transcribe.name)["queue"].name == "default"
    assert (tasks.push_new_message.name, tasks.email_new_message.name) == (
        "push.voicemail",
        "voicemail.email",
    )


def test_the_push_worker_pushes_without_waiting_for_the_email(
    member, worker, fake_apns: FakeApns, smtp: FakeSmtp
) -> None:
    mobile_app(member, "a1" * 32)

    with worker("push") as events:
        message = leave_message(member, email=True)
        events.wait_done("push.voicemail")
        assert len(fake_apns.requests) == 1
        assert smtp.connections == 0  # the e-mail is not the push worker's job
    with worker("default") as events:
        events.wait_done("voicemail.email")

    assert events.of("push.voicemail", "success") == [1]
    assert events.of("voicemail.email", "success") == [True]
    [mail] = smtp.messages
    assert mail["Subject"] == "New voicemail from Carol"
    assert Message.objects.get(pk=message.pk).emailed_at is not None


def test_an_email_the_smtp_server_turns_away_once_is_retried_and_sent_once(
    member, worker, smtp: FakeSmtp
) -> None:
    smtp.refusals = ["421 4.3.2 Too many connections, try again later"]

    with worker("push", "default") as events:
        message = leave_message(member, email=True)
        events.wait_done("voicemail.email")
        tasks.email_new_message.delay(message_id=message.pk)  # delivered again, e.g. a redelivery
        events.wait_done("voicemail.email", count=2)

    assert [type(r) for r in events.of("voicemail.email", "retry")] == [EmailPending]
    assert events.of("voicemail.email", "success") == [True, False]
    assert smtp.connections == 2  # the refused attempt and the one that delivered
    assert len(smtp.messages) == 1
    assert smtp.envelopes[0][1] == [member.email]
    assert Message.objects.get(pk=message.pk).emailed_at is not None


def test_an_email_the_smtp_server_keeps_turning_away_stops_after_max_retries(
    member, worker, smtp: FakeSmtp
) -> None:
    smtp.refusals, smtp.refuse_forever = ["421 4.3.2 Service not available"], True

    with worker("push", "default") as events:
        message = leave_message(member, email=True)
        events.wait_done("voicemail.email")
        time.sleep(0.5)  # nothing more comes

    assert tasks.email_new_message.max_retries == 5
    assert len(events.of("voicemail.email", "retry")) == 5
    [failure] = events.of("voicemail.email", "failure")
    assert isinstance(failure, EmailPending)
    assert smtp.connections == 6
    assert smtp.messages == []
    assert Message.objects.get(pk=message.pk).emailed_at is None


def test_an_email_refused_for_good_is_not_retried(member, worker, smtp: FakeSmtp) -> None:
    smtp.refusals, smtp.refuse_forever = ["554 5.7.1 No service for you"], True

    with worker("push", "default") as events:
        leave_message(member, email=True)
        events.wait_done("voicemail.email")
        time.sleep(0.3)

    assert events.of("voicemail.email", "retry") == []
    assert events.of("voicemail.email", "success") == [False]
    assert smtp.connections == 1


def test_a_push_the_provider_fails_once_is_retried_and_no_device_is_pushed_twice(
    member, worker, fake_apns: FakeApns
) -> None:
    steady, flaky = "a1" * 32, "b2" * 32
    fake_apns.answers[flaky] = [(503, "ServiceUnavailable"), (200, "")]
    mobile_app(member, steady)
    mobile_app(member, flaky)

    with worker("push") as events:
        message = leave_message(member)
        events.wait_done("push.voicemail")

    assert len(events.of("push.voicemail", "retry")) == 1
    assert events.of("push.voicemail", "success") == [2]
    assert [r.token for r in fake_apns.requests].count(steady) == 1  # not pushed again
    assert [r.token for r in fake_apns.requests].count(flaky) == 2  # refused, then accepted
    deliveries = PushDelivery.objects.filter(call_id=message.call_id, kind="voicemail")
    assert sorted((d.status, d.attempts) for d in deliveries) == [("sent", 1), ("sent", 2)]


def test_a_push_the_provider_keeps_failing_stops_after_max_retries(
    member, worker, fake_apns: FakeApns
) -> None:
    token = "c3" * 32
    fake_apns.answers[token] = [(503, "ServiceUnavailable")]  # the last answer repeats
    mobile_app(member, token)

    with worker("push") as events:
        message = leave_message(member)
        events.wait_done("push.voicemail")
        time.sleep(0.5)

    assert tasks.push_new_message.max_retries == 5
    assert len(events.of("push.voicemail", "retry")) == 5
    assert events.of("push.voicemail", "success") == [0]  # the last attempt records the failure
    assert len(fake_apns.requests) == 6
    delivery = PushDelivery.objects.get(call_id=message.call_id, kind="voicemail")
    assert (delivery.status, delivery.attempts, delivery.failure) == ("failed", 6, "provider_error")


def test_a_transcriber_that_fails_once_is_retried(member, worker, settings) -> None:
    settings.PBX_VOICEMAIL_TRANSCRIBER = "tests.voicemail.transcribers.fails_once"
    transcribers.calls.clear()

    with worker("push", "default") as events:
        message = leave_message(member)
        events.wait_done("voicemail.transcribe")

    assert [type(r) for r in events.of("voicemail.transcribe", "retry")] == [TranscriptionFailed]
    assert events.of("voicemail.transcribe", "success") == ["a 1000 Hz tone of 1200 ms"]
    assert transcribers.calls == {"fails_once": 2}
    assert Message.objects.get(pk=message.pk).transcript == "a 1000 Hz tone of 1200 ms"


def test_a_transcriber_that_keeps_failing_stops_after_max_retries(member, worker, settings) -> None:
    settings.PBX_VOICEMAIL_TRANSCRIBER = "tests.voicemail.transcribers.always_fails"
    transcribers.calls.clear()

    with worker("push", "default") as events:
        message = leave_message(member)
        events.wait_done("voicemail.transcribe")
        time.sleep(0.5)

    assert tasks.transcribe.max_retries == 3
    assert len(events.of("voicemail.transcribe", "retry")) == 3
    [failure] = events.of("voicemail.transcribe", "failure")
    assert isinstance(failure, TranscriptionFailed)
    assert transcribers.calls == {"always_fails": 4}
    assert Message.objects.get(pk=message.pk).transcript == ""
