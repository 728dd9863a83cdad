"""Pure rules of devices: digest credentials, networks, MAC addresses, push tokens."""

import hashlib
import ipaddress

import pytest
from hypothesis import given
from hypothesis import strategies as st

from devices.domain.credentials import (
    SECRET_LENGTH,
    digest_credentials,
    generate_secret,
    generate_sip_username,
    normalise_mac_address,
)
from devices.domain.push import (
    InvalidPushToken,
    PushProvider,
    contact_push_params,
    normalise_push_token,
)
from pbx.directory.networks import InvalidNetwork, address_allowed, normalise_networks


def test_ha1_matches_rfc_2617_example() -> None:
    # RFC 2617 section 3.5: Mufasa / testrealm@host.com / Circle Of Life
    digest = digest_credentials(
        username="Mufasa", realm="testrealm@host.com", secret="Circle Of Life"
    )

    assert digest.ha1 == "939e7578ed9e3c518a452acee763bce9"
    ha1b_input = b"Mufasa@testrealm@host.com:testrealm@host.com:Circle Of Life"
    assert digest.ha1b == hashlib.md5(ha1b_input).hexdigest()  # noqa: S324 - SIP digest is MD5


def test_secrets_are_long_random_and_unambiguous() -> None:
    secrets = {generate_secret() for _ in range(200)}

    assert len(secrets) == 200
    assert all(len(s) == SECRET_LENGTH for s in secrets)
    assert not set("".join(secrets)) & set("0O1lI")


def test_usernames_carry_the_kind_and_are_not_extension_numbers() -> None:
    assert generate_sip_username("desk_phone").startswith("dp")
    assert generate_sip_username("mobile_app").startswith("ma")
    assert not any(generate_sip_username("softphone").isdigit() for _ in range(50))


@given(st.binary(min_size=6, max_size=6), st.sampled_from([":", "-", ".", ""]), st.booleans())
def test_mac_normalisation_accepts_common_spellings(raw: bytes, sep: str, upper: bool) -> None:
    hexpairs = [f"{b:02x}" for b in raw]
    text = (
        sep.join(hexpairs)
        if sep != "."
        else ".".join("".join(hexpairs[i : i + 2]) for i in (0, 2, 4))
    )
    if upper:
        text = text.upper()

    assert normalise_mac_address(text) == ":".join(hexpairs)


@pytest.mark.parametrize("bad", ["", "00:11:22:33:44", "00:11:22:33:44:55:66", "zz:11:22:33:44:55"])
def test_bad_mac_addresses(bad: str) -> None:
    with pytest.raises(ValueError, match="MAC"):
        normalise_mac_address(bad)


@given(
    st.lists(
        st.ip_addresses(v=4).map(lambda a: str(ipaddress.ip_network(f"{a}/24", strict=False))),
        max_size=10,
    )
)
def test_network_normalisation_is_idempotent(networks: list[str]) -> None:
    once = normalise_networks(networks)

    assert normalise_networks(once) == once
    assert len(once) == len(set(networks))


@given(st.ip_addresses(v=4), st.integers(min_value=8, max_value=32))
def test_an_address_is_allowed_exactly_inside_its_network(
    address: ipaddress.IPv4Address, prefix: int
) -> None:
    network = ipaddress.ip_network(f"{address}/{prefix}", strict=False)

    assert address_allowed(str(address), [str(network)])
    assert address_allowed(str(address), [], [str(network)])
    last = int(network.broadcast_address)
    if last < 2**32 - 1:  # the first address after the network is outside it
        assert not address_allowed(str(ipaddress.IPv4Address(last + 1)), [str(network)])
    if int(network.network_address) > 0:  # and so is the one before
        before = ipaddress.IPv4Address(int(network.network_address) - 1)
        assert not address_allowed(str(before), [str(network)])


def test_both_lists_must_allow() -> None:
    tenant, device = ["10.0.0.0/8"], ["10.1.0.0/16"]

    assert address_allowed("10.1.2.3", tenant, device)
    assert not address_allowed("10.2.0.1", tenant, device)
    assert address_allowed("2001:db8::1", [], [])


@pytest.mark.parametrize("bad", ["10.0.0.1/8", "10.0.0.0/33", "host", "::1/129"])
def test_bad_networks(bad: str) -> None:
    with pytest.raises(InvalidNetwork):
        normalise_networks([bad])


def test_push_tokens() -> None:
    assert normalise_push_token(PushProvider.APNS, " " + "AB" * 32 + " ") == "ab" * 32
    with pytest.raises(InvalidPushToken):
        normalise_push_token(PushProvider.APNS, "ab" * 31)
    with pytest.raises(InvalidPushToken):
        normalise_push_token(PushProvider.FCM, "has spaces in the token body")


@pytest.mark.parametrize(
    ("contact", "expected"),
    [
        (
            "sip:u@10.0.0.1:5060;pn-provider=apns;pn-prid=" + "AB" * 32 + ":voip"
            ";pn-param=ABCD1234.com.example.phone.voip",
            ("apns", "ab" * 32, "com.example.phone", False),
        ),
        (
            "<sip:u@10.0.0.1;transport=tcp;pn-provider=apns.dev;pn-prid=" + "ff" * 32 + ""
            ";pn-param=TEAM.com.example.phone.voip>",
            ("apns", "ff" * 32, "com.example.phone", True),
        ),
        (
            "sip:u@10.0.0.1;pn-provider=fcm;pn-prid=fcm-token%3A"
            + "x" * 20
            + ";pn-param=my-project",
            ("fcm", "fcm-token:" + "x" * 20, "my-project", False),
        ),
    ],
)
def test_rfc8599_push_parameters_are_read_from_the_contact(contact: str, expected) -> None:
    params = contact_push_params(contact)

    assert params is not None
    assert (params.provider.value, params.token, params.app_id, params.sandbox) == expected


@pytest.mark.parametrize(
    "contact",
    [
        "sip:u@10.0.0.1:5060",
        "sip:u@10.0.0.1;pn-provider=webpush;pn-prid=x;pn-param=y",  # not a provider we send to
        "sip:u@10.0.0.1;pn-provider=fcm;pn-param=project",  # no token
        "sip:u@10.0.0.1;pn-provider=fcm;pn-prid=token",  # no project
        "sip:u@10.0.0.1;pn-provider=apns;pn-prid=ff00;pn-param=T.com.example.a.voip",  # short
    ],
)
def test_contacts_without_usable_push_parameters(contact: str) -> None:
    assert contact_push_params(contact) is None
