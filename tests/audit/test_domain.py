"""The diff: only changed fields, secrets as a marker, never their value (no database)."""

from django.apps import apps
from hypothesis import given
from hypothesis import strategies as st

from pbx.audit.domain import SECRET_CHANGED, SECRET_FIELDS, changes_between, describe_changes


def test_only_changed_fields_and_sorted() -> None:
    changes = changes_between(
        {"label": "Desk", "enabled": True, "model": "T46"},
        {"label": "Hall", "enabled": True, "model": None},
    )

    assert changes == {
        "label": {"before": "Desk", "after": "Hall"},
        "model": {"before": "T46", "after": None},
    }
    assert list(changes) == ["label", "model"]


def test_a_create_and_a_delete() -> None:
    assert changes_between({}, {"label": "Desk", "ha1": "abc"}) == {
        "ha1": SECRET_CHANGED,
        "label": {"before": None, "after": "Desk"},
    }
    assert changes_between({"label": "Desk"}, {}) == {"label": {"before": "Desk", "after": None}}


def test_secrets_are_a_marker_and_unchanged_secrets_are_absent() -> None:
    assert changes_between(
        {"ha1": "a" * 32, "ha1b": "b" * 32, "password": "md5$x"},
        {"ha1": "c" * 32, "ha1b": "b" * 32, "password": "md5$y"},
    ) == {"ha1": SECRET_CHANGED, "password": SECRET_CHANGED}
    assert changes_between({"note": "x"}, {"note": "y"}, secrets={"note"}) == {
        "note": SECRET_CHANGED
    }


_SECRET_VALUES = st.text(alphabet="0123456789abcdef", min_size=12).map(lambda v: "S3CR3T" + v)


@given(
    before=st.dictionaries(st.sampled_from(sorted(SECRET_FIELDS)), _SECRET_VALUES),
    after=st.dictionaries(st.sampled_from(sorted(SECRET_FIELDS)), _SECRET_VALUES),
    label=st.text(max_size=20),
)
def test_no_secret_value_survives_the_diff(
    before: dict[str, str], after: dict[str, str], label: str
) -> None:
    changes = changes_between({**before, "label": label}, {**after, "label": label + "!"})

    text = repr(changes) + describe_changes(changes)

    assert "S3CR3T" not in text
    assert set(changes) - {"label"} == {
        name for name in set(before) | set(after) if before.get(name) != after.get(name)
    }
    assert all(changes[name] == SECRET_CHANGED for name in set(changes) - {"label"})


def test_describe() -> None:
    assert (
        describe_changes({"label": {"before": "Desk", "after": "Hall"}, "ha1": SECRET_CHANGED})
        == "label: 'Desk' -> 'Hall'; ha1: [secret changed]"
    )


# When a secret changed, and a tenant's PIN rules: no secret in them.
HARMLESS = {"secret_rotated_at", "pin_min_length", "pin_max_attempts", "pin_lockout_seconds"}


def test_every_field_that_looks_secret_is_redacted() -> None:
    """A new field named like a secret must join SECRET_FIELDS (or be declared harmless)."""
    looks_secret = {
        field.attname
        for model in apps.get_models()
        if model.__module__.split(".")[0] in ("pbx", "devices", "routing", "voicemail")
        for field in model._meta.concrete_fields
        if any(
            word in field.attname for word in ("hash", "secret", "token", "password", "ha1", "pin")
        )
    }

    assert looks_secret - HARMLESS - SECRET_FIELDS == set()
    assert {"ha1", "pin_hash", "refresh_hash"} <= looks_secret
