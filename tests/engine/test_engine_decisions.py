"""Calls decided inside the engine (deploy/kamailio/decide.py): no hop to Django once the callee's
profile is compiled, the plan carried out exactly as Django's decision would be, the call
recorded, and Django asked for whatever needs it."""

import os
import sys
import time
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from devices.models import Device
from pbx.engine.client import KamailioJsonRpc
from pbx.engine.process import (
    EngineDecisions,
    EngineProcess,
    free_port,
    postgres_url,
    start_engine,
)
from routing.models import Call
from routing.profiles import routing_profile_for
from tests import sip_calls as sip
from tests.engine.office import Office, device_id, plan, wait_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def decisions(engine: EngineProcess) -> dict[str, int]:
    """Kamailio's counters of who decided each new call."""
    found = KamailioJsonRpc(engine.rpc_url).statistics("decisions_")
    return {name.removeprefix("decisions_"): value for name, value in found.items()}


def compiled(office: Office) -> None:
    """The callee's profile compiled into the cache, as the first call after a change does."""
    assert office.tenant is not None
    routing_profile_for(user_id=office.callee.pk, tenant_id=office.tenant.pk)


def test_a_call_is_decided_in_the_engine_and_its_stages_carried_out(
    engine: EngineProcess, sip_dir: Path
) -> None:
    from routing.services import routing_document_set

    office = Office(engine, sip_dir)
    desk = office.device(Device.Kind.DESK_PHONE, "desk", "ring")
    mobile = office.device(Device.Kind.MOBILE_APP, "mobile", "answer", answer_ms=500)
    routing_document_set(
        user=office.callee,
        document=plan(
            (5, "add", [device_id(office, "desk")]), (10, "add", [device_id(office, "mobile")])
        ),
    )
    compiled(office)
    before = decisions(engine)

    result, _ = office.call()

    assert result.ok, result.output
    after = decisions(engine)
    assert after["in_engine"] - before["in_engine"] == 1
    assert after["by_django"] == before["by_django"]
    assert desk.wait() == 0
    assert mobile.wait() == 0
    desk_invite, mobile_invite = desk.first("INVITE"), mobile.first("INVITE")
    assert desk_invite is not None
    assert mobile_invite is not None
    assert 4.8 <= (mobile_invite - desk_invite).total_seconds() <= 6.0
    # recorded from what the engine kept of its decision, when its events reached Django
    call = wait_for(
        lambda: Call.objects.filter(callee=office.callee, ended_at__isnull=False).first()
    )
    assert isinstance(call, Call)
    assert call.outcome == Call.Outcome.ANSWERED
    assert call.plan == "p"
    assert call.answered_device_id == device_id(office, "mobile")
    assert any("desk" in line for line in call.trace)


def test_a_changed_plan_is_decided_by_django_once_then_in_the_engine(
    engine: EngineProcess, sip_dir: Path
) -> None:
    from routing.services import routing_document_set

    office = Office(engine, sip_dir)
    office.device(Device.Kind.DESK_PHONE, "desk", "reject", code=486)
    compiled(office)
    routing_document_set(  # after compiling: the cached profile is no longer current
        user=office.callee,
        document=plan((5, "add", [device_id(office, "desk")]), final={"action": "busy"}),
    )
    before = decisions(engine)

    first, _ = office.call(expect=486)
    second, _ = office.call(expect=486)

    assert first.ok, first.output
    assert second.ok, second.output
    after = decisions(engine)
    assert after["by_django"] - before["by_django"] == 1  # it compiled the new plan
    assert after["in_engine"] - before["in_engine"] == 1


def test_an_unknown_number_is_refused_in_the_engine(engine: EngineProcess, sip_dir: Path) -> None:
    office = Office(engine, sip_dir)
    assert_refused_in_the_engine(engine, office, sip_dir)


def assert_refused_in_the_engine(engine: EngineProcess, office: Office, sip_dir: Path) -> None:
    """The office's caller dials a number nobody has: 404, decided by the engine itself."""
    before = decisions(engine)
    result = sip.run_sipp(
        engine, office.caller_scenario(called="299", expect=404), sip_dir, timeout=20
    )

    assert result.ok, result.output
    after = decisions(engine)
    assert after["in_engine"] - before["in_engine"] == 1
    assert after["by_django"] == before["by_django"]


def test_a_plan_that_reaches_a_colleague_is_decided_by_django(
    engine: EngineProcess, sip_dir: Path
) -> None:
    from routing.services import routing_document_set

    office = Office(engine, sip_dir)
    office.device(Device.Kind.DESK_PHONE, "desk", "ring")
    colleague = office.colleague("230", "Colleague")
    office.device(Device.Kind.SOFTPHONE, "colleague", "answer", answer_ms=300, owner=colleague)
    routing_document_set(
        user=office.callee,
        document={
            "plans": [
                {
                    "name": "p",
                    "stages": [
                        {
                            "seconds": 10,
                            "mode": "add",
                            "targets": [{"type": "extension", "extension": "230"}],
                        }
                    ],
                    "final": {"action": "voicemail"},
                }
            ],
            "default_plan": "p",
        },
    )
    compiled(office)
    before = decisions(engine)
    started = time.time()

    result, _ = office.call()

    assert result.ok, result.output
    assert time.time() - started < 8
    after = decisions(engine)
    assert after["by_django"] - before["by_django"] == 1
    assert after["in_engine"] == before["in_engine"]


def own_engine(tmp_path: Path, *, django_url: str, decisions: EngineDecisions) -> EngineProcess:
    """An engine of the test's own (one SIP worker), deciding calls itself with `decisions`."""
    return start_engine(
        db_url=postgres_url(connection.settings_dict),
        django_url=django_url,
        token=settings.PBX_ENGINE_TOKEN,
        workers=1,
        log_path=tmp_path / "kamailio.log",
        decisions=decisions,
    )


def test_the_engine_decides_calls_when_started_from_an_activated_virtualenv(
    sip_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`make run` from a shell where the project's virtualenv is active: Kamailio's embedded
    Python must still be Debian's (its drivers), so decide.py loads and the engine starts."""
    venv_bin = Path(sys.executable).parent
    assert (venv_bin.parent / "pyvenv.cfg").exists(), "the tests run from the project's venv"
    monkeypatch.setenv("PATH", f"{venv_bin}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("VIRTUAL_ENV", str(venv_bin.parent))
    decisions_here = EngineDecisions.from_cache_settings(settings.CACHES)
    assert decisions_here is not None
    activated = own_engine(tmp_path, django_url="http://127.0.0.1:9", decisions=decisions_here)
    try:
        assert_refused_in_the_engine(activated, Office(activated, sip_dir), sip_dir)
    finally:
        activated.stop()


def test_with_redis_unreachable_django_decides_and_the_engine_backs_off(
    engine_api: str, sip_dir: Path, tmp_path: Path
) -> None:
    """Redis down: every call is still decided (by Django), and the engine's Python does not
    try to reconnect on every call (after a failure: 1 s, then 2 s, ... per process)."""
    prefix = str(settings.CACHES["default"].get("KEY_PREFIX", ""))
    unreachable = EngineDecisions(f"redis://127.0.0.1:{free_port()}/0", prefix)
    cut_off = own_engine(tmp_path, django_url=engine_api, decisions=unreachable)
    try:
        office = Office(cut_off, sip_dir)
        before = decisions(cut_off)
        # the callee has no device: the decision (Django's) goes straight to the final action
        result = sip.run_sipp(
            cut_off,
            office.caller_scenario(expect=480),
            sip_dir,
            timeout=20,
            calls=40,
            rate=40,
        )
        assert result.ok, result.output
        after = decisions(cut_off)
        assert after["by_django"] - before["by_django"] == 40
        assert after["in_engine"] == before["in_engine"]
        # 40 calls in about a second over the engine's 4 async workers: each tries once, and
        # maybe once more a second later; not 40 times
        attempts = cut_off.log().count("in-engine decision failed")
        assert 1 <= attempts <= 8, cut_off.log()[-3000:]
    finally:
        cut_off.stop()
