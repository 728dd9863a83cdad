"""The browser session as API credentials, only once the second factor is passed."""

from typing import Any

from rest_framework.authentication import SessionAuthentication
from rest_framework.request import Request

from pbx.accounts import second_factor
from pbx.directory.models import User


class VerifiedSessionAuthentication(SessionAuthentication):
    """DRF's session authentication (CSRF included), refusing a session that skipped a second
    factor the person has, or must have: otherwise the API would be a way around it."""

    def authenticate(self, request: Request) -> tuple[Any, None] | None:
        found = super().authenticate(request)
        if found is None:
            return None
        user = found[0]
        if (
            isinstance(user, User)
            and not second_factor.session_verified(request._request)
            and (
                second_factor.second_factor_required(user)
                or second_factor.second_factor_enrolled(user)
            )
        ):
            return None
        return found
