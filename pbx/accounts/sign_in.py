"""Signing in, the same rules on every surface (API, portal, admin): a lock check first, the
password, then the second factor; every wrong password or code counts against the account and
the address (pbx.accounts.attempts).

An unknown account is answered exactly like a known one with a wrong password: the same error,
counted and locked the same way (its counters are keyed by the e-mail, existing or not), and
Django's ModelBackend hashes the password for unknown accounts too, so timing tells nothing.
"""

from dataclasses import dataclass

from django.contrib.auth import authenticate
from django.contrib.auth.hashers import make_password
from django.http import HttpRequest
from django_otp.models import Device

from pbx.accounts import attempts, second_factor
from pbx.accounts.lockout import address_subject
from pbx.audit.actors import Actor
from pbx.directory.models import User
from pbx.errors import DomainError, TooManyAttempts, Unauthenticated

WRONG_CREDENTIALS = "Wrong e-mail or password."


class SignInLocked(TooManyAttempts):
    """Too many failures for this account or from this address: refused for `retry_after`
    seconds, whatever the password."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(
            f"Too many failed sign-ins. Try again in {retry_after} seconds.",
            retry_after=retry_after,
            code="login_locked",
        )


class SecondFactorNeeded(Unauthenticated):
    """The password is right; a code from the authenticator app (or a recovery code) is
    missing (`otp_required`) or wrong (`otp_invalid`), or the account must enrol first
    (`otp_enrolment_required`)."""


@dataclass(frozen=True)
class PasswordAccepted:
    user: User
    needs_code: bool  # enrolled: the second step asks for a code
    needs_enrolment: bool  # must use a second factor and has none yet


def client_address(request: HttpRequest) -> str:
    """Whom the address counters count: REMOTE_ADDR (behind the reverse proxy, uvicorn
    --proxy-headers sets it to the client; never trust a client's own X-Forwarded-For), an
    IPv6 address by its /64."""
    return address_subject(str(request.META.get("REMOTE_ADDR") or ""))


def _refuse_if_locked(account: str, address: str) -> None:
    refusal = attempts.sign_in_refusal(account=account, address=address)
    if refusal is not None:
        raise SignInLocked(refusal.retry_after)


def _failed(account: str, address: str) -> None:
    refusal = attempts.sign_in_failed(account=account, address=address)
    if refusal is not None:
        raise SignInLocked(refusal.retry_after)


def password_check(
    *, request: HttpRequest, email: str, password: str, staff_only: bool = False
) -> PasswordAccepted:
    """Step one. Raises SignInLocked or Unauthenticated(`invalid_credentials`)."""
    account = attempts.account_subject(email)
    address = client_address(request)
    try:
        _refuse_if_locked(account, address)
    except SignInLocked:
        make_password(password)  # a refusal costs what an answer costs
        raise
    user = authenticate(request, username=email, password=password)
    if not isinstance(user, User) or (staff_only and not user.is_platform_admin):
        _failed(account, address)
        raise Unauthenticated(WRONG_CREDENTIALS, code="invalid_credentials")
    enrolled = second_factor.second_factor_enrolled(user)
    return PasswordAccepted(
        user=user,
        needs_code=enrolled,
        needs_enrolment=not enrolled and second_factor.second_factor_required(user),
    )


def code_check(*, request: HttpRequest, user: User, code: str) -> Device:
    """Step two: a code for a user whose password was accepted. A wrong code is a failure."""
    account = attempts.account_subject(user.email)
    address = client_address(request)
    _refuse_if_locked(account, address)
    device = second_factor.second_factor_verify(user=user, code=code)
    if device is None:
        _failed(account, address)
        raise SecondFactorNeeded("That code is not right.", code="otp_invalid")
    return device


def enrolment_check(
    *, request: HttpRequest, user: User, code: str, actor: Actor
) -> tuple[Device, list[str]]:
    """Step two for someone who must enrol: the first code confirms the authenticator.
    Returns it and the recovery codes (shown once)."""
    account = attempts.account_subject(user.email)
    address = client_address(request)
    _refuse_if_locked(account, address)
    try:
        return second_factor.totp_enrolment_confirm(user=user, code=code, actor=actor)
    except DomainError:
        _failed(account, address)
        raise


def sign_in_done(*, request: HttpRequest, user: User) -> None:
    """Every step passed: forgive this address's failures for the account."""
    attempts.sign_in_succeeded(
        account=attempts.account_subject(user.email), address=client_address(request)
    )


def api_sign_in(*, request: HttpRequest, email: str, password: str, otp: str) -> PasswordAccepted:
    """Both steps in one request, for apps: the code travels with the password. Returns what
    was accepted (`needs_code`: a code was given and verified)."""
    accepted = password_check(request=request, email=email, password=password)
    if accepted.needs_enrolment:
        raise SecondFactorNeeded(
            "This account must set up two-step sign-in in the portal first.",
            code="otp_enrolment_required",
        )
    if accepted.needs_code:
        if not otp.strip():
            raise SecondFactorNeeded(
                "Enter the code from your authenticator app (field `otp`).", code="otp_required"
            )
        code_check(request=request, user=accepted.user, code=otp)
    sign_in_done(request=request, user=accepted.user)
    return accepted


def api_session_allowed(*, user: User, opened_with_code: bool) -> bool:
    """An API session opened without a code serves only someone who still needs none: it
    stops when they enrol or become an administrator (and sessions from before two-step
    sign-in stop for everyone who has or needs a second factor)."""
    if opened_with_code:
        return True
    return not (
        second_factor.second_factor_required(user) or second_factor.second_factor_enrolled(user)
    )
