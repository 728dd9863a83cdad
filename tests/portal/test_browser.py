"""The portal and the admin in a real browser (Debian's Chromium through Playwright), against
the product served by uvicorn with live updates over Channels."""

import time

import httpx
import pytest
from django.conf import settings
from django.utils import timezone
from playwright.sync_api import expect

from devices import services as device_services
from devices.models import Device, PushBinding, Registration
from devices.push import bindings
from pbx.engine.contract import CONTRACT_VERSION
from pbx.tokens.models import ApiSession
from pbx.tokens.services import api_session_open
from routing.models import RoutingProfile
from tests.factories import (
    CallFactory,
    ExtensionFactory,
    TenantFactory,
    UserFactory,
    totp_code,
    totp_device,
)
from tests.portal.conftest import Browser, log_in
from voicemail import selectors as voicemail_selectors
from voicemail import services as voicemail_services
from voicemail.domain import audio


def wait_until(page, expression: str, timeout: float = 10.0) -> None:  # type: ignore[no-untyped-def]
    """`page.wait_for_function` evals its string in the page, which the portal's CSP refuses
    (no 'unsafe-eval'); `page.evaluate` runs through the DevTools protocol instead."""
    deadline = time.monotonic() + timeout
    while not page.evaluate(expression):
        assert time.monotonic() < deadline, expression
        page.wait_for_timeout(50)


pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]
PASSWORD = "correct-horse-battery"


def person(**fields):
    user = UserFactory(tenant=TenantFactory(), **fields)
    user.set_password(PASSWORD)
    user.save()
    ExtensionFactory(owner=user, number="201")
    desk = device_services.device_create(user=user, kind=Device.Kind.DESK_PHONE, label="Desk phone")
    mobile = device_services.device_create(user=user, kind=Device.Kind.MOBILE_APP, label="Mobile")
    return user, desk.device, mobile.device


def online(*devices: Device) -> None:
    for device in devices:
        Registration.objects.create(
            device=device,
            contact=f"sip:{device.sip_username}@127.0.0.1:5999",
            expires_at=timezone.now() + timezone.timedelta(minutes=10),
        )


def test_build_a_two_stage_plan_by_dragging_then_test_it(site: str, browser: Browser) -> None:
    user, desk, mobile = person()
    online(desk, mobile)
    page = browser.page
    log_in(browser, site, user.email, PASSWORD)
    browser.shot("devices")

    page.get_by_role("link", name="Ring plan").click()
    while page.locator("[data-remove]").count():
        page.locator("[data-remove]").first.click()
    page.get_by_role("button", name="Add a stage").click()
    page.get_by_role("button", name="Add a stage").click()
    page.locator('.stage[data-stage="0"] [data-field="seconds"]').fill("10")
    page.locator('.stage[data-stage="0"] [data-field="seconds"]').dispatch_event("change")
    grab = {"x": 8, "y": 10}  # on the device's name, not on its stage menu
    page.locator(f'[data-device-id="{desk.pk}"]').drag_to(
        page.locator('ul[data-stage="0"]'), source_position=grab
    )
    page.locator(f'[data-device-id="{mobile.pk}"]').drag_to(
        page.locator('ul[data-stage="1"]'), source_position=grab
    )
    assert page.locator(f'ul[data-stage="1"] [data-device-id="{mobile.pk}"]').count() == 1
    page.get_by_role("button", name="Save ring plan").click()
    page.get_by_text("Saved.").wait_for()

    plan = RoutingProfile.objects.get(user=user).document["plans"][0]
    assert [[t["device_id"] for t in stage["targets"]] for stage in plan["stages"]] == [
        [desk.pk],
        [mobile.pk],
    ]
    assert plan["stages"][0]["seconds"] == 10

    page.get_by_role("button", name="Test", exact=True).click()
    trace = page.locator("#sim-result .trace li")
    trace.first.wait_for()
    assert trace.count() >= 2
    rows = page.locator("#sim-result tbody tr")
    assert rows.nth(0).inner_text().startswith("Desk phone\t0 s")
    assert rows.nth(1).inner_text().startswith("Mobile\t10 s")
    browser.shot("ring-plan")


def test_a_device_going_online_flips_its_badge_without_a_reload(
    site: str, browser: Browser
) -> None:
    user, desk, _ = person()
    page = browser.page
    log_in(browser, site, user.email, PASSWORD)
    page.wait_for_selector("body[data-live='1']")
    badge = page.locator(f'[data-device-id="{desk.pk}"] [data-presence]')
    assert badge.inner_text() == "Offline"

    reported = httpx.post(
        f"{site}/internal/engine/events",
        headers={"X-Engine-Token": settings.PBX_ENGINE_TOKEN},
        json={
            "version": CONTRACT_VERSION,
            "events": [
                {
                    "type": "registered",
                    "username": desk.sip_username,
                    "domain": desk.tenant.sip_domain,
                    "contact": f"sip:{desk.sip_username}@127.0.0.1:5998",
                    "expires": "600",
                    "source_address": "127.0.0.1",
                    "source_port": 5998,
                    "transport": "udp",
                    "user_agent": "desk",
                }
            ],
        },
    )

    assert reported.status_code == 200
    selector = f'[data-device-id="{desk.pk}"] [data-presence]'
    expect(page.locator(selector)).to_have_text("Online")
    browser.shot("devices-online")


def test_play_a_voicemail_and_mark_it_heard(site: str, browser: Browser) -> None:
    user, _, _ = person()
    mailbox = voicemail_selectors.mailbox_for_extension(extension=user.extensions.get())
    pcm = audio.tone(1000, 1.5)
    message = voicemail_services.voicemail_deposit(
        mailbox=mailbox,
        call_id="browser-1",
        wav=audio.wav_bytes(pcm),
        duration_ms=audio.duration_ms(pcm),
        caller="202",
        caller_name="Bob Martin",
    ).message
    page = browser.page
    log_in(browser, site, user.email, PASSWORD)

    page.get_by_role("link", name="Voicemail").click()
    page.get_by_text("Bob Martin").wait_for()
    page.evaluate("document.querySelector('audio').play()")
    wait_until(page, "document.querySelector('audio').currentTime > 0.3")
    duration = page.evaluate("document.querySelector('audio').duration")
    browser.shot("voicemail")
    page.get_by_role("button", name="Mark heard").click()
    page.wait_for_selector(".message.unheard", state="detached")

    assert abs(duration - 1.5) < 0.05
    message.refresh_from_db()
    assert message.heard_at is not None


def test_offboard_a_user_in_the_admin_revokes_every_credential(site: str, browser: Browser) -> None:
    staff = UserFactory(tenant=None, role="platform_admin")
    staff.set_password(PASSWORD)
    staff.save()
    authenticator = totp_device(staff)
    user, _, mobile = person()
    bindings.push_binding_register(
        device=mobile, provider="fcm", token="fcm-token-" + "b" * 30, app_id="com.example.phone"
    )
    api_session_open(user=user, client_name="iPhone app")
    page = browser.page

    page.goto(f"{site}/admin/login/")
    page.get_by_label("Email").fill(staff.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.get_by_label("Code").fill(totp_code(authenticator))
    page.get_by_role("button", name="Verify").click()
    page.wait_for_url(f"{site}/admin/")
    page.goto(f"{site}/admin/directory/user/?q={user.email}")
    page.locator(f'input[name="_selected_action"][value="{user.pk}"]').check()
    page.locator('select[name="action"]').select_option("offboard_users")
    page.get_by_role("button", name="Go").click()
    report = page.locator(".messagelist").inner_text()
    browser.shot("admin-offboard")

    assert "devices revoked" in report
    assert "Desk phone, Mobile" in report
    assert "push tokens removed: 1" in report
    assert "API sessions and tokens revoked: 1" in report
    assert not Device.objects.filter(user=user, revoked_at__isnull=True).exists()
    assert not PushBinding.objects.filter(device__user=user).exists()
    assert not ApiSession.objects.filter(user=user, revoked_at__isnull=True).exists()
    user.refresh_from_db()
    assert user.is_active is False


def test_do_not_disturb_from_the_portal_and_pages_fit_a_phone(site: str, browser: Browser) -> None:
    user, _, _ = person()
    page = browser.page
    page.set_viewport_size({"width": 390, "height": 844})
    log_in(browser, site, user.email, PASSWORD)

    for name in ("devices", "ring-plan", "voicemail", "calls"):
        page.goto(f"{site}/portal/{name}/")
        assert page.evaluate("document.documentElement.scrollWidth") <= 390, name
        browser.shot(f"phone-{name}")
    page.goto(f"{site}/portal/ring-plan/")
    page.get_by_role("checkbox", name="Do not disturb").check()
    page.get_by_role("button", name="Save", exact=True).click()
    page.locator("#dnd-status").get_by_text("Saved.").wait_for()

    assert RoutingProfile.objects.get(user=user).dnd is True


def test_an_incoming_call_shows_up_live(site: str, browser: Browser) -> None:
    user, desk, _ = person()
    online(desk)
    page = browser.page
    log_in(browser, site, user.email, PASSWORD)
    page.wait_for_selector("body[data-live='1']")

    decided = httpx.post(
        f"{site}/internal/engine/route-decisions",
        headers={"X-Engine-Token": settings.PBX_ENGINE_TOKEN},
        json={
            "version": CONTRACT_VERSION,
            "call_id": "live-1",
            "domain": user.tenant.sip_domain,
            "called": "201",
            "caller": "+33612345678",
            "caller_name": "Carol",
        },
    )
    ringing = httpx.post(  # what the engine reports once it starts ringing the devices
        f"{site}/internal/engine/events",
        headers={"X-Engine-Token": settings.PBX_ENGINE_TOKEN},
        json={
            "version": CONTRACT_VERSION,
            "events": [{"type": "ringing", "call_id": "live-1", "domain": user.tenant.sip_domain}],
        },
    )

    assert decided.status_code == 200, decided.text
    assert ringing.json()["known_calls"] == 1
    page.locator("#live-status").get_by_text("Incoming call from +33612345678").wait_for()


def test_calls_as_seen_from_a_device_on_a_phone(site: str, browser: Browser) -> None:
    user, desk, mobile = person()
    colleague = UserFactory(tenant=user.tenant)
    ExtensionFactory(owner=colleague, number="202", display_name="Bob Martin")
    now = timezone.now()
    CallFactory(
        callee=user,
        caller="202",
        outcome="answered",
        answered_device=desk,
        started_at=now - timezone.timedelta(minutes=5),
        answered_at=now - timezone.timedelta(minutes=5),
        ended_at=now - timezone.timedelta(minutes=4),
    )
    CallFactory(callee=user, caller="+33612345678", outcome="missed", started_at=now)
    page = browser.page
    page.set_viewport_size({"width": 390, "height": 844})
    log_in(browser, site, user.email, PASSWORD)

    page.get_by_role("link", name="Calls").click()
    outcomes = page.locator("td[data-outcome]").all_inner_texts()
    page.get_by_label("As seen from").select_option(label="Mobile")
    page.get_by_role("button", name="Show").click()
    page.wait_for_url(f"{site}/portal/calls/?device={mobile.pk}")
    seen_from_mobile = page.locator("td[data-outcome]").all_inner_texts()
    browser.shot("calls-seen-from-mobile")

    assert outcomes == ["Missed", "Answered on Desk phone"]
    assert seen_from_mobile == ["Missed", "Answered elsewhere (Desk phone)"]
    assert page.get_by_text("Bob Martin (202)").count() == 1
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
