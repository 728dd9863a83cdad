"""Open, refresh and revoke API sessions."""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from pbx.accounts.sign_in import api_session_allowed
from pbx.directory.models import User
from pbx.errors import Unauthenticated
from pbx.tokens.models import AccessToken, ApiSession
from pbx.tokens.token_format import ACCESS_PREFIX, REFRESH_PREFIX, new_token, token_hash


class RefreshRefused(Unauthenticated):
    """The refresh token cannot be used; `code` says why. Rendered as 401."""


@dataclass(frozen=True)
class TokenPair:
    session: ApiSession
    access_token: str
    access_expires_at: datetime
    refresh_token: str
    refresh_expires_at: datetime


def _issue_access(session: ApiSession, now: datetime) -> tuple[str, datetime]:
    token = new_token(ACCESS_PREFIX)
    expires_at = now + timedelta(seconds=settings.PBX_ACCESS_TOKEN_TTL)
    AccessToken.objects.create(session=session, token_hash=token_hash(token), expires_at=expires_at)
    return token, expires_at


@transaction.atomic
def api_session_open(
    *, user: User, client_name: str = "", user_agent: str = "", second_factor: bool = True
) -> TokenPair:
    """`second_factor`: the sign-in gave a verified code (see api_session_allowed)."""
    now = timezone.now()
    refresh = new_token(REFRESH_PREFIX)
    session = ApiSession.objects.create(
        user=user,
        client_name=client_name[:80],
        user_agent=user_agent[:256],
        refresh_hash=token_hash(refresh),
        refresh_expires_at=now + timedelta(seconds=settings.PBX_REFRESH_TOKEN_TTL),
        second_factor=second_factor,
    )
    access, access_expires_at = _issue_access(session, now)
    return TokenPair(session, access, access_expires_at, refresh, session.refresh_expires_at)


def api_session_refresh(*, refresh_token: str) -> TokenPair:
    """Rotate the refresh token. Presenting the previous one again means it was stolen or
    replayed: the whole session is revoked (OAuth 2.0 Security BCP, refresh token rotation)."""
    digest = token_hash(refresh_token)
    now = timezone.now()
    replayed: ApiSession | None = None
    with transaction.atomic():
        session = (
            ApiSession.objects.select_for_update()
            .select_related("user")
            .filter(refresh_hash=digest)
            .first()
        )
        if session is None:
            replayed = (
                ApiSession.objects.select_for_update().filter(previous_refresh_hash=digest).first()
            )
            if replayed is not None and replayed.revoked_at is None:
                # Revoke (committed when this block exits), then refuse below.
                _revoke(replayed, reason="refresh_token_reused", now=now)
        if session is not None:
            _check_usable(session, now)
            refresh = new_token(REFRESH_PREFIX)
            session.previous_refresh_hash = session.refresh_hash
            session.refresh_hash = token_hash(refresh)
            session.refresh_expires_at = now + timedelta(seconds=settings.PBX_REFRESH_TOKEN_TTL)
            session.last_refreshed_at = now
            session.save(
                update_fields=[
                    "previous_refresh_hash",
                    "refresh_hash",
                    "refresh_expires_at",
                    "last_refreshed_at",
                ]
            )
            access, access_expires_at = _issue_access(session, now)
            return TokenPair(
                session, access, access_expires_at, refresh, session.refresh_expires_at
            )
    if replayed is not None:
        raise RefreshRefused(
            "This refresh token was already used; the session has been revoked. Sign in again.",
            code="refresh_token_reused",
        )
    raise RefreshRefused("Unknown refresh token.", code="token_invalid")


def _check_usable(session: ApiSession, now: datetime) -> None:
    if session.revoked_at is not None:
        raise RefreshRefused("This session was revoked. Sign in again.", code="token_revoked")
    if session.refresh_expires_at <= now:
        raise RefreshRefused("This refresh token has expired. Sign in again.", code="token_expired")
    if not session.user.is_active:
        raise RefreshRefused("This account is disabled.", code="user_inactive")
    if not api_session_allowed(user=session.user, opened_with_code=session.second_factor):
        raise RefreshRefused(
            "This session was opened without two-step sign-in. Sign in again.",
            code="otp_required",
        )


def _revoke(session: ApiSession, *, reason: str, now: datetime) -> None:
    session.revoked_at = now
    session.revoked_reason = reason
    session.save(update_fields=["revoked_at", "revoked_reason"])


@transaction.atomic
def api_session_revoke(*, session: ApiSession, reason: str = "signed_out") -> None:
    if session.revoked_at is None:
        _revoke(session, reason=reason, now=timezone.now())


@transaction.atomic
def api_sessions_revoke_for_user(*, user: User, reason: str) -> int:
    """Revoke every API session of a user (deactivation, offboarding). Returns how many."""
    now = timezone.now()
    sessions = ApiSession.objects.filter(user=user, revoked_at__isnull=True)
    return sessions.update(revoked_at=now, revoked_reason=reason)


def access_tokens_purge_expired(*, now: datetime | None = None) -> int:
    """Delete expired access tokens (run periodically). Returns how many were deleted."""
    deleted, _ = AccessToken.objects.filter(expires_at__lte=now or timezone.now()).delete()
    return deleted
