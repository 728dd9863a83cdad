import pytest
from django.core.management import call_command
from django.test import Client


def test_schema_generates_without_warnings(tmp_path) -> None:
    out = tmp_path / "openapi.yaml"

    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(out))

    text = out.read_text()
    for path in (
        "/api/v1/auth/tokens:",
        "/api/v1/devices/{id}/rotate-secret:",
        "/api/v1/devices/{id}/push-binding:",
        "/api/v1/me:",
        "/api/v1/calls:",
        "/api/v1/calls/{id}:",
        "/api/v1/audit:",
        "/api/v1/audit/export.csv:",
    ):
        assert path in text


@pytest.mark.django_db
def test_docs_are_served_without_a_cdn(member) -> None:
    client = Client()
    client.force_login(member)

    docs = client.get("/api/v1/docs")
    schema = client.get("/api/v1/schema", HTTP_ACCEPT="application/vnd.oai.openapi+json")

    assert docs.status_code == 200
    assert b"drf_spectacular_sidecar/swagger-ui-dist" in docs.content
    assert b"cdn." not in docs.content
    assert schema.status_code == 200
    assert schema.json()["info"]["title"] == "PBX API"
