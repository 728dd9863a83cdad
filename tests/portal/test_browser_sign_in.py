"""Two-step sign-in in a real browser (Chromium): platform staff in the admin, a tenant admin
in the portal. The test reads the key off the enrolment page and computes the codes an
authenticator app would show."""

import time
from base64 import b32decode

import pytest
from django_otp.oath import TOTP

from pbx.accounts import second_factor
from pbx.directory.models import User
from tests.factories import TenantFactory, UserFactory, totp_code, totp_device
from tests.portal.conftest import Browser

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]
PASSWORD = "correct-horse-battery"


def app_code(secret: str, *, steps: int = 0) -> str:
    """What an authenticator app holding `secret` (base32) shows now."""
    totp = TOTP(b32decode(secret))
    totp.time = time.time() + steps * 30
    return f"{totp.token():06d}"


def test_staff_enrol_then_need_the_second_factor_at_each_admin_sign_in(
    site: str, browser: Browser
) -> None:
    staff = UserFactory(tenant=None, role=User.Role.PLATFORM_ADMIN)
    page = browser.page

    page.goto(f"{site}/admin/")
    page.get_by_label("Email").fill(staff.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{site}/admin/login/enrol")
    assert page.locator(".qr svg").count() == 1
    secret = page.get_by_test_id("totp-secret").inner_text()
    browser.shot("admin-enrol")
    page.get_by_label("Code").fill(app_code(secret))
    page.get_by_role("button", name="Turn on").click()
    codes = page.get_by_test_id("recovery-codes").locator("code").all_inner_texts()
    browser.shot("admin-recovery-codes")
    page.get_by_role("link", name="Continue").click()
    page.wait_for_url(f"{site}/admin/")
    assert page.get_by_role("heading", name="Site administration").is_visible()

    page.get_by_role("button", name="Log out").click()
    page.goto(f"{site}/admin/login/")
    page.get_by_label("Email").fill(staff.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{site}/admin/login/code")
    page.goto(f"{site}/admin/directory/user/")  # the password alone opens nothing
    page.wait_for_url(f"{site}/admin/login/?next=/admin/directory/user/")
    page.goto(f"{site}/admin/login/code")
    page.get_by_label("Code").fill(codes[0])  # a recovery code instead of the app
    page.get_by_role("button", name="Verify").click()
    page.wait_for_url(f"{site}/admin/")

    assert len(codes) == 10
    assert second_factor.second_factor_enrolled(staff)
    assert second_factor.recovery_codes_left(staff) == 9


def test_a_tenant_admin_gives_a_code_to_enter_the_portal(site: str, browser: Browser) -> None:
    admin = UserFactory(tenant=TenantFactory(), role=User.Role.TENANT_ADMIN)
    device = totp_device(admin)
    page = browser.page

    page.goto(f"{site}/portal/login/")
    page.get_by_label("E-mail").fill(admin.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{site}/portal/login/code")
    page.get_by_label("Code").fill("000000" if totp_code(device) != "000000" else "111111")
    page.get_by_role("button", name="Verify").click()
    page.get_by_text("That code is not right.").wait_for()
    browser.shot("portal-code-wrong")
    page.get_by_label("Code").fill(totp_code(device))
    page.get_by_role("button", name="Verify").click()
    page.wait_for_url(f"{site}/portal/devices/")
    page.get_by_role("link", name="Security").click()
    page.get_by_text("Two-step sign-in is on").wait_for()
    browser.shot("portal-security")

    assert page.get_by_role("button", name="Turn off").count() == 0  # required for admins
