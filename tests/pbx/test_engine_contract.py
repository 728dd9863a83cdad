"""The contract's own rules, without a database: versions, shapes, and what the engine may send."""

import pytest

from pbx.engine.contract import (
    CONTRACT_VERSION,
    BranchOrder,
    CallEvent,
    ContractError,
    EngineDecision,
    EventType,
    FinalOrder,
    FinalStep,
    RegistrationEvent,
    parse_event,
    parse_event_batch,
    parse_route_request,
)
from pbx.engine.process import CONFIG, EdgeLimits


def test_the_engine_configuration_speaks_this_version() -> None:
    assert f"#!define CONTRACT_VERSION {CONTRACT_VERSION}\n" in CONFIG.read_text()


@pytest.mark.parametrize("version", [None, 0, 2, "1", True])
def test_another_version_is_refused(version: object) -> None:
    with pytest.raises(ContractError) as refused:
        parse_route_request({"version": version, "domain": "a.example", "called": "201"})
    assert (refused.value.code, refused.value.field) == ("contract_version", "version")
    with pytest.raises(ContractError):
        parse_event_batch({"version": version, "events": []})


def test_a_route_request_is_normalised_and_long_caller_text_cut() -> None:
    request = parse_route_request(
        {
            "version": 1,
            "domain": "Org.Example",
            "called": "201",
            "caller": "sp12",
            "caller_name": "x" * 500,
            "call_id": "c" * 300,
            "active_calls": "2",
        }
    )
    assert (request.domain, request.called, request.active_calls) == ("org.example", "201", 2)
    assert (len(request.caller_name), len(request.call_id)) == (128, 255)


def test_a_decision_has_one_json_encoding() -> None:
    decision = EngineDecision(
        user_id=7,
        extension="201",
        branches=(BranchOrder(3, "dp3", "Desk", 0, 15000, user_id=7),),
        cuts=(15000,),
        final=FinalStep(FinalOrder.VOICEMAIL, 35000, mailbox="201"),
        reason="no_answer",
        plan="office",
        call_id="abc",
    )
    assert decision.to_json() == {
        "version": 1,
        "call_id": "abc",
        "user_id": 7,
        "extension": "201",
        "plan": "office",
        "rule": None,
        "reason": "no_answer",
        "branches": [
            {
                "type": "device",
                "device_id": 3,
                "sip_username": "dp3",
                "label": "Desk",
                "user_id": 7,
                "start_ms": 0,
                "stop_ms": 15000,
                "wake": False,
                "after_cut": False,
            }
        ],
        "cuts": [15000],
        "final": {
            "action": "voicemail",
            "at_ms": 35000,
            "mailbox": "201",
            "greeting": "unavailable",
        },
    }
    assert [order.value for order in FinalOrder] == ["voicemail", "busy", "unavailable"]


def test_events_parse_to_their_types() -> None:
    expired = parse_event(
        {"type": "expired", "username": "dp3", "domain": "Org.Example", "contact": "sip:x@h"}
    )
    missed = parse_event(
        {"type": "missed", "call_id": "c1", "domain": "org.example", "code": "487"}
    )
    assert expired == RegistrationEvent(
        EventType.EXPIRED, "dp3", "org.example", contact="sip:x@h", expires=0
    )
    assert missed == CallEvent(EventType.MISSED, "c1", "org.example", code=487)


@pytest.mark.parametrize(
    "raw",
    [
        "not an object",
        {"type": "exploded"},
        {"type": "registered", "username": "", "domain": "x"},
        {"type": "registered", "username": "u", "domain": "x", "source_address": "999.1.1.1"},
        {"type": "registered", "username": "u", "domain": "x", "source_port": 0},
        {"type": "answered", "call_id": "", "domain": "x"},
        {"type": "missed", "call_id": "c", "domain": "x", "code": 99},
        {"type": "missed", "call_id": "c", "domain": "x", "code": True},
    ],
)
def test_malformed_events_are_refused_with_a_reason(raw: object) -> None:
    with pytest.raises(ContractError) as refused:
        parse_event(raw)
    assert refused.value.code == "invalid"


def test_edge_limits_come_from_the_environment_and_reach_the_engine_as_defines() -> None:
    limits = EdgeLimits.from_environ(
        {"PBX_EDGE_AUTH_FAILURES": "5", "PBX_EDGE_EXEMPT": "10.0.0.0/8", "OTHER": "x"}
    )

    assert limits == EdgeLimits(auth_failures=5, exempt="10.0.0.0/8")
    args = limits.engine_args()
    assert "EDGE_AUTH_FAILURES=5" in args
    assert 'EDGE_EXEMPT="10.0.0.0/8"' in args
    cfg = (CONFIG.parent / "parts" / "edge.cfg").read_text()
    for arg in args[1::2]:
        assert f"#!trydef {arg.split('=')[0]} " in cfg
