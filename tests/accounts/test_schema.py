"""The OpenAPI document tells apps about the second factor and the lockout of API sign-in."""

from drf_spectacular.generators import SchemaGenerator


def test_sign_in_documents_otp_and_its_refusals() -> None:
    schema = SchemaGenerator().get_schema(request=None, public=True)
    operation = schema["paths"]["/api/v1/auth/tokens"]["post"]
    login_input = schema["components"]["schemas"]["LoginInputRequest"]

    # 400 and 415 as every operation with a body (pbx/api/openapi.py)
    assert set(operation["responses"]) == {"201", "400", "401", "415", "429"}
    refused = operation["responses"]["401"]["description"]
    for code in ("invalid_credentials", "otp_required", "otp_invalid", "otp_enrolment_required"):
        assert f"`{code}`" in refused
    assert "`login_locked`" in operation["responses"]["429"]["description"]
    locked = operation["responses"]["429"]["content"]["application/json"]["schema"]["$ref"]
    assert schema["components"]["schemas"][locked.rsplit("/", 1)[1]]["required"] == [
        "code",
        "detail",
        "retry_after",
    ]
    assert login_input["properties"]["otp"]["maxLength"] == 32
    assert "otp" not in login_input.get("required", [])
