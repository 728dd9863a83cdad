"""The classic patterns, and the invariants of every decision (hypothesis)."""

import itertools
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from routing.domain.evaluation import (
    Colleague,
    CompiledRouting,
    Decision,
    DeviceInfo,
    IncomingCall,
    LiveState,
    Treatment,
    evaluate,
)
from routing.domain.plans import (
    FinalAction,
    FinalKind,
    RingPlan,
    RoutingDocument,
    Rule,
    Stage,
    StageMode,
    Target,
    TargetType,
)
from tests.routing.builders import NO_TREATMENT, OFFICE_HOURS, device, kind, paris, profile, stage

TUESDAY_MORNING = paris(2026, 11, 24, 10, 0)
TUESDAY_EVENING = paris(2026, 11, 24, 18, 5)
ALL_LIVE = LiveState(frozenset({1, 2, 3}))
DESK_AND_LAPTOP_LIVE = LiveState(frozenset({1, 2}))


def rings(decision) -> list[tuple[object, int, int, bool]]:
    return [(b.device_id, b.start, b.stop, b.wake) for b in decision.branches]


OFFICE = {
    "plans": [
        {
            "name": "office",
            "stages": [
                stage(15, kind("desk_phone"), kind("softphone")),
                stage(20, kind("mobile_app")),
            ],
            "final": {"action": "voicemail"},
        },
        {
            "name": "mobile only",
            "stages": [stage(25, kind("mobile_app"))],
            "final": {"action": "voicemail"},
        },
    ],
    "default_plan": "office",
    "rules": [
        {
            "name": "VIP",
            "plan": "mobile only",
            "callers": ["+447911123456", "+4420*"],
            "overrides_dnd": True,
        },
        {"name": "after hours", "plan": "mobile only", "schedule_id": 10, "when": "closed"},
    ],
}


def test_desk_first_in_office_hours_then_add_mobile_then_voicemail() -> None:
    decision = evaluate(profile(OFFICE), IncomingCall("+33140000000"), TUESDAY_MORNING, ALL_LIVE)

    assert rings(decision) == [(1, 0, 35, False), (2, 0, 35, False), (3, 15, 35, False)]
    assert (decision.final, decision.final_at, decision.reason) == (
        FinalAction(FinalKind.VOICEMAIL),
        35,
        "no_answer",
    )
    assert (decision.plan, decision.rule) == ("office", None)
    assert decision.trace_lines() == [
        "Tue 2026-11-24 10:00 Europe/Paris (caller +33140000000).",
        "Rule 'VIP' did not match (caller +33140000000 not listed).",
        "Rule 'after hours' did not match (schedule 'office hours' is open).",
        "No rule matched: default plan 'office'.",
        "Stage 1 (add, 15 s from 0 s): Desk phone, Laptop.",
        "Stage 2 (add, 20 s from 15 s): Desk phone, Laptop, Mobile.",
        "Unanswered after 35 s: voicemail.",
    ]


def test_after_hours_straight_to_mobile_with_a_wake_up_push() -> None:
    decision = evaluate(
        profile(OFFICE), IncomingCall("+33140000000"), TUESDAY_EVENING, DESK_AND_LAPTOP_LIVE
    )

    assert rings(decision) == [(3, 0, 25, True)]
    assert decision.rule == "after hours"
    lines = decision.trace_lines()
    assert lines[0].startswith("Tue 2026-11-24 18:05")
    assert "Rule 'after hours' matched (schedule 'office hours' is closed)." in lines
    assert "Mobile is not registered: waking it with a push." in lines


def test_holiday_counts_as_after_hours() -> None:
    decision = evaluate(
        profile(OFFICE), IncomingCall("+33140000000"), paris(2026, 12, 25, 10, 0), ALL_LIVE
    )

    assert decision.rule == "after hours"


def test_vip_caller_rings_the_mobile_at_once_even_in_dnd() -> None:
    dnd = Treatment(dnd=True)

    vip = evaluate(
        profile(OFFICE, treatment=dnd), IncomingCall("+442071838750"), TUESDAY_MORNING, ALL_LIVE
    )
    other = evaluate(
        profile(OFFICE, treatment=dnd), IncomingCall("+33140000000"), TUESDAY_MORNING, ALL_LIVE
    )

    assert rings(vip) == [(3, 0, 25, False)]
    assert vip.rule == "VIP"
    assert (
        "Do-not-disturb is on, but rule 'VIP' lets this caller ring through." in vip.trace_lines()
    )
    assert (other.branches, other.reason, other.final.kind) == ((), "dnd", FinalKind.VOICEMAIL)


def test_mobile_only_for_field_staff() -> None:
    field = {
        "plans": [
            {
                "name": "field",
                "stages": [stage(30, kind("mobile_app"))],
                "final": {"action": "voicemail"},
            }
        ],
        "default_plan": "field",
    }

    decision = evaluate(profile(field), IncomingCall("+33140000000"), TUESDAY_MORNING, ALL_LIVE)

    assert rings(decision) == [(3, 0, 30, False)]


def test_replace_stops_what_rang_before() -> None:
    document = {
        "plans": [
            {
                "name": "p",
                "stages": [
                    stage(10, device(1), device(2)),
                    stage(10, device(3), mode="replace"),
                ],
                "final": {"action": "forward", "destination": "+33612345678"},
            }
        ],
        "default_plan": "p",
    }

    decision = evaluate(profile(document), IncomingCall(""), TUESDAY_MORNING, ALL_LIVE)

    assert rings(decision) == [(1, 0, 10, False), (2, 0, 10, False), (3, 10, 20, False)]
    assert decision.cuts == (10,)
    # No trunk yet: a forward to an outside number is not followed, and the trace says so.
    assert (decision.final, decision.final_at) == (FinalAction(FinalKind.VOICEMAIL), 20)
    assert (
        "Forward to +33612345678 not followed: calls to outside numbers need a trunk, and none"
        " is available yet." in decision.trace_lines()
    )


def test_a_replace_that_keeps_a_device_keeps_the_others_ringing_too() -> None:
    """What the engine can do: a device in both stages cannot ring on while the call's other
    branches are cancelled, so nothing is cancelled, and the trace says why."""
    document = {
        "plans": [
            {
                "name": "p",
                "stages": [
                    stage(10, device(1), device(2)),
                    stage(10, device(2), device(3), mode="replace"),
                ],
                "final": {"action": "voicemail"},
            }
        ],
        "default_plan": "p",
    }

    decision = evaluate(profile(document), IncomingCall(""), TUESDAY_MORNING, ALL_LIVE)

    assert rings(decision) == [(1, 0, 20, False), (2, 0, 20, False), (3, 10, 20, False)]
    assert (
        "Stage 2 replaces, but Laptop rings on into it, so the others ring on too: Desk phone."
        in (decision.trace_lines())
    )


def test_unreachable_devices_and_empty_stages_are_skipped() -> None:
    devices = (
        DeviceInfo(1, "desk_phone", "Desk phone", "dp1", enabled=False),
        DeviceInfo(2, "softphone", "Laptop", "sp2"),
        DeviceInfo(3, "mobile_app", "Mobile", "ma3", revoked=True),
    )
    document = {
        "plans": [
            {
                "name": "p",
                "stages": [
                    stage(15, kind("desk_phone")),
                    stage(10, kind("mobile_app")),
                    stage(20, kind("softphone")),
                ],
                "final": {"action": "voicemail"},
            }
        ],
        "default_plan": "p",
    }
    p = profile({**document}, devices=devices)

    decision = evaluate(p, IncomingCall(""), TUESDAY_MORNING, LiveState(frozenset({2})))
    nothing = evaluate(p, IncomingCall(""), TUESDAY_MORNING, LiveState())

    assert rings(decision) == [(2, 0, 20, False)]  # the caller does not wait 25 s for nothing
    assert "Desk phone skipped: disabled." in decision.trace_lines()
    assert "Mobile skipped: revoked." in decision.trace_lines()
    assert "Stage 1 skipped: nothing in it can ring." in decision.trace_lines()
    assert (nothing.branches, nothing.final_at, nothing.reason) == ((), 0, "nothing_reachable")
    assert "Laptop skipped: not registered." in nothing.trace_lines()


BOB_PHONE = DeviceInfo(21, "softphone", "Bob's laptop", "bob21")


def bob(document: dict, *, treatment: Treatment = NO_TREATMENT) -> Colleague:
    return Colleague(
        extension="202",
        name="Bob",
        routing=profile(document, devices=(BOB_PHONE,), treatment=treatment, owner=2),
        live=LiveState(frozenset({21})),
    )


def call_201(document: dict, colleague: Colleague) -> Decision:
    """A call to 201 (the profile's owner) on Tuesday morning, Bob answering 202."""
    return evaluate(
        profile(document),
        IncomingCall(""),
        TUESDAY_MORNING,
        ALL_LIVE,
        extension="201",
        colleagues={"202": colleague}.get,
    )


def only(plan_stages: list, final: dict) -> dict:
    return {
        "plans": [{"name": "p", "stages": plan_stages, "final": final}],
        "default_plan": "p",
    }


def test_an_extension_rings_the_colleagues_devices_per_their_plan_and_outside_numbers_wait() -> (
    None
):
    document = only(
        [
            stage(10, device(1)),
            stage(10, {"type": "extension", "extension": "202"}),
            stage(10, {"type": "external", "number": "+33 6 12 34 56 78"}),
        ],
        {"action": "unavailable"},
    )
    colleague = bob(only([stage(5, device(21)), stage(30, device(21))], {"action": "busy"}))

    decision = call_201(document, colleague)

    assert [(b.device_id, b.user_id, b.start, b.stop) for b in decision.branches] == [
        (1, 1, 0, 20),
        (21, 2, 10, 20),  # Bob's 35 s are clipped to the 10 s of the stage that rings 202
    ]
    assert (decision.final.kind, decision.final_at, decision.cuts) == (
        FinalKind.UNAVAILABLE,
        20,
        (),
    )
    lines = decision.trace_lines()
    assert "Extension 202 (Bob) rings from 10 s to 20 s, per their own routing." in lines
    assert (
        "+33612345678 skipped: calls to outside numbers need a trunk, and none is available yet."
        in lines
    )


def test_an_extension_in_do_not_disturb_rings_nothing() -> None:
    document = only(
        [stage(10, device(1), {"type": "extension", "extension": "202"})], {"action": "busy"}
    )
    colleague = bob(
        only([stage(10, device(21))], {"action": "busy"}), treatment=Treatment(dnd=True)
    )

    decision = call_201(document, colleague)

    assert rings(decision) == [(1, 0, 10, False)]
    assert "Extension 202 (Bob) rings none of their devices now." in decision.trace_lines()


def test_a_forward_follows_the_colleagues_whole_routing() -> None:
    document = only([stage(10, device(1))], {"action": "forward", "destination": "202"})
    colleague = bob(only([stage(15, device(21))], {"action": "voicemail"}))

    decision = call_201(document, colleague)

    assert rings(decision) == [(1, 0, 10, False), (21, 10, 25, False)]
    assert decision.cuts == (10,)
    assert (decision.final.kind, decision.final_at, decision.mailbox) == (
        FinalKind.VOICEMAIL,
        25,
        "202",
    )
    assert "Unanswered after 25 s: voicemail of 202." in decision.trace_lines()


def test_a_forward_loop_ends_at_the_guard_with_the_dialled_persons_voicemail() -> None:
    colleague = bob(
        only([stage(10, device(21))], {"action": "busy"}), treatment=Treatment(forward_always="201")
    )
    me = profile(OFFICE, treatment=Treatment(forward_always="202"))
    colleagues = {"202": colleague, "201": Colleague("201", "Alice", me, ALL_LIVE)}.get

    decision = evaluate(
        me, IncomingCall(""), TUESDAY_MORNING, ALL_LIVE, extension="201", colleagues=colleagues
    )

    assert (decision.branches, decision.final_at, decision.mailbox) == ((), 0, "201")
    assert decision.final.kind is FinalKind.VOICEMAIL
    assert (
        "Forwarding to 201 would loop (201 → 202 → 201): voicemail of 201 instead."
        in decision.trace_lines()
    )


def test_ring_time_is_capped_by_the_organisation() -> None:
    document = {
        "plans": [
            {
                "name": "p",
                "stages": [stage(60, device(1)), stage(60, device(2)), stage(60, device(3))],
                "final": {"action": "voicemail"},
            }
        ],
        "default_plan": "p",
    }

    decision = evaluate(profile(document, cap=90), IncomingCall(""), TUESDAY_MORNING, ALL_LIVE)

    assert rings(decision) == [(1, 0, 90, False), (2, 60, 90, False)]
    assert decision.final_at == 90
    assert (
        "Ring time capped at 90 s by the organisation: stages from 3 on are dropped."
        in decision.trace_lines()
    )


def test_busy_treatment() -> None:
    limited = Treatment(max_concurrent_calls=1)
    forwarding = Treatment(max_concurrent_calls=1, forward_on_busy="202")

    to_voicemail = evaluate(
        profile(OFFICE, treatment=limited),
        IncomingCall("", active_calls=1),
        TUESDAY_MORNING,
        ALL_LIVE,
    )
    forwarded = evaluate(
        profile(OFFICE, treatment=forwarding),
        IncomingCall("", active_calls=1),
        TUESDAY_MORNING,
        ALL_LIVE,
    )
    free = evaluate(
        profile(OFFICE, treatment=limited),
        IncomingCall("", active_calls=0),
        TUESDAY_MORNING,
        ALL_LIVE,
    )

    assert (to_voicemail.branches, to_voicemail.reason, to_voicemail.final.kind) == (
        (),
        "busy",
        FinalKind.VOICEMAIL,
    )
    # Nobody answers 202 here: the forward cannot be followed, the call goes to voicemail.
    assert (forwarded.final.kind, forwarded.branches) == (FinalKind.VOICEMAIL, ())
    assert "Extension 202 takes no calls: skipped." in forwarded.trace_lines()
    assert len(free.branches) == 3


def test_forward_on_no_answer_replaces_the_final_action() -> None:
    decision = evaluate(
        profile(OFFICE, treatment=Treatment(forward_on_no_answer="+33612345678")),
        IncomingCall(""),
        TUESDAY_MORNING,
        ALL_LIVE,
    )

    assert decision.final == FinalAction(FinalKind.VOICEMAIL)  # no trunk: not followed
    assert decision.final_at == 35


def test_dnd_until_expires() -> None:
    until = TUESDAY_MORNING + timedelta(minutes=30)
    p = profile(OFFICE, treatment=Treatment(dnd=True, dnd_until=until))

    assert evaluate(p, IncomingCall(""), until - timedelta(seconds=1), ALL_LIVE).reason == "dnd"
    assert evaluate(p, IncomingCall(""), until, ALL_LIVE).reason == "no_answer"


def test_anonymous_callers_can_be_matched() -> None:
    document = {
        **OFFICE,
        "plans": [*OFFICE["plans"], {"name": "reject", "stages": [], "final": {"action": "busy"}}],
        "rules": [{"name": "no withheld numbers", "plan": "reject", "callers": ["anonymous"]}],
    }

    withheld = evaluate(profile(document), IncomingCall(""), TUESDAY_MORNING, ALL_LIVE)
    shown = evaluate(profile(document), IncomingCall("+33140000000"), TUESDAY_MORNING, ALL_LIVE)

    assert (withheld.final.kind, withheld.branches) == (FinalKind.BUSY, ())
    assert shown.plan == "office"


# --- Invariants ---------------------------------------------------------------------------

KINDS = ("desk_phone", "softphone", "mobile_app", "web_softphone")

devices_strategy = st.lists(
    st.builds(
        lambda i, k, enabled, revoked, push: DeviceInfo(
            i, k, f"D{i}", f"u{i}", enabled, revoked, push
        ),
        st.just(0),
        st.sampled_from(KINDS),
        st.booleans(),
        st.booleans(),
        st.booleans(),
    ),
    min_size=0,
    max_size=6,
).map(
    lambda ds: tuple(
        DeviceInfo(n + 1, d.kind, f"D{n + 1}", f"u{n + 1}", d.enabled, d.revoked, d.push_capable)
        for n, d in enumerate(ds)
    )
)

target_strategy = st.one_of(
    st.builds(lambda i: Target(TargetType.DEVICE, i), st.integers(min_value=1, max_value=6)),
    st.builds(lambda k: Target(TargetType.DEVICE_KIND, k), st.sampled_from(KINDS)),
    st.builds(lambda n: Target(TargetType.EXTENSION, n), st.sampled_from(["202", "300"])),
)
stage_strategy = st.builds(
    lambda s, m, ts: Stage(s, m, tuple(dict.fromkeys(ts))),
    st.integers(min_value=5, max_value=120),
    st.sampled_from(list(StageMode)),
    st.lists(target_strategy, min_size=1, max_size=4),
)
plan_strategy = st.builds(
    lambda stages: RingPlan("p", tuple(stages), FinalAction(FinalKind.VOICEMAIL)),
    st.lists(stage_strategy, min_size=0, max_size=6),
)
treatment_strategy = st.builds(
    Treatment,
    dnd=st.booleans(),
    forward_always=st.one_of(st.none(), st.just("+33612345678"), st.just("202")),
    forward_on_busy=st.one_of(st.none(), st.just("202")),
    forward_on_no_answer=st.one_of(st.none(), st.just("300")),
    max_concurrent_calls=st.one_of(st.none(), st.integers(min_value=1, max_value=3)),
)
instants = st.datetimes(
    min_value=datetime(2026, 1, 1),  # noqa: DTZ001 - hypothesis wants naive bounds
    max_value=datetime(2027, 12, 31),  # noqa: DTZ001
    timezones=st.just(UTC),
)


@st.composite
def scenarios(draw):
    devices = draw(devices_strategy)
    plan = draw(plan_strategy)
    vip = Rule("vip", "p", callers=frozenset({"+447911123456"}), overrides_dnd=draw(st.booleans()))
    hours = Rule("hours", "p", schedule_id=10, when_open=draw(st.booleans()))
    profile_ = CompiledRouting(
        user_id=1,
        time_zone=draw(st.sampled_from(["Europe/Paris", "America/New_York", "Asia/Kolkata"])),
        max_ring_seconds=draw(st.integers(min_value=10, max_value=300)),
        document=RoutingDocument(plans={"p": plan}, default_plan="p", rules=(vip, hours)),
        schedules={10: OFFICE_HOURS},
        devices=devices,
        treatment=draw(treatment_strategy),
    )
    call = IncomingCall(
        draw(st.sampled_from(["", "+447911123456", "+33140000000"])), draw(st.integers(0, 4))
    )
    live = LiveState(frozenset(draw(st.sets(st.integers(min_value=1, max_value=6)))))
    return profile_, call, draw(instants), live


@settings(max_examples=400)
@given(scenarios())
def test_decision_invariants(scenario) -> None:
    p, call, instant, live = scenario
    decision = evaluate(p, call, instant, live)

    # Deterministic.
    assert evaluate(p, call, instant, live) == decision
    # Never longer than the organisation's cap; final action when the last branch stops.
    assert 0 <= decision.final_at <= p.max_ring_seconds
    for branch in decision.branches:
        assert 0 <= branch.start < branch.stop <= decision.final_at
    if decision.branches:
        assert decision.final_at == max(b.stop for b in decision.branches)
    # A device never rings twice at the same time.
    by_device: dict = {}
    for branch in decision.branches:
        by_device.setdefault(branch.device_id, []).append((branch.start, branch.stop))
    for intervals in by_device.values():
        intervals.sort()
        for (_, stop), (start, _) in itertools.pairwise(intervals):
            assert stop < start
    # Every early stop is a cut, and nothing rings across a cut (what the engine can do).
    assert decision.cuts == tuple(sorted({b.stop for b in decision.branches} - {decision.final_at}))
    for cut in decision.cuts:
        assert not any(b.start < cut < b.stop for b in decision.branches)
    # Only reachable devices ring; a device rings with a wake-up exactly when it is not registered.
    devices = {d.id: d for d in p.devices}
    for branch in decision.branches:
        dev = devices[branch.device_id]
        assert dev.enabled
        assert not dev.revoked
        assert dev.id in live.registered or dev.push_capable
        assert branch.wake is (dev.id not in live.registered)
    # Only what the engine can carry out: no forwards left, no outside numbers.
    assert decision.final.kind is not FinalKind.FORWARD
    # Forward-always to a colleague wins over everything (nobody answers 202 here: voicemail);
    # to an outside number it cannot be followed. DND wins unless a matching rule overrides it.
    if p.treatment.forward_always == "202":
        assert (decision.branches, decision.reason) == ((), "forward_always")
        assert decision.final.kind is FinalKind.VOICEMAIL
    elif p.treatment.dnd and not (decision.rule == "vip" and p.document.rules[0].overrides_dnd):
        assert (decision.branches, decision.reason) == ((), "dnd")
    # The trace always renders.
    assert all(isinstance(line, str) and line for line in decision.trace_lines())


def test_a_call_rings_at_most_what_the_engine_can_fork() -> None:
    many = tuple(DeviceInfo(n, "softphone", f"S{n}", f"s{n}") for n in range(1, 21))
    document = only([stage(10, kind("softphone"))], {"action": "busy"})

    decision = evaluate(
        profile(document, devices=many),
        IncomingCall(""),
        TUESDAY_MORNING,
        LiveState(frozenset(range(1, 21))),
    )

    assert [b.device_id for b in decision.branches] == list(range(1, 15))
    assert "S15 not rung: a call rings at most 14 branches." in decision.trace_lines()
