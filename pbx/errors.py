"""Errors raised by services when a business rule refuses a change.

Pure Python: services raise these, the API layer turns them into `{code, detail, fields}`
responses (see pbx.api.errors). `code` is stable and documented; `detail` is for humans.
"""


class DomainError(Exception):
    """A rule refused the change. Rendered as 400 unless a subclass says otherwise."""

    code = "invalid"

    def __init__(self, detail: str, *, code: str | None = None, field: str | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        if code is not None:
            self.code = code
        self.field = field


class Conflict(DomainError):
    """The change clashes with the current state (a limit reached, a revoked object). 409."""

    code = "conflict"


class Unauthenticated(DomainError):
    """The credentials presented cannot be used (expired, revoked, wrong). 401."""

    code = "not_authenticated"


class FieldErrors(DomainError):
    """Several fields are wrong at once: `errors` maps a dotted path to [(code, message)]."""

    def __init__(self, errors: dict[str, list[tuple[str, str]]], *, prefix: str = "") -> None:
        super().__init__("The request has invalid fields.", code="invalid")
        self.errors = {f"{prefix}{path}": items for path, items in errors.items()}


class TooManyAttempts(DomainError):
    """Refused for a while after too many failures; retry in `retry_after` seconds. 429."""

    code = "too_many_attempts"

    def __init__(self, detail: str, *, retry_after: int, code: str | None = None) -> None:
        super().__init__(detail, code=code)
        self.retry_after = retry_after
