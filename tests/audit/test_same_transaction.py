"""A change and its entry commit or roll back together."""

import pytest
from django.db import DataError

from pbx.audit.actors import SYSTEM, Actor
from pbx.audit.models import AuditEntry
from pbx.audit.services import audit_change
from pbx.directory.models import Extension
from tests.factories import ExtensionFactory

pytestmark = pytest.mark.django_db


def _write_then_fail(extension: Extension) -> None:
    Extension.objects.filter(pk=extension.pk).update(display_name="Changed")
    raise RuntimeError("the service failed after writing")


def test_a_failed_change_writes_no_entry() -> None:
    extension = ExtensionFactory(display_name="Front desk")

    with (
        pytest.raises(RuntimeError),
        audit_change(actor=SYSTEM, model=Extension, lookup={"pk": extension.pk}),
    ):
        _write_then_fail(extension)

    extension.refresh_from_db()
    assert extension.display_name == "Front desk"
    assert AuditEntry.objects.count() == 0


def test_an_entry_that_cannot_be_written_undoes_the_change() -> None:
    extension = ExtensionFactory(display_name="Front desk")
    broken = Actor(channel="no-such-channel", label="system")  # longer than the column: refused

    with (
        pytest.raises(DataError),
        audit_change(actor=broken, model=Extension, lookup={"pk": extension.pk}),
    ):
        Extension.objects.filter(pk=extension.pk).update(display_name="Changed")

    extension.refresh_from_db()
    assert extension.display_name == "Front desk"
    assert AuditEntry.objects.count() == 0


def test_the_entry_reads_the_object_from_the_database() -> None:
    extension = ExtensionFactory(display_name="Front desk")

    with audit_change(actor=SYSTEM, model=Extension, lookup={"pk": extension.pk}):
        extension.display_name = "Reception"  # the caller's instance alone changes nothing
    with audit_change(actor=SYSTEM, model=Extension, lookup={"pk": extension.pk}):
        extension.save()

    [entry] = AuditEntry.objects.all()
    assert entry.changes == {"display_name": {"before": "Front desk", "after": "Reception"}}
