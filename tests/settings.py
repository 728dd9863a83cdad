"""Settings for the test suite: the product's settings, on a Redis database of its own.

Tests run against the real PostgreSQL (pytest-django creates `test_<name>`) and the real Redis,
on database 15 so that flushing it between tests never touches a developer's data.
"""

import os

os.environ.setdefault("PBX_ENVIRONMENT", "test")
os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/15")
os.environ.setdefault("PBX_TASKS_EAGER", "0")

from pbx.settings import *  # noqa: F403

# Speed only: password hashing is not what the tests measure.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

# Voicemail audio written by tests goes to a throw-away directory.
import tempfile  # noqa: E402

# One directory for the test run and the servers it starts (they inherit the variable).
MEDIA_ROOT = os.environ.setdefault(
    "PBX_TEST_MEDIA_ROOT", tempfile.mkdtemp(prefix="pbx-test-media-")
)
STORAGES["default"]["OPTIONS"] = {"location": MEDIA_ROOT}  # noqa: F405
