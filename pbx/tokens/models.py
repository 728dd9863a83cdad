"""An API session is one signed-in app install. It holds the current refresh token
(hashed) and issues access tokens (hashed). Revoking the session kills every token it issued
at once; access tokens stay until they expire so that a client is told `token_revoked`, then
an hourly task purges them.
"""

from django.db import models

from pbx.directory.models import User


class ApiSession(models.Model):
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_sessions")
    client_name = models.CharField(max_length=80, blank=True)
    user_agent = models.CharField(max_length=256, blank=True)
    refresh_hash = models.CharField(max_length=64, unique=True)
    previous_refresh_hash = models.CharField(max_length=64, blank=True, db_index=True)
    refresh_expires_at = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)
    last_refreshed_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_reason = models.CharField(max_length=40, blank=True)
    second_factor = models.BooleanField(
        default=True,
        help_text="Opened with a second-factor code (sessions from before two-step sign-in: no).",
    )

    class Meta:
        ordering = ("-created_at", "-id")

    def __str__(self) -> str:
        return f"API session {self.pk} of {self.user_id}"

    @property
    def is_revoked(self) -> bool:
        return self.revoked_at is not None


class AccessToken(models.Model):
    session = models.ForeignKey(ApiSession, on_delete=models.CASCADE, related_name="access_tokens")
    token_hash = models.CharField(max_length=64, unique=True)
    expires_at = models.DateTimeField(db_index=True)

    def __str__(self) -> str:
        return f"access token of session {self.session_id}"
