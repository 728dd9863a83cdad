"""Lockout per account and per address on every sign-in surface, against the real Redis
(thresholds from tests/accounts/conftest.py: 3 failures lock an account, 4 an address)."""

import re

import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

from pbx.accounts import attempts
from pbx.directory.models import User
from tests.accounts.counting_hasher import CountingHasher
from tests.accounts.surfaces import SURFACES
from tests.factories import PASSWORD, UserFactory, totp_code, totp_device

pytestmark = pytest.mark.django_db
WRONG = "wrong-password-123"


@pytest.fixture
def person(tenant) -> dict[str, User]:
    """Whom each surface signs in: a member for the API and portal, staff for the admin."""
    staff = UserFactory(tenant=None, role=User.Role.PLATFORM_ADMIN)
    totp_device(staff)
    member = UserFactory(tenant=tenant)
    return {"api": member, "portal": member, "admin": staff}


@pytest.mark.parametrize("surface", list(SURFACES))
def test_an_account_guessed_from_many_addresses_locks_for_every_new_address(
    surface: str, person
) -> None:
    attempt = SURFACES[surface]
    email = person[surface].email

    guesses = [attempt(f"198.51.100.{n}", email, WRONG).outcome for n in range(1, 4)]
    right_password_elsewhere = attempt("198.51.100.50", email, PASSWORD)
    other_account = attempt("198.51.100.1", UserFactory().email, PASSWORD)

    assert guesses == ["wrong", "wrong", "locked"]  # the failure that reaches it says so
    assert right_password_elsewhere.outcome == "locked"
    assert b"Try again in 60 seconds" in right_password_elsewhere.body
    assert other_account.outcome == ("wrong" if surface == "admin" else "ok")


@pytest.mark.parametrize("surface", list(SURFACES))
def test_an_address_spraying_many_accounts_locks_for_every_account(surface: str, person) -> None:
    attempt = SURFACES[surface]
    sprayed = [UserFactory().email for _ in range(4)]

    guesses = [attempt("203.0.113.9", email, WRONG).outcome for email in sprayed]
    right_password = attempt("203.0.113.9", person[surface].email, PASSWORD)
    elsewhere = attempt("203.0.113.10", person[surface].email, PASSWORD)

    assert guesses == ["wrong", "wrong", "wrong", "locked"]
    assert right_password.outcome == "locked"
    assert elsewhere.outcome == "ok"


def _without_csrf(body: bytes) -> bytes:
    return re.sub(rb'name="csrfmiddlewaretoken" value="[^"]+"', b"", body)


@pytest.mark.parametrize("surface", list(SURFACES))
def test_an_unknown_account_is_answered_like_a_known_one_with_a_wrong_password(
    surface: str, person
) -> None:
    attempt = SURFACES[surface]
    known = person[surface].email
    unknown = "nobody-here@example.com"

    pairs = [
        (attempt("192.0.2.1", known, WRONG), attempt("192.0.2.2", unknown, WRONG)) for _ in range(4)
    ]

    for known_answer, unknown_answer in pairs:
        assert known_answer.status == unknown_answer.status
        assert _without_csrf(known_answer.body).replace(known.encode(), b"EMAIL") == _without_csrf(
            unknown_answer.body
        ).replace(unknown.encode(), b"EMAIL")
    assert [known for known, _ in pairs][-1].outcome == "locked"  # both lock alike
    assert [unknown for _, unknown in pairs][-1].outcome == "locked"


@pytest.mark.parametrize("surface", list(SURFACES))
def test_a_success_forgives_that_address_its_failures_for_the_account(surface: str, person) -> None:
    attempt = SURFACES[surface]
    email = person[surface].email

    before = [attempt("192.0.2.7", email, WRONG).outcome for _ in range(2)]
    success = attempt("192.0.2.7", email, PASSWORD)
    after = [attempt("192.0.2.7", email, WRONG).outcome for _ in range(2)]
    third = attempt("192.0.2.7", email, WRONG)

    assert before == ["wrong", "wrong"]
    assert success.outcome == "ok"
    if surface == "admin":  # staff have a code to give: the password alone is not a success
        assert success.location == "/admin/login/code"
        assert after == ["locked", "locked"]
        return
    assert after == ["wrong", "wrong"]
    assert third.outcome == "locked"


def test_wrong_codes_count_as_failures(member: User) -> None:
    device = totp_device(member)
    api = SURFACES["api"]

    wrong_codes = [api(f"192.0.2.{n}", member.email, PASSWORD, otp="000000") for n in (1, 2, 3)]
    right_code = api("192.0.2.4", member.email, PASSWORD, otp=totp_code(device))

    assert [a.body for a in wrong_codes[:2]] == [
        b'{"code":"otp_invalid","detail":"That code is not right."}'
    ] * 2
    assert wrong_codes[2].outcome == "locked"
    assert right_code.outcome == "locked"


def test_the_api_answers_a_lock_with_retry_after(member: User) -> None:
    for n in range(3):
        SURFACES["api"](f"192.0.2.{n}", member.email, WRONG)

    response = APIClient(REMOTE_ADDR="192.0.2.99").post(
        "/api/v1/auth/tokens", {"email": member.email, "password": PASSWORD}, format="json"
    )

    assert response.status_code == 429
    assert response.json() == {
        "code": "login_locked",
        "detail": "Too many failed sign-ins. Try again in 60 seconds.",
        "retry_after": 60,
    }
    assert response["Retry-After"] == "60"


def test_each_lock_of_the_same_account_lasts_twice_as_long() -> None:
    account = attempts.account_subject("target@example.com")

    first = [attempts.sign_in_failed(account=account, address=f"10.0.0.{n}") for n in range(3)]
    cache.delete(f"signin:lock:account:{account}")  # the first lock served
    second = [attempts.sign_in_failed(account=account, address=f"10.0.1.{n}") for n in range(3)]

    assert [r.retry_after if r else 0 for r in first] == [0, 0, 60]
    assert [r.retry_after if r else 0 for r in second] == [0, 0, 120]
    assert attempts.sign_in_refusal(account=account, address="10.9.9.9").retry_after == 120


def test_counters_expire_in_redis(settings) -> None:
    account = attempts.account_subject("ttl@example.com")
    attempts.sign_in_failed(account=account, address="10.0.0.1")
    client = cache._cache.get_client()  # the real Redis behind the cache

    ttls = {
        key.decode().split(":", 2)[2]: client.ttl(key)  # less "pbx:1:"
        for key in client.keys(f"*signin:*{account}*")
    }

    assert set(ttls) == {
        f"signin:fail:account:{account}",
        f"signin:pair:{account}:10.0.0.1",
    }
    assert all(0 < ttl <= settings.PBX_LOGIN_FAILURE_WINDOW for ttl in ttls.values())


def test_an_address_that_signed_in_before_is_not_shut_out_by_its_accounts_lock(
    member: User,
) -> None:
    api = SURFACES["api"]
    assert api("192.0.2.200", member.email, PASSWORD).outcome == "ok"  # the person's office

    attacks = [api(f"198.51.100.{n}", member.email, WRONG).outcome for n in range(1, 5)]
    office = api("192.0.2.200", member.email, PASSWORD)

    assert attacks == ["wrong", "wrong", "locked", "locked"]
    assert office.outcome == "ok"


@pytest.mark.parametrize("surface", list(SURFACES))
def test_every_answer_costs_one_password_hash(surface: str, person, settings) -> None:
    """Unknown account, known account with a wrong password, and a locked account: each
    computes one hash, so the time of the answer tells nothing."""
    settings.PASSWORD_HASHERS = ["tests.accounts.counting_hasher.CountingHasher"]
    attempt = SURFACES[surface]

    def hashes(email: str, address: str) -> int:
        before = CountingHasher.calls
        attempt(address, email, WRONG)
        return CountingHasher.calls - before

    unknown = hashes("nobody-here@example.com", "192.0.2.1")
    known = [hashes(person[surface].email, f"192.0.2.{n}") for n in (2, 3, 4)]  # the 3rd locks
    locked = hashes(person[surface].email, "192.0.2.5")

    assert (unknown, known, locked) == (1, [1, 1, 1], 1)


def test_the_browsable_apis_sign_in_is_the_portals(client) -> None:
    response = client.get("/api-auth/login/?next=/api/v1/me")

    assert response.status_code == 302
    assert response["Location"] == "/portal/login/?next=/api/v1/me"
