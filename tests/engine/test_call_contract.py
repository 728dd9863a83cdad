"""The engine carries out exactly what the decision says: for each branch type and final action,
what the simulator promises is what real SIP phones (sipp) see, and a branch that ends (a phone
that is registered but gone) never ends the call."""

import time
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone

from devices.models import Device
from pbx.engine.process import EngineProcess
from routing.decisions import route_simulate
from routing.models import Call
from routing.services import routing_document_set, routing_treatment_update
from tests.engine.office import Office, device_id, wait_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

TOLERANCE = 0.5  # seconds, between what the decision says and what a phone sees


def document(*stages: tuple[int, str, list[dict[str, Any]]], final: dict[str, Any]) -> dict:
    return {
        "plans": [
            {
                "name": "p",
                "stages": [{"seconds": s, "mode": m, "targets": t} for s, m, t in stages],
                "final": final,
            }
        ],
        "default_plan": "p",
    }


def dev(pk: int) -> dict[str, Any]:
    return {"type": "device", "device_id": pk}


@pytest.mark.parametrize("silent", [False, True], ids=["port-closed", "silent"])
@pytest.mark.parametrize("position", ["first", "middle", "last"])
def test_a_registered_phone_that_is_gone_never_ends_the_call(
    engine: EngineProcess, sip_dir: Path, position: str, silent: bool
) -> None:
    office = Office(engine, sip_dir)
    gone = office.vanished_device(Device.Kind.MOBILE_APP, "gone", silent=silent)
    ringer = desk = None
    if position == "first":  # alone in stage 1, the desk phone added in stage 2
        desk = office.device(Device.Kind.DESK_PHONE, "desk", "answer", answer_ms=500)
        stages = [(10, "add", [dev(gone)]), (20, "add", [dev(device_id(office, "desk"))])]
        final = {"action": "busy"}
    elif position == "middle":  # alone in stage 2 (a replace), the desk phone in stage 3
        ringer = office.device(Device.Kind.SOFTPHONE, "ringer", "ring")
        desk = office.device(Device.Kind.DESK_PHONE, "desk", "answer", answer_ms=500)
        stages = [
            (5, "add", [dev(device_id(office, "ringer"))]),
            (5, "replace", [dev(gone)]),
            (20, "replace", [dev(device_id(office, "desk"))]),
        ]
        final = {"action": "busy"}
    else:  # alone in the last stage: the call ends at the decision's final time, not earlier
        ringer = office.device(Device.Kind.SOFTPHONE, "ringer", "ring")
        stages = [(5, "add", [dev(device_id(office, "ringer"))]), (10, "replace", [dev(gone)])]
        final = {"action": "busy"}
    routing_document_set(user=office.callee, document=document(*stages, final=final))

    result, started = office.call(expect=486 if position == "last" else 200)

    peers = {"desk": desk} if position == "first" else {"desk": desk, "ringer": ringer}
    if position == "last":
        peers = {"ringer": ringer}
    seen = {name: peer.received() for name, peer in peers.items()}
    assert result.ok, f"{result.output[-1500:]}\n{seen}\n{engine.log()[-3000:]}"
    if position == "last":
        elapsed = time.time() - started
        assert 15 - TOLERANCE <= elapsed <= 15 + 1.0, elapsed  # final at 15 s (408 at 9 s)
        assert ringer.wait() == 0
        return
    assert desk.wait() == 0, desk.received()
    invite = desk.first("INVITE")
    assert invite is not None
    assert abs(invite.timestamp() - started - 10) <= TOLERANCE, invite.timestamp() - started
    assert desk.first("BYE") is not None  # it answered and the call went on


def _observed(peer: Any, method: str, started: float) -> float | None:
    at = peer.first(method)
    return None if at is None else at.timestamp() - started


def _tenant_device(office: Office, label: str) -> int:
    return Device.objects.get(tenant=office.tenant, label=label).pk


@pytest.mark.parametrize(
    ("case", "action", "code"),
    [
        ("add_by_kind", "busy", 486),
        ("replace", "unavailable", 480),
        ("extension", "voicemail", 480),  # no voicemail agent on this engine: 480
        ("forward", "busy", 486),  # Bob's own final action
    ],
)
def test_what_the_simulator_says_is_what_the_phones_see(
    engine: EngineProcess, sip_dir: Path, case: str, action: str, code: int
) -> None:
    office = Office(engine, sip_dir)
    peers = {"desk": office.device(Device.Kind.DESK_PHONE, "desk", "ring")}
    desk = dev(_tenant_device(office, "desk"))
    if case in ("add_by_kind", "replace"):
        peers["laptop"] = office.device(Device.Kind.SOFTPHONE, "laptop", "ring")
        second = (
            {"type": "device_kind", "kind": "softphone"}
            if case == "add_by_kind"
            else dev(_tenant_device(office, "laptop"))
        )
        mode = "add" if case == "add_by_kind" else "replace"
        stages = [(5, "add", [desk]), (5, mode, [second])]
        final = {"action": action}
    else:
        bob = office.colleague("203", "Bob")
        peers["bob-laptop"] = office.device(Device.Kind.SOFTPHONE, "bob-laptop", "ring", owner=bob)
        bob_plan = document(
            (5 if case == "forward" else 10, "add", [dev(_tenant_device(office, "bob-laptop"))]),
            final={"action": "busy"},
        )
        routing_document_set(user=bob, document=bob_plan)
        if case == "extension":  # Bob's 10 s are clipped to the stage's 5 s
            stages = [(5, "add", [desk]), (5, "add", [{"type": "extension", "extension": "203"}])]
            final = {"action": "voicemail"}
        else:
            stages = [(5, "add", [desk])]
            final = {"action": "forward", "destination": "203"}
    routing_document_set(user=office.callee, document=document(*stages, final=final))
    decision = route_simulate(
        user=office.callee, caller="202", at=timezone.now(), registered=None
    ).decision

    result, started = office.call(expect=code)

    final_s = time.time() - started
    assert result.ok, result.output + engine.log()[-3000:]
    by_id = {_tenant_device(office, name): peer for name, peer in peers.items()}
    assert {b.device_id for b in decision.branches} == set(by_id), decision.trace_lines()
    for branch in decision.branches:
        peer = by_id[branch.device_id]
        assert peer.wait() == 0, (peer.name, peer.received())
        invite, cancel = _observed(peer, "INVITE", started), _observed(peer, "CANCEL", started)
        assert invite is not None
        assert cancel is not None
        assert abs(invite - branch.start) <= TOLERANCE, (peer.name, invite, branch)
        assert abs(cancel - branch.stop) <= TOLERANCE, (peer.name, cancel, branch)
    assert decision.final.kind.value == action
    assert abs(final_s - decision.final_at) <= TOLERANCE + 0.5, (final_s, decision.final_at)


def test_a_forward_loop_ends_at_the_guard(engine: EngineProcess, sip_dir: Path) -> None:
    office = Office(engine, sip_dir)
    bob = office.colleague("203", "Bob")
    office.device(Device.Kind.SOFTPHONE, "bob-laptop", "ring", owner=bob)
    routing_treatment_update(user=office.callee, data={"forward_always": "203"})
    routing_treatment_update(user=bob, data={"forward_always": "201"})

    result, started = office.call(expect=480)  # voicemail of 201; no agent on this engine

    assert result.ok, result.output
    assert time.time() - started < 3
    call = wait_for(lambda: Call.objects.filter(callee=office.callee).first())
    assert any("would loop (201 → 203 → 201)" in line for line in call.trace), call.trace
