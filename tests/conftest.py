from collections.abc import Callable

import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

from pbx.directory.models import Tenant, User
from pbx.tokens.services import api_session_open
from tests.factories import TenantFactory, UserFactory
from tests.fakes.fixtures import fake_apns, fake_fcm  # noqa: F401 - shared fixtures


@pytest.fixture(autouse=True)
def _fresh_cache() -> None:
    """Throttle counters and cached values live in Redis (test database 15): start empty."""
    cache.clear()


@pytest.fixture
def tenant(db: None) -> Tenant:
    return TenantFactory()


@pytest.fixture
def other_tenant(db: None) -> Tenant:
    return TenantFactory()


@pytest.fixture
def member(tenant: Tenant) -> User:
    return UserFactory(tenant=tenant, role=User.Role.MEMBER)


@pytest.fixture
def admin_user(tenant: Tenant) -> User:
    return UserFactory(tenant=tenant, role=User.Role.TENANT_ADMIN)


@pytest.fixture
def client_for(db: None) -> Callable[[User], APIClient]:
    """An API client signed in as `user` with a real bearer access token."""

    def make(user: User) -> APIClient:
        client = APIClient()
        pair = api_session_open(user=user, client_name="pytest")
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {pair.access_token}")
        return client

    return make


@pytest.fixture
def member_api(member: User, client_for: Callable[[User], APIClient]) -> APIClient:
    return client_for(member)


@pytest.fixture
def admin_api(admin_user: User, client_for: Callable[[User], APIClient]) -> APIClient:
    return client_for(admin_user)
