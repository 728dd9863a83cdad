"""Calls decided inside the engine (deploy/kamailio/decide.py): no hop to Django once the callee's
profile is compiled, the plan carried out exactly as Django's decision would be, the call
recorded, and Django asked for whatever needs it."""

import time
from pathlib import Path

import pytest

from devices.models import Device
from pbx.engine.client import KamailioJsonRpc
from pbx.engine.process import EngineProcess
from routing.models import Call
from routing.profiles import routing_profile_for
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
    before = decisions(engine)
    from tests import sip_calls as sip

    result = sip.run_sipp(
        engine,
        sip.caller_scenario(
            username=office.caller_username,
            secret=office.caller_secret,
            domain=office.domain,
            called="299",
            expect=404,
        ),
        sip_dir,
        timeout=20,
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
