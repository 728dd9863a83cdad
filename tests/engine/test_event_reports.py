"""The engine's event reports survive a Django that does not take them: a batch Django could not
take (unreachable, 5xx) is sent again, unchanged and before anything newer; a batch Django
refuses as malformed (4xx) is dropped, never sent again."""

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from devices import services
from devices.models import Device
from pbx.engine.process import EngineProcess, postgres_url, start_engine
from tests import sip
from tests.engine.office import wait_for
from tests.factories import TenantFactory, UserFactory
from tests.fakes.engine_api import FakeEngineApi

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


class FlakyDjango(FakeEngineApi):
    """Answers the first event posts with the given codes, then 200."""

    def __init__(self, codes: list[int]) -> None:
        self.codes = list(codes)
        super().__init__(self._answer)

    def _answer(self, path: str, body: dict) -> tuple[int, dict]:
        code = self.codes.pop(0) if self.codes else 200
        return code, {"accepted": len(body.get("events", []))}

    @property
    def posts(self) -> list[tuple[int, dict]]:
        return [(r.status, r.body) for r in self.received]

    def registered(self) -> list[str]:
        """The usernames of the registered events Django took, in order."""
        return [
            event["username"]
            for code, body in self.posts
            if code == 200
            for event in body["events"]
            if event["type"] == "registered"
        ]


@pytest.fixture
def flaky(request: pytest.FixtureRequest) -> Iterator[FlakyDjango]:
    fake = FlakyDjango(request.param)
    yield fake
    fake.close()


@pytest.fixture
def reporting_engine(flaky: FlakyDjango, tmp_path: Path) -> Iterator[EngineProcess]:
    engine = start_engine(
        db_url=postgres_url(connection.settings_dict),
        django_url=flaky.url,
        token=settings.PBX_ENGINE_TOKEN,
        workers=1,
        log_path=tmp_path / "kamailio.log",
    )
    yield engine
    engine.stop()


def register(engine: EngineProcess, workdir: Path) -> str:
    user = UserFactory(tenant=TenantFactory())
    issued = services.device_create(user=user, kind=Device.Kind.DESK_PHONE, label="Desk")
    device = issued.device
    result = sip.register(
        engine,
        workdir,
        username=device.sip_username,
        domain=device.tenant.sip_domain,
        secret=issued.secret,
    )
    assert result.ok, result.output
    return device.sip_username


@pytest.mark.parametrize("flaky", [[503, 500, 502]], indirect=True)
def test_a_batch_django_could_not_take_is_sent_again_unchanged_and_first(
    flaky: FlakyDjango, reporting_engine: EngineProcess, sip_dir: Path
) -> None:
    first = register(reporting_engine, sip_dir)
    wait_for(lambda: len(flaky.posts) >= 2)  # refused at least once already
    second = register(reporting_engine, sip_dir)

    wait_for(lambda: flaky.registered() == [first, second], timeout=10)

    refused = [body for code, body in flaky.posts if code != 200]
    assert len(refused) == 3
    assert all(body == refused[0] for body in refused)  # the same batch, unchanged
    taken = [body for code, body in flaky.posts if code == 200]
    assert taken[0] == refused[0]  # and it went before the newer event
    time.sleep(0.5)
    assert flaky.registered() == [first, second]  # once each, never again


@pytest.mark.parametrize("flaky", [[400]], indirect=True)
def test_a_batch_django_refuses_as_malformed_is_dropped(
    flaky: FlakyDjango, reporting_engine: EngineProcess, sip_dir: Path
) -> None:
    first = register(reporting_engine, sip_dir)
    wait_for(lambda: len(flaky.posts) >= 1)
    second = register(reporting_engine, sip_dir)

    wait_for(lambda: flaky.registered() == [second], timeout=10)

    time.sleep(0.5)
    assert [code for code, _ in flaky.posts] == [400, 200]
    assert first not in flaky.registered()
