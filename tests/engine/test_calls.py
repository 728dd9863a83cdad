"""Calls through the real engine: Django's decision carried out with real SIP devices (sipp)."""

import time
from pathlib import Path

import pytest

from devices.models import Device
from pbx.engine.process import EngineProcess
from tests.engine.office import Office, device_id, plan, wait_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def test_all_devices_ring_one_answers_the_others_are_cancelled(
    engine: EngineProcess, sip_dir: Path
) -> None:
    office = Office(engine, sip_dir)
    desk = office.device(Device.Kind.DESK_PHONE, "desk", "ring")
    laptop = office.device(Device.Kind.SOFTPHONE, "laptop", "answer", answer_ms=800)
    mobile = office.device(Device.Kind.MOBILE_APP, "mobile", "ring")

    result, _ = office.call()

    assert result.ok, (
        f"{result.output}\n{[(p.name, p.port, p.received()) for p in (desk, laptop, mobile)]}"
    )
    for peer in (desk, laptop, mobile):
        assert peer.wait() == 0, (peer.name, peer.received())
    invites = [peer.first("INVITE") for peer in (desk, laptop, mobile)]
    assert all(invites), invites
    assert (max(invites) - min(invites)).total_seconds() < 0.5  # in parallel
    assert desk.first("CANCEL") is not None
    assert mobile.first("CANCEL") is not None
    assert laptop.first("BYE") is not None


def test_escalation_adds_the_mobile_after_the_first_stage(
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

    result, _ = office.call()

    assert result.ok, result.output
    assert desk.wait() == 0
    assert mobile.wait() == 0
    desk_invite, mobile_invite = desk.first("INVITE"), mobile.first("INVITE")
    assert desk_invite is not None
    assert mobile_invite is not None
    delay = (mobile_invite - desk_invite).total_seconds()
    assert 4.8 <= delay <= 6.0, delay
    desk_cancel = desk.first("CANCEL")
    assert desk_cancel is not None
    assert (
        desk_cancel > mobile_invite
    )  # the desk phone kept ringing: stage 2 added, it did not restart


def test_a_device_that_rejects_does_not_stop_the_others(
    engine: EngineProcess, sip_dir: Path
) -> None:
    office = Office(engine, sip_dir)
    busy = office.device(Device.Kind.DESK_PHONE, "busy", "reject", code=486)
    declines = office.device(Device.Kind.MOBILE_APP, "declines", "reject", code=603)
    laptop = office.device(Device.Kind.SOFTPHONE, "laptop", "answer", answer_ms=1500)

    result, _ = office.call()

    assert result.ok, result.output
    for peer in (busy, declines, laptop):
        assert peer.wait() == 0, peer.name
    assert laptop.first("BYE") is not None


@pytest.mark.parametrize(
    ("action", "code"), [("busy", 486), ("voicemail", 480), ("unavailable", 480)]
)
def test_final_action_when_nobody_answers(
    engine: EngineProcess, sip_dir: Path, action: str, code: int
) -> None:
    from routing.services import routing_document_set

    office = Office(engine, sip_dir)
    desk = office.device(Device.Kind.DESK_PHONE, "desk", "ring")
    routing_document_set(
        user=office.callee,
        document=plan((5, "add", [device_id(office, "desk")]), final={"action": action}),
    )

    result, started = office.call(expect=code)

    assert result.ok, result.output
    elapsed = time.time() - started
    assert 4.5 <= elapsed <= 7.5, elapsed
    assert desk.wait() == 0  # it was rung, then cancelled when time was up
    assert desk.first("CANCEL") is not None


def test_nothing_registered_means_the_final_action_at_once(
    engine: EngineProcess, sip_dir: Path
) -> None:
    office = Office(engine, sip_dir)

    result, started = office.call(expect=480)

    assert result.ok, result.output
    assert time.time() - started < 3


def test_degraded_mode_rings_registered_devices_when_django_is_down(
    sip_dir: Path, tmp_path: Path, django_db_setup: None
) -> None:
    from django.conf import settings
    from django.db import connection

    from pbx.engine.process import postgres_url, start_engine

    blind = start_engine(
        db_url=postgres_url(connection.settings_dict),
        django_url="http://127.0.0.1:9",  # nothing listens: every route decision fails
        token=settings.PBX_ENGINE_TOKEN,
        workers=2,
        log_path=tmp_path / "kamailio-degraded.log",
    )
    try:
        office = Office(blind, sip_dir)
        desk = office.device(
            Device.Kind.DESK_PHONE, "desk", "answer", django_up=False, answer_ms=300
        )

        result, _ = office.call()

        assert result.ok, result.output
        assert desk.wait() == 0
        assert "DEGRADED MODE" in blind.log()
    finally:
        blind.stop()


def test_django_learns_which_device_answered_and_when_the_call_ended(
    engine: EngineProcess, sip_dir: Path
) -> None:
    from routing.models import Call

    office = Office(engine, sip_dir)
    office.device(Device.Kind.DESK_PHONE, "desk", "ring")
    laptop = office.device(Device.Kind.SOFTPHONE, "laptop", "answer", answer_ms=300)

    result, _ = office.call()

    assert result.ok, result.output
    assert laptop.wait() == 0
    call = wait_for(
        lambda: Call.objects.filter(callee=office.callee, ended_at__isnull=False).first()
    )
    assert call.outcome == Call.Outcome.ANSWERED
    assert call.answered_device == Device.objects.get(user=office.callee, label="laptop")
    assert call.plan == "ring all"
    assert call.caller == "202"  # the caller's device mapped to its owner's extension
    assert call.answered_at <= call.ended_at
    assert any("Stage 1" in line for line in call.trace)


def test_a_missed_call_is_recorded_with_its_final_code(
    engine: EngineProcess, sip_dir: Path
) -> None:
    from routing.models import Call
    from routing.services import routing_document_set

    office = Office(engine, sip_dir)
    office.device(Device.Kind.DESK_PHONE, "desk", "ring")
    routing_document_set(
        user=office.callee,
        document=plan((5, "add", [device_id(office, "desk")]), final={"action": "busy"}),
    )

    result, _ = office.call(expect=486)

    assert result.ok, result.output
    call = wait_for(
        lambda: Call.objects.filter(callee=office.callee, ended_at__isnull=False).first()
    )
    assert (call.outcome, call.final_code, call.answered_device) == (Call.Outcome.MISSED, 486, None)


def test_a_stage_whose_devices_all_refused_waits_for_the_next(
    engine: EngineProcess, sip_dir: Path
) -> None:
    """The call is parked until the next stage when every device of a stage said no
    (regression: the placeholder branch timed out after 4 s and ended the call early)."""
    from routing.services import routing_document_set

    office = Office(engine, sip_dir)
    desk = office.device(Device.Kind.DESK_PHONE, "desk", "reject", code=486)
    mobile = office.device(Device.Kind.MOBILE_APP, "mobile", "answer", answer_ms=300)
    routing_document_set(
        user=office.callee,
        document=plan(
            (6, "add", [device_id(office, "desk")]), (10, "add", [device_id(office, "mobile")])
        ),
    )

    result, started = office.call()

    assert result.ok, result.output
    assert desk.wait() == 0
    assert mobile.wait() == 0
    invite = mobile.first("INVITE")
    assert invite is not None
    assert 5.5 <= invite.timestamp() - started <= 7.0


def test_a_replace_stage_stops_the_earlier_devices(engine: EngineProcess, sip_dir: Path) -> None:
    from routing.services import routing_document_set

    office = Office(engine, sip_dir)
    desk = office.device(Device.Kind.DESK_PHONE, "desk", "ring")
    laptop = office.device(Device.Kind.SOFTPHONE, "laptop", "ring")
    mobile = office.device(Device.Kind.MOBILE_APP, "mobile", "answer", answer_ms=1500)
    routing_document_set(
        user=office.callee,
        document=plan(
            (5, "add", [device_id(office, "desk"), device_id(office, "laptop")]),
            (10, "replace", [device_id(office, "mobile")]),
        ),
    )

    result, started = office.call()

    assert result.ok, result.output + engine.log()[-3000:]
    for peer in (desk, laptop, mobile):
        assert peer.wait() == 0, (peer.name, peer.received())
    mobile_invite = mobile.first("INVITE")
    assert mobile_invite is not None
    for replaced in (desk, laptop):
        cancel = replaced.first("CANCEL")
        assert cancel is not None
        assert 4.5 <= cancel.timestamp() - started <= 6.5  # replaced at 5 s, not at the end
        assert abs((mobile_invite - cancel).total_seconds()) < 0.5
    assert mobile.first("BYE") is not None
    assert "replace stage: cutting call" in engine.log()


def test_a_replace_with_a_device_in_both_stages_keeps_it_ringing(
    engine: EngineProcess, sip_dir: Path
) -> None:
    """Cancelling and re-inviting the device in both stages would make phones stop ringing
    (merged request, 482): the decision keeps everyone ringing, and the engine does so."""
    from routing.services import routing_document_set

    office = Office(engine, sip_dir)
    desk = office.device(Device.Kind.DESK_PHONE, "desk", "ring")
    laptop = office.device(Device.Kind.SOFTPHONE, "laptop", "ring")
    mobile = office.device(Device.Kind.MOBILE_APP, "mobile", "answer", answer_ms=1500)
    routing_document_set(
        user=office.callee,
        document=plan(
            (5, "add", [device_id(office, "desk"), device_id(office, "laptop")]),
            (10, "replace", [device_id(office, "laptop"), device_id(office, "mobile")]),
        ),
    )

    result, _ = office.call()

    assert result.ok, result.output
    for peer in (desk, laptop, mobile):
        assert peer.wait() == 0, (peer.name, peer.received())
    laptop_invites = [line for _, line in laptop.received() if line.startswith("INVITE ")]
    assert len(laptop_invites) == 1  # rang once, without a break
    assert laptop.first("CANCEL") > mobile.first("INVITE")  # until the mobile answered
    assert desk.first("CANCEL") > mobile.first("INVITE")
