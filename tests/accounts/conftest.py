import pytest


@pytest.fixture(autouse=True)
def _small_thresholds(settings) -> None:
    """Thresholds small enough to reach in a test; the defaults are in pbx/settings.py."""
    settings.PBX_LOGIN_ACCOUNT_FAILURES = 3
    settings.PBX_LOGIN_ADDRESS_FAILURES = 4
    settings.PBX_LOGIN_LOCK_SECONDS = 60
    settings.PBX_LOGIN_MAX_LOCK_SECONDS = 600
