"""Routing documents: canonical form round-trips; validation reports every problem at once."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from routing.domain.documents import (
    DocumentContext,
    DocumentInvalid,
    dump_routing_document,
    parse_routing_document,
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

CTX = DocumentContext(
    owner_id=1,
    device_owners={1: (1, False), 2: (1, False), 3: (1, False)},
    schedule_ids={10, 11},
    extensions={"202", "300"},
    own_extensions={"201"},
    outside_numbers=True,  # what a stored document may hold (saving refuses them: no trunk)
)

targets = st.one_of(
    st.builds(lambda i: Target(TargetType.DEVICE, i), st.sampled_from([1, 2, 3])),
    st.builds(
        lambda k: Target(TargetType.DEVICE_KIND, k), st.sampled_from(["desk_phone", "mobile_app"])
    ),
    st.builds(lambda n: Target(TargetType.EXTENSION, n), st.sampled_from(["202", "300"])),
    st.builds(
        lambda n: Target(TargetType.EXTERNAL, n), st.sampled_from(["+33612345678", "+12125550100"])
    ),
)
stages = st.builds(
    lambda s, m, ts: Stage(s, m, tuple(dict.fromkeys(ts))),
    st.integers(5, 120),
    st.sampled_from(list(StageMode)),
    st.lists(targets, min_size=1, max_size=5),
)
finals = st.one_of(
    st.builds(
        FinalAction, st.sampled_from([FinalKind.VOICEMAIL, FinalKind.BUSY, FinalKind.UNAVAILABLE])
    ),
    st.builds(
        lambda d: FinalAction(FinalKind.FORWARD, d), st.sampled_from(["202", "+33612345678"])
    ),
)


@st.composite
def documents(draw) -> RoutingDocument:
    names = draw(
        st.lists(
            st.sampled_from(["office", "mobile", "night", "vip"]),
            min_size=1,
            max_size=4,
            unique=True,
        )
    )
    plans = {n: RingPlan(n, tuple(draw(st.lists(stages, max_size=4))), draw(finals)) for n in names}
    rules = tuple(
        Rule(
            name=f"rule {i}",
            plan=draw(st.sampled_from(names)),
            schedule_id=draw(st.sampled_from([10, 11])),
            when_open=draw(st.booleans()),
            callers=frozenset(
                draw(st.lists(st.sampled_from(["+33612345678", "anonymous"]), max_size=2))
            ),
            caller_prefixes=tuple(
                draw(st.lists(st.sampled_from(["+4420", "+1212"]), max_size=2, unique=True))
            ),
            overrides_dnd=draw(st.booleans()),
            enabled=draw(st.booleans()),
        )
        for i in range(draw(st.integers(0, 4)))
    )
    return RoutingDocument(plans=plans, default_plan=draw(st.sampled_from(names)), rules=rules)


@given(documents())
def test_canonical_form_round_trips(document: RoutingDocument) -> None:
    dumped = dump_routing_document(document)

    assert parse_routing_document(dumped, CTX) == document
    assert dump_routing_document(parse_routing_document(dumped, CTX)) == dumped


def test_every_problem_is_reported_at_once() -> None:
    raw = {
        "plans": [
            {
                "name": "",
                "stages": [{"seconds": 1, "targets": [{"type": "device", "device_id": 9}]}],
                "final": {},
            },
        ],
        "default_plan": "x",
        "rules": "not a list",
    }

    with pytest.raises(DocumentInvalid) as error:
        parse_routing_document(raw, CTX)

    assert {path: [code for code, _ in items] for path, items in error.value.errors.items()} == {
        "plans.0.name": ["required"],
        "plans.0.stages.0.seconds": ["out_of_range"],
        "plans.0.stages.0.targets.0.device_id": ["unknown_device"],
        "plans.0.final.action": ["invalid_choice"],
        "default_plan": ["unknown_plan"],
        "rules": ["invalid"],
    }


@pytest.mark.parametrize("raw", [None, [], "doc", 3])
def test_a_document_is_an_object(raw) -> None:
    with pytest.raises(DocumentInvalid) as error:
        parse_routing_document(raw, CTX)

    assert error.value.errors == {
        "non_field_errors": [("invalid", "A routing document is an object.")]
    }


def test_limits_keep_documents_small() -> None:
    many_stages = [{"seconds": 5, "targets": [{"type": "device_kind", "kind": "desk_phone"}]}] * 11
    raw = {
        "plans": [{"name": "p", "stages": many_stages, "final": {"action": "busy"}}],
        "default_plan": "p",
    }

    with pytest.raises(DocumentInvalid) as error:
        parse_routing_document(raw, CTX)

    assert error.value.errors["plans.0.stages"][0][0] == "max_length"


def test_outside_numbers_are_refused_until_trunks_exist() -> None:
    strict = DocumentContext(
        owner_id=1, device_owners={}, schedule_ids=set(), extensions={"202"}, own_extensions=set()
    )
    raw = {
        "plans": [
            {
                "name": "p",
                "stages": [
                    {"seconds": 10, "targets": [{"type": "external", "number": "+33612345678"}]}
                ],
                "final": {"action": "forward", "destination": "+33612345678"},
            }
        ],
        "default_plan": "p",
    }
    with pytest.raises(DocumentInvalid) as refused:
        parse_routing_document(raw, strict)
    assert {
        path: [code for code, _ in problems] for path, problems in refused.value.errors.items()
    } == {
        "plans.0.stages.0.targets.0.number": ["no_trunk"],
        "plans.0.final.destination": ["no_trunk"],
    }
