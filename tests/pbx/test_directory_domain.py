import pytest
from hypothesis import given
from hypothesis import strategies as st

from pbx.directory.domain import (
    InvalidValue,
    normalise_e164,
    normalise_sip_domain,
    transport_allowed,
    validate_extension_number,
    validate_time_zone,
)


@pytest.mark.parametrize(
    ("raw", "e164"),
    [
        ("+44 20 7183 8750", "+442071838750"),
        ("+1 (212) 555-0100", "+12125550100"),
        ("+33 6 12 34 56 78", "+33612345678"),
        ("  +4930123456  ", "+4930123456"),
    ],
)
def test_e164_normalisation(raw: str, e164: str) -> None:
    assert normalise_e164(raw) == e164
    assert normalise_e164(e164) == e164


@pytest.mark.parametrize(
    ("raw", "code"),
    [("020 7183 8750", "not_e164"), ("+44 20", "invalid_phone_number"), ("", "not_e164")],
)
def test_not_e164(raw: str, code: str) -> None:
    with pytest.raises(InvalidValue) as error:
        normalise_e164(raw)
    assert error.value.code == code


@given(st.from_regex(r"[1-9][0-9]{1,9}", fullmatch=True))
def test_valid_extension_numbers(number: str) -> None:
    assert validate_extension_number(number) == number


@pytest.mark.parametrize(
    "bad", ["1", "0123", "12345678901", "12a", " 123", "\uff11\uff12\uff13"]
)  # the last is full-width
def test_invalid_extension_numbers(bad: str) -> None:
    with pytest.raises(InvalidValue):
        validate_extension_number(bad)


@pytest.mark.parametrize(
    ("raw", "domain"), [("Acme.PBX.example.com.", "acme.pbx.example.com"), ("a-b.io", "a-b.io")]
)
def test_sip_domains(raw: str, domain: str) -> None:
    assert normalise_sip_domain(raw) == domain


@pytest.mark.parametrize(
    "bad",
    ["localhost", "192.0.2.1", "-acme.example.com", "a..b", "a_b.example.com", "x" * 64 + ".com"],
)
def test_bad_sip_domains(bad: str) -> None:
    with pytest.raises(InvalidValue):
        normalise_sip_domain(bad)


def test_time_zones() -> None:
    assert validate_time_zone("America/New_York") == "America/New_York"
    with pytest.raises(InvalidValue):
        validate_time_zone("Europe/Atlantis")


@pytest.mark.parametrize(
    ("policy", "transport", "allowed"),
    [
        ("any", "udp", True),
        ("any", "tls", True),
        ("tls_srtp_required", "udp", False),
        ("tls_srtp_required", "tcp", False),
        ("tls_srtp_required", "ws", False),
        ("tls_srtp_required", "tls", True),
        ("tls_srtp_required", "TLS", True),
        ("tls_srtp_required", "wss", True),
    ],
)
def test_which_transports_a_policy_allows(policy: str, transport: str, allowed: bool) -> None:
    assert transport_allowed(policy=policy, transport=transport) is allowed
