"""Fixtures: local fake FCM and APNs servers, and settings pointing the senders at them."""

from collections.abc import Iterator
from pathlib import Path

import pytest

from devices.push.senders import senders_reset
from tests.fakes.apns import FakeApns
from tests.fakes.fcm import FakeFcm


@pytest.fixture
def fake_fcm(tmp_path: Path, settings) -> Iterator[FakeFcm]:
    fake = FakeFcm().start()
    settings.PBX_FCM_SERVICE_ACCOUNT_FILE = str(fake.service_account_file(tmp_path))
    settings.PBX_FCM_URL = fake.url
    settings.PBX_PUSH_TIMEOUT = 2.0
    yield fake
    senders_reset()
    fake.stop()


@pytest.fixture
def fake_apns(tmp_path: Path, settings) -> Iterator[FakeApns]:
    fake = FakeApns(tmp_path).start()
    settings.PBX_APNS_KEY_FILE = str(fake.key_file())
    settings.PBX_APNS_KEY_ID = fake.key_id
    settings.PBX_APNS_TEAM_ID = fake.team_id
    settings.PBX_APNS_URL = fake.url
    settings.PBX_APNS_SANDBOX_URL = fake.url + "/"  # a different sender URL, same fake
    settings.PBX_APNS_CA_FILE = str(fake.cert_path)
    settings.PBX_PUSH_TIMEOUT = 2.0
    yield fake
    senders_reset()
    fake.stop()
