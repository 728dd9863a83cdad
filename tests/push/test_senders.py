"""The FCM and APNs senders against local fakes that speak the providers' wire formats."""

import pytest

from devices.domain.push import PushFailure, PushKind, PushRefused
from devices.push.messages import PushMessage
from devices.push.senders import apns_sender, fcm_sender
from pbx.engine.process import free_port
from tests.fakes.apns import FakeApns
from tests.fakes.fcm import QUOTA, UNAVAILABLE, UNREGISTERED, FakeFcm

FCM_TOKEN = "fcm-token-" + "a" * 40
APNS_TOKEN = "ab" * 32
WAKE = PushMessage(
    kind=PushKind.WAKE, call_id="call-1@pbx", caller_name="Alice Martin", caller_number="202"
)


def test_fcm_wake_is_high_priority_data_only_with_ttl_zero(fake_fcm: FakeFcm) -> None:
    message_id = fcm_sender().send(token=FCM_TOKEN, message=WAKE)

    [request] = fake_fcm.requests
    assert message_id == f"projects/{fake_fcm.project}/messages/0:1"
    assert request.project == fake_fcm.project
    assert request.headers["authorization"] == "Bearer fake-access-token-1"
    assert request.message == {
        "token": FCM_TOKEN,
        "data": {
            "type": "incoming_call",
            "call_id": "call-1@pbx",
            "caller_name": "Alice Martin",
            "caller_number": "202",
        },
        "android": {"priority": "high", "ttl": "0s"},
    }
    assert "notification" not in request.message  # data-only: the app decides what to show


def test_fcm_access_token_is_reused(fake_fcm: FakeFcm) -> None:
    sender = fcm_sender()
    for _ in range(3):
        sender.send(token=FCM_TOKEN, message=WAKE)

    assert len(fake_fcm.requests) == 3
    assert fake_fcm.token_grants == 1


@pytest.mark.parametrize(
    ("answer", "failure", "dead", "retryable"),
    [
        (UNREGISTERED, PushFailure.UNREGISTERED, True, False),
        (UNAVAILABLE, PushFailure.PROVIDER_ERROR, False, True),
        (QUOTA, PushFailure.THROTTLED, False, True),
    ],
)
def test_fcm_failures_are_classified(
    fake_fcm: FakeFcm, answer, failure: PushFailure, dead: bool, retryable: bool
) -> None:
    fake_fcm.answers[FCM_TOKEN] = [answer]

    with pytest.raises(PushRefused) as refused:
        fcm_sender().send(token=FCM_TOKEN, message=WAKE)

    assert refused.value.failure is failure
    assert refused.value.failure.token_is_dead is dead
    assert refused.value.failure.retryable is retryable
    assert len(fake_fcm.requests) == 1  # the SDK's own retries are off: the task retries


def test_fcm_unreachable(fake_fcm: FakeFcm, settings) -> None:
    settings.PBX_FCM_URL = f"http://127.0.0.1:{free_port()}"

    with pytest.raises(PushRefused) as refused:
        fcm_sender().send(token=FCM_TOKEN, message=WAKE)

    assert refused.value.failure is PushFailure.UNREACHABLE


def test_apns_voip_push_over_http2(fake_apns: FakeApns) -> None:
    apns_id = apns_sender().send(
        token=APNS_TOKEN, app_id="com.example.phone", sandbox=False, message=WAKE, device_id=7
    )

    [request] = fake_apns.requests
    assert request.http_version == "2"
    assert request.path == f"/3/device/{APNS_TOKEN}"
    assert request.headers["apns-push-type"] == "voip"
    assert request.headers["apns-topic"] == "com.example.phone.voip"
    assert request.headers["apns-priority"] == "10"
    assert request.headers["apns-expiration"] == "0"
    assert request.headers["apns-id"] == WAKE.identity(7) == apns_id
    assert request.payload == {
        "aps": {},
        "type": "incoming_call",
        "call_id": "call-1@pbx",
        "caller_name": "Alice Martin",
        "caller_number": "202",
    }


def test_apns_provider_token_is_reused_then_renewed_when_expired(
    fake_apns: FakeApns, settings
) -> None:
    sender = apns_sender()
    for _ in range(3):
        sender.send(
            token=APNS_TOKEN, app_id="com.example.phone", sandbox=True, message=WAKE, device_id=7
        )
    assert len(fake_apns.provider_tokens) == 1

    fake_apns.answers[APNS_TOKEN] = [(403, "ExpiredProviderToken"), (200, "")]
    with pytest.raises(PushRefused) as refused:
        sender.send(
            token=APNS_TOKEN, app_id="com.example.phone", sandbox=True, message=WAKE, device_id=7
        )
    assert refused.value.failure is PushFailure.AUTH
    assert refused.value.failure.retryable
    before = sender.provider_token()
    assert before not in fake_apns.provider_tokens  # renewed, not yet presented


@pytest.mark.parametrize(
    ("status", "reason", "failure"),
    [
        (410, "Unregistered", PushFailure.UNREGISTERED),
        (400, "BadDeviceToken", PushFailure.BAD_TOKEN),
        (400, "DeviceTokenNotForTopic", PushFailure.BAD_TOKEN),
        (429, "TooManyRequests", PushFailure.THROTTLED),
        (503, "ServiceUnavailable", PushFailure.PROVIDER_ERROR),
        (400, "PayloadTooLarge", PushFailure.REJECTED),
    ],
)
def test_apns_failures_are_classified(
    fake_apns: FakeApns, status: int, reason: str, failure: PushFailure
) -> None:
    fake_apns.answers[APNS_TOKEN] = [(status, reason)]

    with pytest.raises(PushRefused) as refused:
        apns_sender().send(
            token=APNS_TOKEN, app_id="com.example.phone", sandbox=False, message=WAKE, device_id=1
        )

    assert refused.value.failure is failure


def test_apns_unreachable(fake_apns: FakeApns, settings) -> None:
    settings.PBX_APNS_URL = f"https://127.0.0.1:{free_port()}"

    with pytest.raises(PushRefused) as refused:
        apns_sender().send(
            token=APNS_TOKEN, app_id="com.example.phone", sandbox=False, message=WAKE, device_id=1
        )

    assert refused.value.failure is PushFailure.UNREACHABLE


def test_nothing_configured_is_a_clear_failure(settings) -> None:
    settings.PBX_FCM_SERVICE_ACCOUNT_FILE = ""
    settings.PBX_APNS_KEY_FILE = ""

    with pytest.raises(PushRefused) as fcm:
        fcm_sender()
    with pytest.raises(PushRefused) as apns:
        apns_sender()

    assert fcm.value.failure is PushFailure.NOT_CONFIGURED
    assert apns.value.failure is PushFailure.NOT_CONFIGURED
